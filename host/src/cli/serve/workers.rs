//! The server's background work: the outbox worker (delivering every tenant's messages within
//! their hourly limits, fair across tenants, as [`Host::deliver_outbox`] does), and the resumer
//! of hooks that committed changes still owe. Each run happens on the blocking pool; a shutdown
//! lets the run in progress finish.

use std::sync::Arc;
use std::time::Duration;

use cs_host::{Host, Transport};
use tokio::sync::watch;

use super::{ApiError, Shared, blocking};

/// The most messages one run of the outbox worker delivers.
const DELIVERIES_PER_RUN: usize = 200;

/// The outbox worker: a run every `every`, and at once when woken (a one-time code was asked
/// for), until `stop` turns true.
pub async fn outbox(
    app: Shared,
    transport: Box<dyn Transport>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let transport: Arc<dyn Transport> = Arc::from(transport);
    loop {
        let transport = transport.clone();
        let report = blocking(&app, move |host| {
            host.deliver_outbox(&*transport, DELIVERIES_PER_RUN)
                .map_err(ApiError::from)
        })
        .await;
        match report {
            Ok(report) => {
                if report.sent + report.already_delivered + report.failed.len() > 0 {
                    tracing::info!(
                        sent = report.sent,
                        already_delivered = report.already_delivered,
                        deferred = report.deferred,
                        failed = report.failed.len(),
                        "outbox delivered"
                    );
                }
                for (id, error) in &report.failed {
                    tracing::warn!(outbox_message = id, error, "outbox delivery failed");
                }
            }
            Err(error) => tracing::error!(error = %error.message, "outbox run failed"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
            () = app.outbox_wake.notified() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// The resumer of owed hooks: a run every `every` of what every tenant owes (the server's tenant
/// handles leave it to this worker, so requests do not look for it), which also gives new
/// tenants the server's link base.
pub async fn resumer(app: Shared, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
        if *stop.borrow() {
            return;
        }
        let run = blocking(&app, |host| {
            host.resume_owed_hooks().map_err(ApiError::from)
        })
        .await;
        if let Err(error) = run {
            tracing::error!(error = %error.message, "resuming owed hooks failed");
        }
        if let Err(error) = blocking(&app, link_bases(&app)).await {
            tracing::error!(error = %error.message, "setting the link base failed");
        }
    }
}

/// The work that gives every tenant whose link base is still the placeholder this server's,
/// so the links it sends open here.
pub fn link_bases(app: &Shared) -> impl FnOnce(&Host) -> Result<(), ApiError> + Send + 'static {
    let base = app.link_base.clone();
    move |host| set_link_bases(host, &base)
}

/// Sets `<base>/shared/<tenant>/` as the link base of the tenants still on the placeholder.
fn set_link_bases(host: &Host, base: &str) -> Result<(), ApiError> {
    for tenant in host.tenants()? {
        let handle = host.tenant(&tenant.id)?;
        let mut settings = handle.shares().settings()?;
        if settings.link_base.starts_with("https://cs-host.invalid/") {
            settings.link_base = format!("{base}/shared/{}/", tenant.id);
            handle.shares().set_settings(&settings)?;
            tracing::info!(
                tenant = tenant.id,
                link_base = settings.link_base,
                "link base set"
            );
        }
    }
    Ok(())
}
