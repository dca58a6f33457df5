//! `cshost partner`: onboard partners by CSV, form, criteria or tagging; list them; write a
//! sample CSV.

use std::process::ExitCode;

use clap::Subcommand;
use cs_host::{HookReport, Host, ImportOptions, ImportTarget, NewCompany};

use super::company::{ImportArgs, parse_fields, parse_scope};
use super::criteria::CriteriaArgs;

#[derive(Subcommand)]
#[command(defer = true)]
pub enum PartnerCommand {
    /// Import partners from a CSV file.
    Import {
        #[command(flatten)]
        args: ImportArgs,
        /// The partners' access scope: company, relationship or both (asked only when the
        /// tenant works at both levels).
        #[arg(long)]
        scope: Option<String>,
    },
    /// Add one partner (Name mandatory; Managed As is Partner).
    Add {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The partner's name.
        name: String,
        /// A field, as `field=value` (repeatable).
        #[arg(long = "field", value_name = "FIELD=VALUE")]
        fields: Vec<String>,
        /// company, relationship or both.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Tag existing companies as partners, by id.
    Tag {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Company ids.
        #[arg(required = true)]
        ids: Vec<i64>,
        /// company, relationship or both.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Make a partner a customer again (refused while it manages records or has users).
    Untag {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The partner's id.
        id: i64,
    },
    /// Change a partner's access scope: company, relationship or both.
    Scope {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The partner's id.
        id: i64,
        /// company, relationship or both (asked only when the tenant works at both levels).
        scope: Option<String>,
    },
    /// Tag the companies that criteria select as partners.
    TagCriteria {
        #[command(flatten)]
        criteria: CriteriaArgs,
        /// company, relationship or both.
        #[arg(long)]
        scope: Option<String>,
    },
    /// List the partners.
    List {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A partner's portfolio: the customers and relationships it manages.
    Portfolio {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The partner's id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a sample partners CSV for the tenant's fields.
    SampleCsv {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
    },
}

fn print_tagged(tagged: &[(i64, HookReport)]) {
    println!("tagged {} companies as partners", tagged.len());
    print_reports(tagged);
}

/// An access scope as the command line spells it.
fn scope_name(scope: cs_host::model::AccessScope) -> &'static str {
    match scope {
        cs_host::model::AccessScope::CompanyRecords => "company",
        cs_host::model::AccessScope::RelationshipRecords => "relationship",
        cs_host::model::AccessScope::Both => "both",
    }
}

fn print_reports(reports: &[(i64, HookReport)]) {
    for (id, report) in reports {
        for line in &report.warnings {
            eprintln!("warning: {}", cs_host::inert(line));
        }
        for line in &report.applied {
            println!("  partner {id}: {}", cs_host::inert(line));
        }
        for line in &report.refused {
            println!("  partner {id}: refused {}", cs_host::inert(line));
        }
    }
}

pub fn run(
    command: PartnerCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    let scope = |s: &Option<String>| s.as_deref().map(parse_scope).transpose();
    match command {
        PartnerCommand::Import { args, scope: s } => {
            let tenant = super::tenant(&host, &args.tenant)?;
            let options = args.options(ImportOptions::partners(scope(&s)?))?;
            return args.run(&tenant, options);
        }
        PartnerCommand::Add {
            tenant,
            name,
            fields,
            scope: s,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            let mut company = NewCompany::new(name);
            company.fields = parse_fields(&fields)?;
            let (id, report) = tenant.partners().add(company, scope(&s)?)?;
            println!("added partner {id}");
            print_reports(&[(id, report)]);
        }
        PartnerCommand::Tag {
            tenant,
            ids,
            scope: s,
        } => {
            let tagged = super::tenant(&host, &tenant)?
                .partners()
                .tag(&ids, scope(&s)?)?;
            print_tagged(&tagged);
        }
        PartnerCommand::TagCriteria { criteria, scope: s } => {
            let tenant = super::tenant(&host, &criteria.tenant)?;
            let tagged = tenant
                .partners()
                .tag_by_criteria(&criteria.criteria()?, scope(&s)?)?;
            print_tagged(&tagged);
        }
        PartnerCommand::List { tenant, json } => {
            let partners = super::tenant(&host, &tenant)?.partners().list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&partners)?);
            } else {
                println!("{:<8} {:<14} NAME", "ID", "SCOPE");
                for p in partners {
                    let scope = scope_name(p.scope);
                    let name = cs_host::inert(&p.company.name);
                    println!("{:<8} {:<14} {}", p.company.id, scope, name);
                }
            }
        }
        PartnerCommand::Portfolio { tenant, id, json } => {
            let portfolio = super::tenant(&host, &tenant)?.partners().portfolio(id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&portfolio)?);
            } else {
                println!(
                    "partner {id} {} ({} access): {} customer(s), {} relationship(s)",
                    cs_host::inert(&portfolio.partner.company.name),
                    scope_name(portfolio.partner.scope),
                    portfolio.customers.len(),
                    portfolio.relationships.len()
                );
                for c in &portfolio.customers {
                    println!("  company      {:<8} {}", c.id, cs_host::inert(&c.name));
                }
                for r in &portfolio.relationships {
                    println!(
                        "  relationship {:<8} {} (company {})",
                        r.id,
                        cs_host::inert(&r.name),
                        r.company_id
                    );
                }
            }
        }
        PartnerCommand::Untag { tenant, id } => {
            super::tenant(&host, &tenant)?.partners().untag(id)?;
            println!("company {id} is a customer again");
        }
        PartnerCommand::Scope {
            tenant,
            id,
            scope: s,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            tenant.partners().set_scope(id, scope(&s)?)?;
            let now = tenant
                .partners()
                .list()?
                .into_iter()
                .find(|p| p.company.id == id.to_string())
                .map(|p| p.scope)
                .unwrap_or_default();
            println!("partner {id} has {} access", scope_name(now));
        }
        PartnerCommand::SampleCsv { tenant } => {
            print!(
                "{}",
                super::tenant(&host, &tenant)?
                    .imports()
                    .sample_csv(ImportTarget::Partners)?
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
