//! `cshost criteria run`: run criteria-based selection and show the matching companies.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use cs_host::{Criteria, Filter, Host, Operator};

use super::company::{parse_fields, parse_value, print_companies};

#[derive(Subcommand)]
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
    /// (such as `arr GTE 100000` or `region IN EMEA,APAC`), or `plugin:NAME [ARG=VALUE...]`.
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
        let arguments: Vec<String> = words[1..].iter().map(|w| (*w).to_owned()).collect();
        return Ok(Filter::plugin(plugin, parse_fields(&arguments)?));
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
            let tenant = host.tenant(&criteria.tenant)?;
            let selection = tenant.run_criteria(&criteria.criteria()?)?;
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
