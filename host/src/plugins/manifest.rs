//! What the host knows about a plugin: what it says about itself and what its component shows.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::inert::inert;

/// A place in the host's lifecycle where plugins run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ExtensionPoint {
    /// The *CSV row mapped* hook: transform, skip or reject import rows.
    FieldMapper,
    /// A custom filter in criteria-based selection.
    CriteriaFilter,
    /// The *plan shared* hook: decide the notifications of a share.
    Notifier,
    /// The *partner created* hook: react to a new partner.
    Lifecycle,
}

impl ExtensionPoint {
    /// Every extension point, in contract order.
    pub const ALL: [ExtensionPoint; 4] = [
        ExtensionPoint::FieldMapper,
        ExtensionPoint::CriteriaFilter,
        ExtensionPoint::Notifier,
        ExtensionPoint::Lifecycle,
    ];

    /// The name of the contract interface that implements it, such as `field-mapper`.
    pub fn interface(self) -> &'static str {
        match self {
            ExtensionPoint::FieldMapper => "field-mapper",
            ExtensionPoint::CriteriaFilter => "criteria-filter",
            ExtensionPoint::Notifier => "notifier",
            ExtensionPoint::Lifecycle => "lifecycle",
        }
    }

    /// The name of the hook it serves, as the CLI spells it, such as `csv-row-mapped`.
    pub fn hook(self) -> &'static str {
        match self {
            ExtensionPoint::FieldMapper => "csv-row-mapped",
            ExtensionPoint::CriteriaFilter => "criteria",
            ExtensionPoint::Notifier => "plan-shared",
            ExtensionPoint::Lifecycle => "partner-created",
        }
    }
}

impl fmt::Display for ExtensionPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.interface())
    }
}

/// The text names no extension point or hook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hook `{0}`: expected csv-row-mapped, criteria, plan-shared or partner-created \
     (or field-mapper, criteria-filter, notifier, lifecycle)"
)]
pub struct UnknownExtensionPoint(pub String);

impl FromStr for ExtensionPoint {
    type Err = UnknownExtensionPoint;

    /// Accepts the interface name (`field-mapper`) or the hook name (`csv-row-mapped`).
    fn from_str(s: &str) -> Result<ExtensionPoint, UnknownExtensionPoint> {
        ExtensionPoint::ALL
            .into_iter()
            .find(|point| point.interface() == s || point.hook() == s)
            .ok_or_else(|| UnknownExtensionPoint(s.to_owned()))
    }
}

/// A host capability a plugin may request and an admin may grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Look up the tenant's company records by id or by name.
    ReadCompanies,
}

impl Capability {
    /// The capability's name as the contract spells it.
    pub fn name(self) -> &'static str {
        match self {
            Capability::ReadCompanies => "read-companies",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text names no capability.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{0}`: expected read-companies")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Capability, UnknownCapability> {
        match s {
            "read-companies" => Ok(Capability::ReadCompanies),
            _ => Err(UnknownCapability(s.to_owned())),
        }
    }
}

/// A configuration key a plugin reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ConfigKey {
    /// The key.
    pub name: String,
    /// What it means.
    pub description: String,
    /// The value used when the admin sets none.
    pub default_value: Option<String>,
    /// Whether the admin must set it.
    pub required: bool,
}

/// Everything the host knows about an installed plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Manifest {
    /// The plugin's name, such as `normalize-partner`.
    pub name: String,
    /// Its version, such as `1.0.0`.
    pub version: String,
    /// What it does.
    pub description: String,
    /// The contract version it speaks, such as `0.1.0`.
    pub contract: String,
    /// The extension points it implements, read from its exports.
    pub extension_points: Vec<ExtensionPoint>,
    /// The capabilities it requests.
    pub capabilities: Vec<Capability>,
    /// The configuration keys it reads.
    pub config: Vec<ConfigKey>,
    /// The fields it reads (`*` for all).
    pub reads: Vec<String>,
    /// Whether a field mapper reads the source columns.
    pub reads_source: bool,
    /// The interfaces its component imports.
    pub imports: Vec<String>,
    /// The size of the component in bytes.
    pub size: usize,
    /// The SHA-256 of the component, in hex: the plugin's identity in the registry.
    pub hash: String,
}

impl Manifest {
    /// Whether the plugin implements the extension point.
    pub fn implements(&self, point: ExtensionPoint) -> bool {
        self.extension_points.contains(&point)
    }

    /// Whether the plugin reads the field, by its declaration in `reads`.
    pub fn reads_field(&self, field: &str) -> bool {
        self.reads.iter().any(|read| read == "*" || read == field)
    }

    /// The declared configuration key of that name.
    pub fn config_key(&self, name: &str) -> Option<&ConfigKey> {
        self.config.iter().find(|key| key.name == name)
    }

    /// Checks a configuration against the keys the plugin declares, as enabling it does:
    /// refuses an undeclared key (naming the near match when there is one) and a missing
    /// required key, with [`ErrorKind::PluginConfig`](crate::ErrorKind::PluginConfig).
    pub fn check_config(&self, config: &BTreeMap<String, String>) -> crate::Result<()> {
        let problem = |key: &str, problem: String| {
            Err(crate::Error::new(crate::ErrorKind::PluginConfig {
                plugin: self.name.clone(),
                key: key.to_owned(),
                problem,
            }))
        };
        for key in config.keys() {
            if self.config_key(key).is_none() {
                let declared: Vec<&str> = self.config.iter().map(|k| k.name.as_str()).collect();
                let near = crate::names::nearest(key, declared.iter().copied())
                    .map(|near| format!("did you mean `{near}`? "))
                    .unwrap_or_default();
                let declared = if declared.is_empty() {
                    "it declares none".to_owned()
                } else {
                    format!("it declares {}", declared.join(", "))
                };
                return problem(key, format!("unknown key ({near}{declared})"));
            }
        }
        for key in &self.config {
            if key.required && !config.contains_key(&key.name) {
                return problem(
                    &key.name,
                    format!("required ({}), but not set", key.description),
                );
            }
        }
        Ok(())
    }

    /// Where a plugin's description now disagrees with this manifest, recorded at install: the
    /// first difference in what the host enforces (name, version, extension points,
    /// capabilities, configuration keys, the fields and source it reads), or `None`.
    pub(crate) fn disagreement(&self, now: &Manifest) -> Option<String> {
        fn differ<T: PartialEq + fmt::Debug>(what: &str, was: &T, is: &T) -> Option<String> {
            (was != is).then(|| format!("{what} was {was:?} at install, {is:?} now"))
        }
        let keys = |m: &Manifest| -> Vec<(String, Option<String>, bool)> {
            m.config
                .iter()
                .map(|k| (k.name.clone(), k.default_value.clone(), k.required))
                .collect()
        };
        differ("its name", &self.name, &now.name)
            .or_else(|| differ("its version", &self.version, &now.version))
            .or_else(|| {
                differ(
                    "its extension points",
                    &self.extension_points,
                    &now.extension_points,
                )
            })
            .or_else(|| differ("its capabilities", &self.capabilities, &now.capabilities))
            .or_else(|| differ("its configuration keys", &keys(self), &keys(now)))
            .or_else(|| differ("the fields it reads", &self.reads, &now.reads))
            .or_else(|| {
                differ(
                    "whether it reads the source columns",
                    &self.reads_source,
                    &now.reads_source,
                )
            })
    }
}

/// Checks what a plugin said about itself, returning the first problem found.
pub(crate) fn check_description(manifest: &Manifest) -> Result<(), String> {
    let name_ok = !manifest.name.is_empty()
        && manifest.name.len() <= 64
        && manifest
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !manifest.name.starts_with('-');
    if !name_ok {
        return Err(format!(
            "its name `{}` is not 1 to 64 lower case letters, digits and `-`",
            inert(&manifest.name)
        ));
    }
    if !is_semver(&manifest.version) {
        return Err(format!(
            "its version `{}` is not a semantic version such as 1.0.0 or 1.0.0-beta.2 \
             (digits, letters, `-` and `.` only)",
            inert(&manifest.version)
        ));
    }
    // What a plugin says about itself is printed by `plugin list` and `inspect`: no control
    // characters (escape sequences, carriage returns) anywhere in it.
    let texts = [("description", manifest.description.as_str())]
        .into_iter()
        .chain(manifest.config.iter().flat_map(|key| {
            [
                ("configuration key", key.name.as_str()),
                ("configuration key description", key.description.as_str()),
                (
                    "configuration default",
                    key.default_value.as_deref().unwrap_or(""),
                ),
            ]
        }))
        .chain(manifest.reads.iter().map(|field| ("field", field.as_str())));
    for (what, text) in texts {
        if text.chars().any(char::is_control) {
            return Err(format!(
                "its {what} `{}` holds control characters",
                inert(text)
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for key in &manifest.config {
        if key.name.is_empty() {
            return Err("it declares a configuration key with an empty name".into());
        }
        if !seen.insert(key.name.as_str()) {
            return Err(format!(
                "it declares the configuration key `{}` twice",
                key.name
            ));
        }
        if key.required && key.default_value.is_some() {
            return Err(format!(
                "its configuration key `{}` is required but has a default",
                key.name
            ));
        }
    }
    Ok(())
}

/// Whether `version` is a strict semantic version (semver.org 2.0.0): `MAJOR.MINOR.PATCH`
/// without leading zeros, then an optional `-pre.release` and `+build`, whose dot-separated
/// identifiers hold ASCII letters, digits and `-` only. So a version never carries a path, a
/// space or a shell character into a file name or a printed command.
pub(crate) fn is_semver(version: &str) -> bool {
    fn numeric(part: &str) -> bool {
        !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'))
    }
    fn identifiers(text: &str, prerelease: bool) -> bool {
        text.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (!prerelease || !id.bytes().all(|b| b.is_ascii_digit()) || numeric(id))
        })
    }
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    version.len() <= 64
        && parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|pre| identifiers(pre, true))
        && build.is_none_or(|build| identifiers(build, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, version: &str) -> Manifest {
        Manifest {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            contract: "0.1.0".into(),
            extension_points: vec![ExtensionPoint::FieldMapper],
            capabilities: vec![],
            config: vec![],
            reads: vec!["*".into()],
            reads_source: false,
            imports: vec![],
            size: 0,
            hash: String::new(),
        }
    }

    #[test]
    fn hooks_parse_by_interface_or_hook_name() {
        assert_eq!("csv-row-mapped".parse(), Ok(ExtensionPoint::FieldMapper));
        assert_eq!("notifier".parse(), Ok(ExtensionPoint::Notifier));
        assert!("on-save".parse::<ExtensionPoint>().is_err());
    }

    #[test]
    fn descriptions_with_bad_names_or_versions_are_refused() {
        assert!(check_description(&manifest("normalize-partner", "1.0.0")).is_ok());
        assert!(check_description(&manifest("Normalize", "1.0.0")).is_err());
        assert!(check_description(&manifest("ok", "1.0")).is_err());
        assert!(check_description(&manifest("ok", "1.0.0-beta.1")).is_ok());
    }

    #[test]
    fn versions_with_paths_or_shell_characters_are_refused() {
        for good in ["0.1.0", "1.0.0-beta.2", "1.0.0-rc-1+build.5", "10.20.30"] {
            assert!(is_semver(good), "{good}");
        }
        for bad in [
            "1.0.0-x/../../etc",
            "1.0.0-a; touch X; #",
            "1.0.0-$(id)",
            "01.0.0",
            "1.0.0-01",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "1.0.0-\u{1b}[2J",
            "1.0",
        ] {
            assert!(!is_semver(bad), "{bad}");
            assert!(check_description(&manifest("ok", bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn descriptions_with_control_characters_are_refused() {
        let mut m = manifest("ok", "1.0.0");
        m.description = "fine\u{1b}]0;owned\u{7}".into();
        let error = check_description(&m).unwrap_err();
        assert!(error.contains("\\u{1b}"), "{error}");
    }

    #[test]
    fn reads_star_means_every_field() {
        let m = manifest("x", "1.0.0");
        assert!(m.reads_field("anything"));
    }
}
