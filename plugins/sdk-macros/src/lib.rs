//! The `export!` macro of `cs-plugin-sdk`. Use it through `cs_plugin_sdk::export!`.
//!
//! It generates the component bindings for exactly the extension points a plugin implements, so
//! the built component exports those interfaces and no others: the host learns from the exports
//! which extension points a plugin serves.

use proc_macro::{TokenStream, TokenTree};

/// The contract the SDK targets: 0.1.0, or 0.2.0 with the `contract-v0-2` feature.
#[cfg(not(feature = "contract-v0-2"))]
const CONTRACT: &str = "0.1.0";
/// The contract the SDK targets: 0.1.0, or 0.2.0 with the `contract-v0-2` feature.
#[cfg(feature = "contract-v0-2")]
const CONTRACT: &str = "0.2.0";

/// The WIT package of that contract, vendored in this crate so that it builds wherever it is
/// unpacked (a test in the repository keeps it identical to the repository's `wit/`).
#[cfg(not(feature = "contract-v0-2"))]
const WIT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/wit/v0.1.0");
/// The WIT package of that contract (see above).
#[cfg(feature = "contract-v0-2")]
const WIT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/wit/v0.2.0");

/// An extension point: the SDK trait that implements it and its contract interface.
struct Extension {
    trait_name: &'static str,
    interface: &'static str,
    glue: fn(&str) -> String,
}

const EXTENSIONS: &[Extension] = &[
    Extension {
        trait_name: "FieldMapper",
        interface: "field-mapper",
        glue: field_mapper_glue,
    },
    Extension {
        trait_name: "CriteriaFilter",
        interface: "criteria-filter",
        glue: criteria_filter_glue,
    },
    Extension {
        trait_name: "Notifier",
        interface: "notifier",
        glue: notifier_glue,
    },
    Extension {
        trait_name: "Lifecycle",
        interface: "lifecycle",
        glue: lifecycle_glue,
    },
];

/// Exports a plugin: `export!(MyPlugin: FieldMapper)`, or several extension points at once,
/// `export!(MyPlugin: FieldMapper, Lifecycle)`. The type must implement `Plugin` and each named
/// trait.
#[proc_macro]
pub fn export(input: TokenStream) -> TokenStream {
    match parse(input) {
        Ok((plugin, extensions)) => expand(&plugin, &extensions)
            .parse()
            .expect("the expansion is valid Rust"),
        Err(message) => format!("compile_error!({message:?});")
            .parse()
            .expect("a compile_error! call is valid Rust"),
    }
}

/// The SDK's own bindings of the contract's types and host interface. Used once, inside
/// `cs-plugin-sdk`; not for plugins.
#[doc(hidden)]
#[proc_macro]
pub fn __sdk_bindings(_input: TokenStream) -> TokenStream {
    format!(
        r#"::wit_bindgen::generate!({{
            path: {wit_dir:?},
            inline: "package cs:plugin-sdk; world sdk {{ import cs:plugin/host@{CONTRACT}; }}",
            world: "sdk",
            generate_all,
            generate_unused_types: true,
            additional_derives: [PartialEq],
        }});"#,
        wit_dir = wit_dir()
    )
    .parse()
    .expect("the expansion is valid Rust")
}

/// The vendored WIT directory, as an absolute path (`generate!` reads relative paths from the
/// plugin's crate, not from this one).
fn wit_dir() -> String {
    std::fs::canonicalize(WIT_DIR)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| WIT_DIR.to_owned())
}

fn parse(input: TokenStream) -> Result<(String, Vec<&'static Extension>), String> {
    const USAGE: &str = "expected `export!(MyPlugin: FieldMapper)` with one or more of \
                         FieldMapper, CriteriaFilter, Notifier, Lifecycle";
    let mut tokens = input.into_iter();
    let plugin = match tokens.next() {
        Some(TokenTree::Ident(ident)) => ident.to_string(),
        _ => return Err(USAGE.into()),
    };
    match tokens.next() {
        Some(TokenTree::Punct(p)) if p.as_char() == ':' => {}
        _ => return Err(USAGE.into()),
    }
    let mut extensions: Vec<&'static Extension> = Vec::new();
    let mut expect_name = true;
    for token in tokens {
        match token {
            TokenTree::Ident(ident) if expect_name => {
                let name = ident.to_string();
                let extension = EXTENSIONS
                    .iter()
                    .find(|e| e.trait_name == name)
                    .ok_or_else(|| format!("unknown extension point `{name}`: {USAGE}"))?;
                if extensions.iter().any(|e| e.trait_name == name) {
                    return Err(format!("`{name}` is listed twice"));
                }
                extensions.push(extension);
                expect_name = false;
            }
            TokenTree::Punct(p) if p.as_char() == ',' && !expect_name => expect_name = true,
            _ => return Err(USAGE.into()),
        }
    }
    if extensions.is_empty() {
        return Err(USAGE.into());
    }
    Ok((plugin, extensions))
}

fn expand(plugin: &str, extensions: &[&Extension]) -> String {
    let wit_dir = wit_dir();
    let exports: String = extensions
        .iter()
        .map(|e| format!("export cs:plugin/{}@{CONTRACT}; ", e.interface))
        .collect();
    let glue: String = extensions.iter().map(|e| (e.glue)(plugin)).collect();
    format!(
        r#"
#[doc(hidden)]
#[allow(missing_docs, clippy::all, unused)]
mod __cs_plugin_bindings {{
    ::cs_plugin_sdk::__private::wit_bindgen::generate!({{
        path: {wit_dir:?},
        inline: "package cs:plugin-export; world plugin {{ import cs:plugin/host@{CONTRACT}; export cs:plugin/metadata@{CONTRACT}; {exports}}}",
        world: "plugin",
        runtime_path: "::cs_plugin_sdk::__private::wit_bindgen::rt",
        with: {{
            "cs:plugin/types@{CONTRACT}": ::cs_plugin_sdk::__private::bindings::cs::plugin::types,
            "cs:plugin/host@{CONTRACT}": ::cs_plugin_sdk::__private::bindings::cs::plugin::host,
        }},
    }});
}}

#[doc(hidden)]
struct __CsPluginExport;

impl __cs_plugin_bindings::exports::cs::plugin::metadata::Guest for __CsPluginExport {{
    fn describe() -> ::cs_plugin_sdk::PluginInfo {{
        ::cs_plugin_sdk::__private::describe::<{plugin}>()
    }}
}}

{glue}

__cs_plugin_bindings::export!(__CsPluginExport with_types_in __cs_plugin_bindings);
"#
    )
}

#[cfg(not(feature = "contract-v0-2"))]
fn field_mapper_glue(plugin: &str) -> String {
    format!(
        r#"
impl __cs_plugin_bindings::exports::cs::plugin::field_mapper::Guest for __CsPluginExport {{
    fn begin(columns: ::std::vec::Vec<::std::string::String>, fields: ::std::vec::Vec<::std::string::String>) {{
        ::cs_plugin_sdk::__private::begin(::std::option::Option::None, columns, fields)
    }}

    fn map_row(
        row: __cs_plugin_bindings::exports::cs::plugin::field_mapper::Row,
    ) -> __cs_plugin_bindings::exports::cs::plugin::field_mapper::RowOutcome {{
        use __cs_plugin_bindings::exports::cs::plugin::field_mapper as wit;
        match ::cs_plugin_sdk::__private::map_row::<{plugin}>(row.number, row.source, row.text, row.values) {{
            ::cs_plugin_sdk::__private::RowOutcome::Keep(changes) => wit::RowOutcome::Keep(changes),
            ::cs_plugin_sdk::__private::RowOutcome::Skip(reason) => wit::RowOutcome::Skip(reason),
            ::cs_plugin_sdk::__private::RowOutcome::Reject {{ field, message }} => {{
                wit::RowOutcome::Reject(wit::RowError {{ field, message }})
            }}
        }}
    }}
}}
"#
    )
}

#[cfg(feature = "contract-v0-2")]
fn field_mapper_glue(plugin: &str) -> String {
    format!(
        r#"
impl __cs_plugin_bindings::exports::cs::plugin::field_mapper::Guest for __CsPluginExport {{
    fn begin(
        object: ::std::option::Option<__cs_plugin_bindings::exports::cs::plugin::field_mapper::RecordKind>,
        columns: ::std::vec::Vec<::std::string::String>,
        fields: ::std::vec::Vec<::std::string::String>,
    ) {{
        use __cs_plugin_bindings::exports::cs::plugin::field_mapper as wit;
        let object = object.map(|object| match object {{
            wit::RecordKind::Company => "company",
            wit::RecordKind::Partner => "partner",
            wit::RecordKind::Relationship => "relationship",
        }});
        ::cs_plugin_sdk::__private::begin(object, columns, fields)
    }}

    fn map_rows(
        rows: __cs_plugin_bindings::exports::cs::plugin::field_mapper::Rows,
    ) -> __cs_plugin_bindings::exports::cs::plugin::field_mapper::Mapped {{
        use __cs_plugin_bindings::exports::cs::plugin::field_mapper as wit;
        use ::cs_plugin_sdk::__private::RowOutcome;
        let mapped = ::cs_plugin_sdk::__private::map_rows::<{plugin}>(rows.text, rows.numbers, rows.cells, rows.source);
        wit::Mapped {{
            outcomes: mapped
                .outcomes
                .into_iter()
                .map(|outcome| match outcome {{
                    RowOutcome::Keep(()) => wit::RowOutcome::Keep,
                    RowOutcome::Skip(reason) => wit::RowOutcome::Skip(reason),
                    RowOutcome::Reject {{ field, message }} => {{
                        wit::RowOutcome::Reject(wit::RowError {{ field, message }})
                    }}
                }})
                .collect(),
            text: mapped.text,
            changed: mapped
                .changed
                .into_iter()
                .map(|(row, index, value)| wit::CellChange {{ row, index, value }})
                .collect(),
            added: mapped
                .added
                .into_iter()
                .map(|(row, field)| wit::AddedField {{ row, field }})
                .collect(),
        }}
    }}
}}
"#
    )
}

fn criteria_filter_glue(plugin: &str) -> String {
    format!(
        r#"
impl __cs_plugin_bindings::exports::cs::plugin::criteria_filter::Guest for __CsPluginExport {{
    fn matches(
        arguments: ::std::vec::Vec<::cs_plugin_sdk::Field>,
        candidates: ::std::vec::Vec<::cs_plugin_sdk::Company>,
    ) -> ::std::result::Result<::std::vec::Vec<bool>, ::cs_plugin_sdk::PluginError> {{
        ::cs_plugin_sdk::__private::matches::<{plugin}>(arguments, candidates)
    }}
}}
"#
    )
}

fn notifier_glue(plugin: &str) -> String {
    format!(
        r#"
impl __cs_plugin_bindings::exports::cs::plugin::notifier::Guest for __CsPluginExport {{
    fn on_plan_shared(
        event: ::cs_plugin_sdk::ShareEvent,
        planned: ::std::vec::Vec<::cs_plugin_sdk::Notification>,
    ) -> ::std::result::Result<::std::vec::Vec<::cs_plugin_sdk::Notification>, ::cs_plugin_sdk::PluginError> {{
        ::cs_plugin_sdk::__private::on_plan_shared::<{plugin}>(event, planned)
    }}
}}
"#
    )
}

fn lifecycle_glue(plugin: &str) -> String {
    format!(
        r#"
impl __cs_plugin_bindings::exports::cs::plugin::lifecycle::Guest for __CsPluginExport {{
    fn on_partner_created(
        partner: ::cs_plugin_sdk::Partner,
    ) -> ::std::result::Result<::std::vec::Vec<::cs_plugin_sdk::LifecycleAction>, ::cs_plugin_sdk::PluginError> {{
        ::cs_plugin_sdk::__private::on_partner_created::<{plugin}>(partner)
    }}
}}
"#
    )
}
