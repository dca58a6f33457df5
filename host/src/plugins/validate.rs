//! Install-time checks on a component's imports and exports, before anything is compiled.

use wasmparser::{Encoding, Parser, Payload};

use super::ExtensionPoint;
use super::error::PluginErrorKind;

/// The contract versions this host serves, newest first.
pub(crate) const SUPPORTED_VERSIONS: &[&str] = &["0.2.0", "0.1.0"];

/// The WASI 0.2 interfaces a plugin may import. The host serves them deny-by-default: nothing
/// preopened, no environment, no arguments; stdout and stderr go to the plugin's log. Guest
/// toolchains import these even when the plugin never uses them.
const ALLOWED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stderr",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stderr",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/preopens",
    "wasi:filesystem/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:random/random",
];

/// The interfaces of the contract a plugin may import.
const ALLOWED_CONTRACT_IMPORTS: &[&str] = &["cs:plugin/host", "cs:plugin/types"];

/// What a component imports and exports, as read from its top-level sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    /// The contract version the component speaks, such as `0.1.0`.
    pub version: &'static str,
    /// The extension points it exports.
    pub extension_points: Vec<ExtensionPoint>,
    /// Every top-level import, by name.
    pub imports: Vec<String>,
    /// The bytes of linear memory the component's core modules declare before any of their
    /// code runs (the sum of their memories' initial sizes): a floor on what an instance
    /// needs.
    pub static_memory: u64,
}

/// Reads a component's imports and exports and checks them against what the host serves.
///
/// Refuses a core module or other bytes, any import outside the contract and the allowed WASI
/// interfaces, and a component without the metadata export or without an extension point.
pub(crate) fn check(bytes: &[u8]) -> Result<Shape, PluginErrorKind> {
    let (imports, exports, static_memory) = read_names(bytes)?;
    let mut shape = check_names(imports, &exports)?;
    shape.static_memory = static_memory;
    Ok(shape)
}

/// The names of a component's top-level imports and exports, and the initial size of the
/// memories its modules declare.
fn read_names(bytes: &[u8]) -> Result<(Vec<String>, Vec<String>, u64), PluginErrorKind> {
    let incompatible = |reason: String| PluginErrorKind::IncompatibleComponent { reason };
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut static_memory = 0u64;
    // Nested modules and components have imports and exports of their own; only the outermost
    // ones are the component's.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| incompatible(format!("not valid WebAssembly: {e}")))?;
        match payload {
            Payload::Version {
                encoding: Encoding::Module,
                ..
            } if depth == 0 => {
                return Err(incompatible(
                    "this is a core WebAssembly module, not a component; build the plugin for \
                     the `wasm32-wasip2` target, which produces a component"
                        .into(),
                ));
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) if depth > 0 => depth -= 1,
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    let import = import.map_err(|e| incompatible(format!("bad import: {e}")))?;
                    imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    let export = export.map_err(|e| incompatible(format!("bad export: {e}")))?;
                    exports.push(export.name.name.to_owned());
                }
            }
            Payload::MemorySection(section) => {
                for memory in section {
                    let memory = memory.map_err(|e| incompatible(format!("bad memory: {e}")))?;
                    let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                    static_memory =
                        static_memory.saturating_add(memory.initial.saturating_mul(page));
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports, static_memory))
}

/// Checks import and export names against what the host serves.
fn check_names(imports: Vec<String>, exports: &[String]) -> Result<Shape, PluginErrorKind> {
    for import in &imports {
        let (interface, version) = split_version(import);
        let allowed = if ALLOWED_CONTRACT_IMPORTS.contains(&interface) {
            if !SUPPORTED_VERSIONS.contains(&version) {
                return Err(PluginErrorKind::IncompatibleComponent {
                    reason: format!(
                        "it imports `{import}`, but this host serves cs:plugin@{}",
                        SUPPORTED_VERSIONS.join(", cs:plugin@")
                    ),
                });
            }
            true
        } else {
            ALLOWED_WASI.contains(&interface) && version.starts_with("0.2.")
        };
        if !allowed {
            return Err(PluginErrorKind::ForbiddenImport {
                import: import.clone(),
            });
        }
    }

    let version = contract_version(exports)?;
    let extension_points: Vec<ExtensionPoint> = ExtensionPoint::ALL
        .into_iter()
        .filter(|point| {
            let name = format!("cs:plugin/{}@{version}", point.interface());
            exports.contains(&name)
        })
        .collect();
    if extension_points.is_empty() {
        let expected: Vec<String> = ExtensionPoint::ALL
            .iter()
            .map(|point| format!("cs:plugin/{}@{version}", point.interface()))
            .collect();
        return Err(PluginErrorKind::IncompatibleComponent {
            reason: format!(
                "it exports no extension point: expected at least one of {}",
                expected.join(", ")
            ),
        });
    }
    Ok(Shape {
        version,
        extension_points,
        imports,
        static_memory: 0,
    })
}

/// The contract version of the component's metadata export.
fn contract_version(exports: &[String]) -> Result<&'static str, PluginErrorKind> {
    let metadata = exports
        .iter()
        .find(|name| split_version(name).0 == "cs:plugin/metadata");
    let Some(metadata) = metadata else {
        return Err(PluginErrorKind::IncompatibleComponent {
            reason: format!(
                "it does not export `cs:plugin/metadata@{}`, which every plugin must: in Rust, \
                 call `cs_plugin_sdk::export!(MyPlugin: FieldMapper)` once in the crate (naming \
                 the extension points it implements); in JavaScript, export `metadata` \
                 (`export const metadata = defineMetadata({{..}})`)",
                SUPPORTED_VERSIONS.join("` or `cs:plugin/metadata@")
            ),
        });
    };
    let version = split_version(metadata).1;
    SUPPORTED_VERSIONS
        .iter()
        .find(|supported| **supported == version)
        .copied()
        .ok_or_else(|| PluginErrorKind::IncompatibleComponent {
            reason: format!(
                "it exports `{metadata}`, but this host serves cs:plugin@{}",
                SUPPORTED_VERSIONS.join(", cs:plugin@")
            ),
        })
}

/// Splits `wasi:io/streams@0.2.3` into `wasi:io/streams` and `0.2.3`.
fn split_version(name: &str) -> (&str, &str) {
    name.split_once('@').unwrap_or((name, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bytes_that_are_not_webassembly() {
        let err = check(b"{\"not\": \"wasm\"}").unwrap_err();
        assert!(matches!(err, PluginErrorKind::IncompatibleComponent { .. }));
        assert!(err.to_string().contains("not valid WebAssembly"), "{err}");
    }

    #[test]
    fn a_component_without_metadata_is_told_to_call_export() {
        let err = check_names(Vec::new(), &[]).unwrap_err();
        assert!(err.to_string().contains("cs_plugin_sdk::export!"), "{err}");
    }

    #[test]
    fn refuses_a_core_module_and_says_how_to_build_a_component() {
        // The smallest core module: magic number and version 1.
        let err = check(b"\0asm\x01\0\0\0").unwrap_err();
        assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn accepts_the_contract_and_deny_by_default_wasi() {
        let shape = check_names(
            names(&[
                "cs:plugin/types@0.1.0",
                "cs:plugin/host@0.1.0",
                "wasi:cli/stdout@0.2.6",
            ]),
            &names(&["cs:plugin/metadata@0.1.0", "cs:plugin/notifier@0.1.0"]),
        )
        .unwrap();
        assert_eq!(shape.version, "0.1.0");
        assert_eq!(shape.extension_points, vec![ExtensionPoint::Notifier]);
    }

    #[test]
    fn refuses_sockets_http_and_unknown_imports_by_name() {
        let exports = names(&["cs:plugin/metadata@0.1.0", "cs:plugin/lifecycle@0.1.0"]);
        for import in [
            "wasi:sockets/tcp@0.2.0",
            "wasi:http/outgoing-handler@0.2.0",
            "acme:db/query",
        ] {
            let err = check_names(names(&[import]), &exports).unwrap_err();
            assert_eq!(
                err,
                PluginErrorKind::ForbiddenImport {
                    import: import.into()
                }
            );
        }
    }

    #[test]
    fn refuses_wasi_of_another_major_version() {
        let exports = names(&["cs:plugin/metadata@0.1.0", "cs:plugin/lifecycle@0.1.0"]);
        let err = check_names(names(&["wasi:cli/stdout@0.3.0"]), &exports).unwrap_err();
        assert!(matches!(err, PluginErrorKind::ForbiddenImport { .. }));
    }

    #[test]
    fn refuses_a_contract_version_the_host_does_not_serve() {
        let err = check_names(
            vec![],
            &names(&["cs:plugin/metadata@0.9.0", "cs:plugin/lifecycle@0.9.0"]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("cs:plugin/metadata@0.9.0"),
            "{err}"
        );
        let err = check_names(names(&["cs:plugin/host@0.9.0"]), &[]).unwrap_err();
        assert!(err.to_string().contains("cs:plugin/host@0.9.0"), "{err}");
    }

    #[test]
    fn refuses_a_component_without_metadata_or_extension_point() {
        let err = check_names(vec![], &names(&["cs:plugin/notifier@0.1.0"])).unwrap_err();
        assert!(
            err.to_string().contains("cs:plugin/metadata@0.1.0"),
            "{err}"
        );
        let err = check_names(vec![], &names(&["cs:plugin/metadata@0.1.0"])).unwrap_err();
        assert!(err.to_string().contains("no extension point"), "{err}");
    }

    #[test]
    fn splits_versions_off_interface_names() {
        assert_eq!(
            split_version("wasi:io/streams@0.2.3"),
            ("wasi:io/streams", "0.2.3")
        );
        assert_eq!(split_version("run"), ("run", ""));
    }
}
