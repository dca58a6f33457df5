//! `cshost relationship-type` and `cshost relationship`: the admin's relationship types with
//! their fields, and the relationships of companies (add, edit, delete, list, search, Managed
//! By).

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use cs_host::{
    CompanyKey, FieldType, Host, ImportOptions, ImportTarget, NewRelationship, Relationship,
    RelationshipEdit, Tenant, inert,
};

use super::company::{ImportArgs, parse_fields};
use super::plan::Actor;

#[derive(Subcommand)]
#[command(defer = true)]
pub enum RelationshipTypeCommand {
    /// Add a relationship type (a template with its own fields); prints its id.
    Add {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The type's name, such as `SaaS subscription`.
        name: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Define (or change) a field of a relationship type.
    Field {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The type, by id or name.
        #[arg(long = "type")]
        type_key: String,
        /// The field's name (lower-case letters, digits, `_`).
        name: String,
        /// text, number, boolean or date.
        field_type: FieldType,
        /// Every relationship of the type must have a value.
        #[arg(long)]
        required: bool,
        #[command(flatten)]
        actor: Actor,
    },
    /// Rename a relationship type.
    Rename {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The type, by id or name.
        type_key: String,
        /// Its new name.
        name: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Delete a relationship type that no relationship has.
    Delete {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The type, by id or name.
        type_key: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// List the relationship types with their fields.
    List {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum RelationshipCommand {
    /// Add a relationship to a company (Name and type mandatory); prints its id.
    Add {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The company, by id or name.
        #[arg(long)]
        company: String,
        /// The relationship type, by id or name.
        #[arg(long = "type")]
        type_key: String,
        /// The relationship's name.
        name: String,
        /// A field, as `field=value` (repeatable).
        #[arg(long = "field", value_name = "FIELD=VALUE")]
        fields: Vec<String>,
        /// The id of the partner that manages it.
        #[arg(long)]
        managed_by: Option<i64>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Import relationships from a CSV file. Name, Company (by name or external id) and Type
    /// (by name or id) are mandatory; Managed By names a partner. A row updates the
    /// relationship with its external id, or else the one of the same company and type with
    /// its name; the type's own fields are checked against that type.
    Import(ImportArgs),
    /// Print a sample CSV for the tenant's relationship types: a header that maps itself, and
    /// a row of the first type and one of the last.
    SampleCsv {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
    },
    /// Change a relationship's name or fields (`field=` clears a field).
    Edit {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The relationship's id.
        id: i64,
        /// Its new name.
        #[arg(long)]
        name: Option<String>,
        /// A field, as `field=value` (repeatable; an empty value clears it).
        #[arg(long = "field", value_name = "FIELD=VALUE")]
        fields: Vec<String>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Delete a relationship (refused while plans or CTAs are on it).
    Delete {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The relationship's id.
        id: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Show one relationship with its fields.
    Show {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The relationship's id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List relationships: all, a company's, a partner's, or those whose name contains a text.
    List {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Only this company's (by id or name).
        #[arg(long, conflicts_with_all = ["managed_by", "search"])]
        company: Option<String>,
        /// Only those this partner (id) manages.
        #[arg(long, conflicts_with = "search")]
        managed_by: Option<i64>,
        /// Only those whose name contains this text.
        #[arg(long)]
        search: Option<String>,
        /// At most this many (with --search).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set or clear the partner that manages a relationship.
    ManagedBy {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The relationship's id.
        id: i64,
        /// The partner's id.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        partner: Option<i64>,
        /// Clear Managed By.
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        actor: Actor,
    },
}

/// The company `key` names: an id, or else a name (ignoring case).
pub fn company_id(tenant: &Tenant<'_>, key: &str) -> anyhow::Result<i64> {
    let key = key.trim();
    if let Ok(id) = key.parse::<i64>()
        && tenant.companies().get(CompanyKey::Id(id))?.is_some()
    {
        return Ok(id);
    }
    let company = tenant
        .companies()
        .get(CompanyKey::Name(key))?
        .with_context(|| format!("tenant `{}` has no company `{}`", tenant.id(), inert(key)))?;
    Ok(company.id.parse()?)
}

fn print_relationships(relationships: &[Relationship], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(relationships)?);
        return Ok(());
    }
    println!(
        "{:<6} {:<8} {:<20} {:<10} NAME",
        "ID", "COMPANY", "TYPE", "MANAGED BY"
    );
    for r in relationships {
        println!(
            "{:<6} {:<8} {:<20} {:<10} {}",
            r.id,
            r.company_id,
            inert(&r.type_name),
            r.managed_by
                .map_or_else(|| "-".to_owned(), |p| p.to_string()),
            inert(&r.name)
        );
    }
    Ok(())
}

pub fn run_types(
    command: RelationshipTypeCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        RelationshipTypeCommand::Add {
            tenant,
            name,
            actor,
        } => {
            let id = actor
                .tenant(&host, &tenant)?
                .relationship_types()
                .add(&name)?;
            println!("{id}");
        }
        RelationshipTypeCommand::Field {
            tenant,
            type_key,
            name,
            field_type,
            required,
            actor,
        } => {
            actor
                .tenant(&host, &tenant)?
                .relationship_types()
                .define_field(&type_key, &name, field_type, required)?;
            println!("defined field `{}` ({field_type})", inert(&name));
        }
        RelationshipTypeCommand::Rename {
            tenant,
            type_key,
            name,
            actor,
        } => {
            actor
                .tenant(&host, &tenant)?
                .relationship_types()
                .rename(&type_key, &name)?;
            println!("renamed to `{}`", inert(name.trim()));
        }
        RelationshipTypeCommand::Delete {
            tenant,
            type_key,
            actor,
        } => {
            actor
                .tenant(&host, &tenant)?
                .relationship_types()
                .delete(&type_key)?;
            println!("deleted");
        }
        RelationshipTypeCommand::List { tenant, json } => {
            let types = super::tenant(&host, &tenant)?.relationship_types().list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&types)?);
            } else {
                println!("{:<6} {:<24} FIELDS", "ID", "NAME");
                for t in types {
                    let fields: Vec<String> = t
                        .fields
                        .iter()
                        .map(|f| {
                            let required = if f.required { ", required" } else { "" };
                            format!("{} ({}{required})", f.name, f.field_type)
                        })
                        .collect();
                    println!("{:<6} {:<24} {}", t.id, inert(&t.name), fields.join(", "));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(
    command: RelationshipCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        RelationshipCommand::Add {
            tenant,
            company,
            type_key,
            name,
            fields,
            managed_by,
            actor,
        } => {
            let tenant = actor.tenant(&host, &tenant)?;
            let company = company_id(&tenant, &company)?;
            let kind = tenant.relationship_types().get(&type_key)?.with_context(|| {
                format!(
                    "there is no relationship type `{}`; `cshost relationship-type list` lists them",
                    inert(&type_key)
                )
            })?;
            let mut relationship = NewRelationship::new(company, kind.id, name);
            relationship.fields = parse_fields(&fields)?;
            relationship.managed_by = managed_by;
            let id = tenant.relationships().add(relationship)?;
            println!("{id}");
        }
        RelationshipCommand::Import(args) => {
            let tenant = super::tenant(&host, &args.tenant)?;
            let options = args.options(ImportOptions::relationships())?;
            return args.run(&tenant, options);
        }
        RelationshipCommand::SampleCsv { tenant } => {
            let sample = super::tenant(&host, &tenant)?
                .imports()
                .sample_csv(ImportTarget::Relationships)?;
            print!("{sample}");
        }
        RelationshipCommand::Edit {
            tenant,
            id,
            name,
            fields,
            actor,
        } => {
            actor.tenant(&host, &tenant)?.relationships().edit(
                id,
                RelationshipEdit {
                    name,
                    fields: parse_fields(&fields)?,
                },
            )?;
            println!("relationship {id} changed");
        }
        RelationshipCommand::Delete { tenant, id, actor } => {
            actor.tenant(&host, &tenant)?.relationships().delete(id)?;
            println!("relationship {id} deleted");
        }
        RelationshipCommand::Show { tenant, id, json } => {
            let tenant = super::tenant(&host, &tenant)?;
            let r = tenant
                .relationships()
                .get(id)?
                .with_context(|| format!("tenant `{}` has no relationship {id}", tenant.id()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("relationship {} `{}`", r.id, inert(&r.name));
                let company = tenant
                    .companies()
                    .get(CompanyKey::Id(r.company_id))?
                    .map_or_else(String::new, |c| c.name);
                println!("  company:    {} `{}`", r.company_id, inert(&company));
                println!("  type:       {} `{}`", r.type_id, inert(&r.type_name));
                match r.managed_by {
                    Some(p) => {
                        let partner = tenant
                            .companies()
                            .get(CompanyKey::Id(p))?
                            .map_or_else(String::new, |c| c.name);
                        println!("  managed by: {p} `{}`", inert(&partner));
                    }
                    None => println!("  managed by: -"),
                }
                for (field, value) in &r.fields {
                    println!("  {field}: {}", inert(&value.to_string()));
                }
            }
        }
        RelationshipCommand::List {
            tenant,
            company,
            managed_by,
            search,
            limit,
            json,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            let relationships = match (company, managed_by, search) {
                (Some(company), _, _) => {
                    let id = company_id(&tenant, &company)?;
                    tenant.relationships().list(Some(id))?
                }
                (_, Some(partner), _) => tenant.relationships().managed_by(partner)?,
                (_, _, Some(text)) => tenant.relationships().search(&text, limit)?,
                _ => tenant.relationships().list(None)?,
            };
            print_relationships(&relationships, json)?;
        }
        RelationshipCommand::ManagedBy {
            tenant,
            id,
            partner,
            clear,
            actor,
        } => {
            let partner = if clear { None } else { partner };
            actor
                .tenant(&host, &tenant)?
                .relationships()
                .set_managed_by(id, partner)?;
            match partner {
                Some(p) => println!("relationship {id} is managed by partner {p}"),
                None => println!("relationship {id} is managed by no partner"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
