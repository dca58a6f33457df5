//! `cshost outbox`: list a tenant's outbox, and deliver what is pending.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use cs_host::{FileMailbox, Host, OutboxStatus, SmtpMailer, Transport};

#[derive(Subcommand)]
#[command(defer = true)]
pub enum OutboxCommand {
    /// List a tenant's messages, oldest first.
    List {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Only messages with this status: pending, held or sent.
        #[arg(long)]
        status: Option<OutboxStatus>,
        /// Show each message's body too.
        #[arg(long)]
        bodies: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Deliver pending messages of every tenant (within each tenant's hourly limit): to a
    /// file mailbox by default, or to an SMTP server.
    Deliver {
        /// The mailbox directory (one .eml file per message).
        #[arg(long, default_value = "mailbox", conflicts_with = "smtp")]
        mailbox: PathBuf,
        /// Send through this SMTP server instead, as HOST:PORT (no TLS: use a relay).
        #[arg(long, requires = "from")]
        smtp: Option<String>,
        /// The sender address for SMTP.
        #[arg(long)]
        from: Option<String>,
        /// Deliver at most this many messages.
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
}

pub fn run(
    command: OutboxCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        OutboxCommand::List {
            tenant,
            status,
            bodies,
            json,
        } => {
            let messages = super::tenant(&host, &tenant)?.outbox().list(status)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&messages)?);
                return Ok(ExitCode::SUCCESS);
            }
            for m in messages {
                let error = m.error.map(|e| format!(" ({e})")).unwrap_or_default();
                println!(
                    "#{} {} {:?} to {}: {} [{}]{error}",
                    m.id, m.status, m.channel, m.recipient, m.subject, m.kind
                );
                if bodies {
                    for line in m.body.lines() {
                        println!("    {line}");
                    }
                }
            }
        }
        OutboxCommand::Deliver {
            mailbox,
            smtp,
            from,
            max,
        } => {
            let transport = transport(&mailbox, smtp.as_deref(), from)?;
            let report = host.deliver_outbox(&*transport, max)?;
            println!(
                "{} sent, {} already delivered, {} deferred by the rate limit, {} failed",
                report.sent,
                report.already_delivered,
                report.deferred,
                report.failed.len()
            );
            for (id, error) in &report.failed {
                println!("  #{id}: {error}");
            }
            if !report.failed.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The transport of `--mailbox DIR` or `--smtp HOST:PORT --from ADDRESS`.
pub(crate) fn transport(
    mailbox: &Path,
    smtp: Option<&str>,
    from: Option<String>,
) -> anyhow::Result<Box<dyn Transport>> {
    Ok(match smtp {
        Some(server) => {
            let (host_name, port) = server
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                .ok_or_else(|| anyhow::anyhow!("--smtp `{server}`: expected HOST:PORT"))?;
            let from = from.as_deref().unwrap_or_default();
            Box::new(SmtpMailer::new(host_name, port, from)?)
        }
        None => Box::new(FileMailbox::new(mailbox)),
    })
}
