//! `cshost criteria run`: run criteria-based selection and show the matching companies.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use cs_host::{Criteria, Filter, Host, Operator};

use cs_host::model::FieldValue;

use super::company::{parse_value, print_companies};

#[derive(Subcommand)]
#[command(defer = true)]
pub enum CriteriaCommand {
    /// Run criteria: the count and the matching companies.
    Run {
        #[command(flatten)]
        criteria: CriteriaArgs,
        /// Show at most this many companies.
        #[arg(long, default_value_t = 20)]
        show: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Criteria on the command line.
#[derive(Args)]
pub struct CriteriaArgs {
    /// The tenant.
    #[arg(long, env = "CSHOST_TENANT")]
    pub tenant: String,
    /// A filter, numbered in the order given: `FIELD OP [VALUE[,VALUE...]] [+nulls]`
    /// (such as `arr GTE 100000` or `region IN EMEA,APAC`), or `plugin:NAME [ARG=VALUE...]`,
    /// where a value in quotes (`note="a, b c"` or `note='a, b c'`) is text, spaces included.
    #[arg(long = "filter", value_name = "FILTER", required = true)]
    pub filters: Vec<String>,
    /// The advanced logic over filter numbers, such as `(1 AND 2) OR NOT 3` [default: all
    /// filters ANDed].
    #[arg(long)]
    pub logic: Option<String>,
}

impl CriteriaArgs {
    /// The library criteria.
    pub fn criteria(&self) -> anyhow::Result<Criteria> {
        let mut filters = Vec::new();
        for (i, text) in self.filters.iter().enumerate() {
            filters.push(parse_filter(text).with_context(|| format!("filter {}", i + 1))?);
        }
        let mut criteria = Criteria::new(filters);
        if let Some(logic) = &self.logic {
            criteria = criteria.logic(logic.clone());
        }
        Ok(criteria)
    }
}

fn parse_filter(text: &str) -> anyhow::Result<Filter> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first) = words.first() else {
        bail!("empty filter");
    };
    if let Some(plugin) = first.strip_prefix("plugin:") {
        return Ok(Filter::plugin(plugin, plugin_arguments(text)?));
    }
    let Some(operator) = words.get(1) else {
        bail!("`{text}`: expected FIELD OP [VALUES]");
    };
    let operator: Operator = operator.parse()?;
    let mut rest: Vec<&str> = words[2..].to_vec();
    let include_nulls = rest.last() == Some(&"+nulls");
    if include_nulls {
        rest.pop();
    }
    let joined = rest.join(" ");
    let values = if joined.is_empty() {
        Vec::new()
    } else if matches!(operator, Operator::In | Operator::Between) {
        joined.split(',').map(parse_value).collect()
    } else {
        vec![parse_value(&joined)]
    };
    let filter = Filter::field(*first, operator, values);
    Ok(if include_nulls {
        filter.include_nulls()
    } else {
        filter
    })
}

/// The `ARG=VALUE` arguments after `plugin:NAME`. A value in double or single quotes is text, kept
/// as written (spaces, commas and all); an unquoted value is read as a number, boolean, date or
/// text, as field values are.
fn plugin_arguments(text: &str) -> anyhow::Result<cs_host::model::Fields> {
    let mut fields = cs_host::model::Fields::new();
    let mut chars = text.trim_start().chars().peekable();
    // Skip `plugin:NAME`.
    while chars.next_if(|c| !c.is_whitespace()).is_some() {}
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(fields);
        }
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if chars.next_if_eq(&'=').is_none() {
            bail!("plugin argument `{name}`: expected ARG=VALUE");
        }
        let value = match chars.peek().copied() {
            Some(quote @ ('"' | '\'')) => {
                chars.next();
                let value: String = std::iter::from_fn(|| chars.next_if(|c| *c != quote)).collect();
                if chars.next().is_none() {
                    bail!("plugin argument `{name}`: the value has no closing {quote}");
                }
                FieldValue::Text(value)
            }
            _ => {
                let value: String =
                    std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect();
                parse_value(&value)
            }
        };
        fields.insert(name, value);
    }
}

pub fn run(
    command: CriteriaCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        CriteriaCommand::Run {
            criteria,
            show,
            json,
        } => {
            let tenant = super::tenant(&host, &criteria.tenant)?;
            let selection = tenant.criteria().run(&criteria.criteria()?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&selection)?);
            } else {
                println!("{} companies match", selection.count);
                let shown = &selection.companies[..selection.companies.len().min(show)];
                print_companies(shown);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_argument_values_can_be_quoted_to_hold_spaces_and_commas() {
        let fields =
            plugin_arguments(r#"plugin:greeting note="Hello, dear partner" tier='gold' min=100"#)
                .unwrap();
        assert_eq!(
            fields.get("note"),
            Some(&FieldValue::Text("Hello, dear partner".into()))
        );
        assert_eq!(fields.get("tier"), Some(&FieldValue::Text("gold".into())));
        assert_eq!(fields.get("min"), Some(&FieldValue::Integer(100)));
        let error = plugin_arguments(r#"plugin:greeting note="unclosed"#).unwrap_err();
        assert!(error.to_string().contains("closing"), "{error}");
        assert!(plugin_arguments("plugin:greeting tier").is_err());
    }
}
