//! `cshost plugin new`: writes a ready plugin project, in Rust or JavaScript, for one extension
//! point: the plugin, its manifest (release profile and target set), a sample input, test cases
//! for `cshost plugin test` and a README with the commands.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::ValueEnum;
use cs_host::ExtensionPoint;

/// The language of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Rust, with the `cs-plugin-sdk` crate, built by cargo for wasm32-wasip2.
    Rust,
    /// JavaScript (or TypeScript), with `@cs-host/plugin-sdk`, built by componentize-js.
    Js,
}

/// One file of a new project: its path in the project and its template.
struct File {
    path: &'static str,
    template: &'static str,
}

/// The files of a project of this kind and language.
fn files(kind: ExtensionPoint, lang: Lang) -> Vec<File> {
    use ExtensionPoint::*;
    let file = |path, template| File { path, template };
    let mut files = match lang {
        Lang::Rust => vec![
            file("Cargo.toml", include_str!("scaffold/rust/Cargo.toml")),
            file(
                ".cargo/config.toml",
                include_str!("scaffold/rust/config.toml"),
            ),
            file(".gitignore", "/target\n"),
            file(
                "src/lib.rs",
                match kind {
                    FieldMapper => include_str!("scaffold/rust/field-mapper.rs"),
                    CriteriaFilter => include_str!("scaffold/rust/criteria-filter.rs"),
                    Notifier => include_str!("scaffold/rust/notifier.rs"),
                    Lifecycle => include_str!("scaffold/rust/lifecycle.rs"),
                },
            ),
        ],
        Lang::Js => vec![
            file("package.json", include_str!("scaffold/js/package.json")),
            file(".npmrc", include_str!("scaffold/js/npmrc")),
            file(".gitignore", "/node_modules\n*.wasm\n"),
            file(
                "src/plugin.js",
                match kind {
                    FieldMapper => include_str!("scaffold/js/field-mapper.js"),
                    CriteriaFilter => include_str!("scaffold/js/criteria-filter.js"),
                    Notifier => include_str!("scaffold/js/notifier.js"),
                    Lifecycle => include_str!("scaffold/js/lifecycle.js"),
                },
            ),
        ],
    };
    let (input, tests) = match kind {
        FieldMapper => (
            include_str!("scaffold/common/field-mapper.input.json"),
            include_str!("scaffold/common/field-mapper.tests.json"),
        ),
        CriteriaFilter => (
            include_str!("scaffold/common/criteria-filter.input.json"),
            include_str!("scaffold/common/criteria-filter.tests.json"),
        ),
        Notifier => (
            include_str!("scaffold/common/notifier.input.json"),
            include_str!("scaffold/common/notifier.tests.json"),
        ),
        Lifecycle => (
            include_str!("scaffold/common/lifecycle.input.json"),
            include_str!("scaffold/common/lifecycle.tests.json"),
        ),
    };
    files.push(file("samples/input.json", input));
    files.push(file("tests.json", tests));
    files.push(file("README.md", include_str!("scaffold/common/README.md")));
    files
}

/// What `plugin new` was asked for.
pub struct NewPlugin {
    /// The plugin's name: lower case letters, digits and `-`.
    pub name: String,
    /// Its extension point.
    pub kind: ExtensionPoint,
    /// Its language.
    pub lang: Lang,
    /// The directory to create; by default `./NAME`.
    pub dir: Option<PathBuf>,
    /// The SDK to build against: the Rust crate's or the JS package's directory.
    pub sdk: Option<PathBuf>,
}

/// The SDK's directory in the cs-host checkout this program was built from, if it is still there.
fn default_sdk(lang: Lang) -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let sdk = match lang {
        Lang::Rust => repo.join("plugins").join("sdk"),
        Lang::Js => repo.join("plugins").join("js"),
    };
    sdk.is_dir().then_some(sdk)
}

/// Writes the project and returns its directory.
pub fn create(request: &NewPlugin) -> anyhow::Result<PathBuf> {
    let name = &request.name;
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        bail!(
            "`{name}` cannot name a plugin: use lower case letters, digits and `-`, starting with \
             a letter (for example `country-regions`)"
        );
    }
    let dir = request.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_some()) {
        bail!(
            "{} exists and is not empty: choose another name or --dir",
            dir.display()
        );
    }
    let sdk = match request.sdk.clone().or_else(|| default_sdk(request.lang)) {
        Some(sdk) => std::path::absolute(&sdk)
            .with_context(|| format!("cannot resolve the SDK path {}", sdk.display()))?,
        None => bail!(
            "where is the SDK? pass --sdk with the path of a cs-host checkout's {}",
            match request.lang {
                Lang::Rust => "plugins/sdk",
                Lang::Js => "plugins/js",
            }
        ),
    };
    let marker = match request.lang {
        Lang::Rust => "Cargo.toml",
        Lang::Js => "package.json",
    };
    if !sdk.join(marker).is_file() {
        bail!(
            "--sdk {}: no {marker} there; give the directory of the {} SDK",
            sdk.display(),
            match request.lang {
                Lang::Rust => "Rust (plugins/sdk)",
                Lang::Js => "JavaScript (plugins/js)",
            }
        );
    }

    let wasm = match request.lang {
        Lang::Rust => format!(
            "target/wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ),
        Lang::Js => format!("{name}.wasm"),
    };
    let build = match request.lang {
        Lang::Rust => "cargo build --release".to_owned(),
        Lang::Js => "npm install && npm run build".to_owned(),
    };
    let enable_extra = match request.kind {
        ExtensionPoint::FieldMapper => " --config 'regions=DE=EMEA,US=North America'",
        _ => "",
    };
    let vars: [(&str, String); 10] = [
        ("name", name.clone()),
        ("type", type_name(name)),
        ("sdk", sdk.display().to_string()),
        ("wasm", wasm),
        ("kind", request.kind.to_string()),
        ("hook", request.kind.hook().to_owned()),
        (
            "lang",
            match request.lang {
                Lang::Rust => "Rust".to_owned(),
                Lang::Js => "JavaScript".to_owned(),
            },
        ),
        (
            "source",
            match request.lang {
                Lang::Rust => "src/lib.rs".to_owned(),
                Lang::Js => "src/plugin.js".to_owned(),
            },
        ),
        ("build", build),
        ("enable_extra", enable_extra.to_owned()),
    ];
    for file in files(request.kind, request.lang) {
        let mut text = file.template.to_owned();
        for (key, value) in &vars {
            text = text.replace(&format!("{{{{{key}}}}}"), value);
        }
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(dir)
}

/// `country-regions` → `CountryRegions`: the plugin's Rust type.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_camel_case() {
        assert_eq!(type_name("country-regions"), "CountryRegions");
        assert_eq!(type_name("x2"), "X2");
    }

    #[test]
    fn every_template_variable_is_filled() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = tempfile::tempdir().unwrap();
        std::fs::write(sdk.path().join("Cargo.toml"), "").unwrap();
        std::fs::write(sdk.path().join("package.json"), "").unwrap();
        for lang in [Lang::Rust, Lang::Js] {
            for kind in ExtensionPoint::ALL {
                let project = dir.path().join(format!("{kind}-{lang:?}"));
                create(&NewPlugin {
                    name: "my-plugin".into(),
                    kind,
                    lang,
                    dir: Some(project.clone()),
                    sdk: Some(sdk.path().to_owned()),
                })
                .unwrap();
                for file in files(kind, lang) {
                    let text = std::fs::read_to_string(project.join(file.path)).unwrap();
                    assert!(!text.contains("{{"), "{}: {text}", file.path);
                }
            }
        }
    }

    #[test]
    fn refuses_a_name_the_host_would_refuse() {
        let error = create(&NewPlugin {
            name: "My Plugin".into(),
            kind: ExtensionPoint::FieldMapper,
            lang: Lang::Rust,
            dir: None,
            sdk: None,
        })
        .unwrap_err();
        assert!(error.to_string().contains("lower case letters"), "{error}");
    }
}
