//! The plugins page: the plugins the tenant's admins may enable ([`cs_host::Plugins::available`]),
//! enabled for the tenant or not, and one plugin's page with its configuration, grants, limits and
//! failure policy, each with the form that changes it. The library decides who may see and change
//! them (`plugins.manage`); a refusal shows in its words.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use cs_host::{Capability, EnableOptions, Enablement, FailurePolicy, Tuning};
use serde::Deserialize;

use super::{Plain, Posted, User, Visitor, see_other, when};
use crate::cli::serve::html::esc;
use crate::cli::serve::{ApiError, Shared};

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/console/plugins", get(list))
        .route("/console/plugins/{name}", get(show))
        .route("/console/plugins/{name}/enable", post(enable))
        .route("/console/plugins/{name}/disable", post(disable))
        .route("/console/plugins/{name}/config", post(configure))
        .route("/console/plugins/{name}/settings", post(settings))
        .route("/console/plugins/{name}/grants", post(grants))
}

/// A plugin's path in the console (`name` is the registry's, made of safe characters, and
/// escaped all the same).
fn path(name: &str) -> String {
    format!("/console/plugins/{}", esc(name))
}

fn state(e: Option<&Enablement>) -> &'static str {
    match e {
        None => "not enabled",
        Some(e) if e.enabled => "enabled",
        Some(e) if e.disabled_reason.is_some() => "disabled by the host",
        Some(_) => "disabled",
    }
}

/// `GET /console/plugins`.
async fn list(State(app): State<Shared>, visitor: Visitor) -> Response {
    let (user, plugins) = match visitor.run(&app, |_, t| t.plugins().available()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = String::from(
        "<table>\n<thead><tr><th>Plugin</th><th>Version</th><th>State</th><th>Policy</th>\
         <th>Grants</th><th>Configuration</th><th></th></tr></thead>\n<tbody>\n",
    );
    if plugins.is_empty() {
        body.push_str("<tr><td colspan=\"7\">No plugin is installed on the platform.</td></tr>\n");
    }
    for plugin in &plugins {
        let m = &plugin.manifest;
        let e = plugin.enablement.as_ref();
        let toggle = if e.is_some_and(|e| e.enabled) {
            user.button(&app, &format!("{}/disable", path(&m.name)), "Disable")
        } else {
            user.button(&app, &format!("{}/enable", path(&m.name)), "Enable")
        };
        let config = e.map_or_else(String::new, |e| {
            e.config
                .iter()
                .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
                .collect::<Vec<_>>()
                .join("<br>")
        });
        let grants = e.map_or_else(String::new, |e| {
            e.grants
                .iter()
                .map(|g| g.name())
                .collect::<Vec<_>>()
                .join(", ")
        });
        body.push_str(&format!(
            "<tr id=\"plugin-{name}\"><td><a href=\"{href}\">{name}</a><br>\
             <span class=\"meta\">{description}</span></td><td>{version}</td>\
             <td class=\"state\">{state}</td><td>{policy}</td><td>{grants}</td><td>{config}</td>\
             <td>{toggle}</td></tr>\n",
            name = esc(&m.name),
            href = path(&m.name),
            description = esc(&m.description),
            version = esc(e.map_or(&m.version, |e| &e.version)),
            state = state(e),
            policy = e.map_or("", |e| e.failure_policy.as_str()),
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    user.page(&app, "Plugins", &body)
}

/// `GET /console/plugins/{name}`: one plugin, its enablement and the forms that change it.
async fn show(State(app): State<Shared>, visitor: Visitor, Path(name): Path<String>) -> Response {
    let lookup = name.clone();
    let found = visitor
        .run(&app, move |_, t| {
            let available = t.plugins().available_one(&lookup)?;
            let stats: Vec<cs_host::RunStats> = t
                .plugins()
                .stats()
                .map(|s| s.into_iter().filter(|s| s.plugin == lookup).collect())
                .unwrap_or_default();
            Ok((available, stats))
        })
        .await;
    let (user, (available, stats)) = match found {
        Ok(found) => found,
        Err(page) => return page,
    };
    let e = available.enablement.clone();
    let m = &available.manifest;
    let here = path(&m.name);
    let csrf = user.csrf_field(&app);
    let points: Vec<String> = m.extension_points.iter().map(|p| p.to_string()).collect();
    let mut body = format!(
        "<p>{}</p>\n<p class=\"meta\">{} {} · implements {} · installed {}</p>\n\
         <section>\n<h2>State</h2>\n<p>This tenant: <strong class=\"state\">{}</strong>{}</p>\n{}\n",
        esc(&m.description),
        esc(&m.name),
        esc(&m.version),
        esc(&points.join(", ")),
        when(available.installed_at),
        state(e.as_ref()),
        e.as_ref()
            .and_then(|e| e.disabled_reason.as_deref())
            .map_or_else(String::new, |r| format!(" ({})", esc(r))),
        if e.as_ref().is_some_and(|e| e.enabled) {
            user.button(&app, &format!("{here}/disable"), "Disable")
        } else {
            user.button(&app, &format!("{here}/enable"), "Enable")
        },
    );
    for s in &stats {
        body.push_str(&format!(
            "<p class=\"meta\">{}: {} calls, {} failed, p50 {} µs, p99 {} µs · \
             <a href=\"/console/failures?plugin={}\">failures</a></p>\n",
            esc(&s.hook),
            s.calls,
            s.failures,
            s.p50_us,
            s.p99_us,
            esc(&m.name)
        ));
    }
    body.push_str("</section>\n");

    // Configuration: the declared keys, and the values set.
    let config = e.as_ref().map(|e| e.config.clone()).unwrap_or_default();
    body.push_str("<section>\n<h2>Configuration</h2>\n");
    if !m.config.is_empty() {
        body.push_str("<ul>\n");
        for key in &m.config {
            body.push_str(&format!(
                "<li><code>{}</code>{}: {}{}</li>\n",
                esc(&key.name),
                if key.required { " (required)" } else { "" },
                esc(&key.description),
                key.default_value
                    .as_deref()
                    .map_or_else(String::new, |d| format!(
                        " <span class=\"meta\">default {}</span>",
                        esc(d)
                    ))
            ));
        }
        body.push_str("</ul>\n");
    }
    let lines: Vec<String> = config.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if e.is_some() {
        body.push_str(&format!(
            "<form class=\"block\" method=\"post\" action=\"{here}/config\">{csrf}\
             <label for=\"config\">One <code>key=value</code> a line</label><br>\
             <textarea id=\"config\" name=\"config\" rows=\"4\" cols=\"60\">{}</textarea><br>\
             <button type=\"submit\">Save the configuration</button></form>\n",
            esc(&lines.join("\n"))
        ));
    } else {
        body.push_str("<p class=\"meta\">Enable the plugin to configure it.</p>\n");
    }
    body.push_str("</section>\n");

    // Grants: the capabilities it requests, granted or not.
    body.push_str("<section>\n<h2>Grants</h2>\n");
    if m.capabilities.is_empty() {
        body.push_str("<p>It requests no capability.</p>\n");
    }
    for capability in &m.capabilities {
        let granted = e.as_ref().is_some_and(|e| e.grants.contains(capability));
        let (action, button) = if granted {
            ("revoke", "Revoke")
        } else {
            ("grant", "Grant")
        };
        body.push_str(&format!(
            "<p><code>{0}</code>: {1} <form method=\"post\" action=\"{here}/grants\">{csrf}\
             <input type=\"hidden\" name=\"capability\" value=\"{0}\">\
             <input type=\"hidden\" name=\"action\" value=\"{action}\">\
             <button type=\"submit\">{button}</button></form></p>\n",
            capability.name(),
            if granted { "granted" } else { "not granted" },
        ));
    }
    body.push_str("</section>\n");

    // Policy, priority and limits: saved as they are, the plugin staying enabled or disabled.
    if e.is_none() {
        body.push_str(
            "<section>\n<h2>Policy and limits</h2>\n<p class=\"meta\">Enable the plugin to set \
             its policy and limits.</p>\n</section>\n",
        );
    } else {
        let limits = e.as_ref().map(|e| e.limits).unwrap_or_default();
        let policy = e.as_ref().map(|e| e.failure_policy).unwrap_or_default();
        let selected = |p: FailurePolicy| if p == policy { " selected" } else { "" };
        body.push_str(&format!(
            "<section>\n<h2>Policy and limits</h2>\n\
             <form class=\"block\" method=\"post\" action=\"{here}/settings\">{csrf}\
             <p><label for=\"policy\">When it fails</label> <select id=\"policy\" name=\"policy\">\
             <option value=\"fail-closed\"{}>fail closed: the operation fails</option>\
             <option value=\"fail-open\"{}>fail open: skip the plugin</option></select></p>\
             <p><label for=\"priority\">Priority</label> <input id=\"priority\" name=\"priority\" \
             type=\"number\" value=\"{}\"> <span class=\"meta\">lower runs first</span></p>\
             <p><label for=\"deadline\">Deadline per call (ms)</label> <input id=\"deadline\" \
             name=\"deadline_ms\" type=\"number\" min=\"1\" value=\"{}\"></p>\
             <p><label for=\"fuel\">Fuel per call</label> <input id=\"fuel\" name=\"fuel\" \
             type=\"number\" min=\"1\" value=\"{}\"></p>\
             <p><label for=\"memory\">Memory (MiB)</label> <input id=\"memory\" name=\"memory_mb\" \
             type=\"number\" min=\"1\" value=\"{}\"></p>\
             <button type=\"submit\">Save</button></form>\n\
             <p class=\"meta\">Output {} KiB, log {} KiB, {} notifications per address, {} s and {} \
             fuel per operation{}.</p>\n</section>\n",
            selected(FailurePolicy::FailClosed),
            selected(FailurePolicy::FailOpen),
            e.as_ref().map_or(0, |e| e.priority),
            limits.deadline_value().as_millis(),
            limits.fuel_value(),
            limits.memory_value() >> 20,
            limits.output_value() >> 10,
            limits.log_value() >> 10,
            limits.notifications_value(),
            limits.operation_time_value().as_secs(),
            limits.operation_fuel_value(),
            e.as_ref().map_or_else(String::new, |e| format!(
                "; the host disables it after {} failures in a row",
                e.breaker_threshold
            )),
        ));
    }
    if let Some(e) = &e
        && !e.egress.is_empty()
    {
        let egress: Vec<String> = e.egress.iter().map(|t| esc(t)).collect();
        body.push_str(&format!(
            "<p class=\"meta\">Its notifications may also reach: {}</p>\n",
            egress.join(", ")
        ));
    }
    user.page(&app, &m.name, &body)
}

/// Runs a change of a plugin's enablement, then goes back to where the user was.
async fn change(
    app: Shared,
    user: User,
    form: Result<Form<Plain>, FormRejection>,
    name: String,
    back: &'static str,
    work: impl FnOnce(&cs_host::Tenant<'_>, &str) -> cs_host::Result<Enablement> + Send + 'static,
) -> Response {
    if let Err(page) = user.form(&app, form) {
        return page;
    }
    let plugin = name.clone();
    match user.run(&app, move |_, t| work(t, &plugin)).await {
        Ok(_) if back == "list" => see_other(&format!("/console/plugins#plugin-{name}")),
        Ok(_) => see_other(&path(&name)),
        Err(page) => page,
    }
}

/// `POST /console/plugins/{name}/enable`: enables it, keeping its earlier settings.
async fn enable(
    State(app): State<Shared>,
    user: User,
    Path(name): Path<String>,
    form: Result<Form<Plain>, FormRejection>,
) -> Response {
    change(app, user, form, name, "list", |t, name| {
        t.plugins().enable(name, EnableOptions::new())
    })
    .await
}

/// `POST /console/plugins/{name}/disable`: disables it, keeping its settings.
async fn disable(
    State(app): State<Shared>,
    user: User,
    Path(name): Path<String>,
    form: Result<Form<Plain>, FormRejection>,
) -> Response {
    change(app, user, form, name, "list", |t, name| {
        t.plugins().disable(name)
    })
    .await
}

#[derive(Deserialize)]
struct ConfigForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    config: String,
}

impl Posted for ConfigForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/plugins/{name}/config`: replaces the configuration (`key=value` lines).
async fn configure(
    State(app): State<Shared>,
    user: User,
    Path(name): Path<String>,
    form: Result<Form<ConfigForm>, FormRejection>,
) -> Response {
    let form = match user.form(&app, form) {
        Ok(form) => form,
        Err(page) => return page,
    };
    let mut config = BTreeMap::new();
    for (i, line) in form.config.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return user.fail(
                &app,
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    format!("configuration line {}: `{line}` is not key=value", i + 1),
                ),
            );
        };
        config.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let plugin = name.clone();
    match user
        .run(&app, move |_, t| t.plugins().configure(&plugin, config))
        .await
    {
        Ok(_) => see_other(&path(&name)),
        Err(page) => page,
    }
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf: String,
    policy: String,
    priority: i32,
    deadline_ms: u64,
    fuel: u64,
    memory_mb: usize,
}

impl Posted for SettingsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/plugins/{name}/settings`: policy, priority and limits; the plugin stays
/// enabled or disabled as it is.
async fn settings(
    State(app): State<Shared>,
    user: User,
    Path(name): Path<String>,
    form: Result<Form<SettingsForm>, FormRejection>,
) -> Response {
    let form = match user.form(&app, form) {
        Ok(form) => form,
        Err(page) => return page,
    };
    let plugin = name.clone();
    let done = user
        .run(&app, move |_, t| {
            let policy: FailurePolicy = form.policy.parse()?;
            let limits = t
                .plugins()
                .get(&plugin)?
                .limits
                .deadline(Duration::from_millis(form.deadline_ms))
                .fuel(form.fuel)
                .memory(form.memory_mb << 20);
            t.plugins().tune(
                &plugin,
                Tuning {
                    limits: Some(limits),
                    policy: Some(policy),
                    priority: Some(form.priority),
                    ..Tuning::default()
                },
            )
        })
        .await;
    match done {
        Ok(_) => see_other(&path(&name)),
        Err(page) => page,
    }
}

#[derive(Deserialize)]
struct GrantForm {
    #[serde(default)]
    csrf: String,
    capability: String,
    action: String,
}

impl Posted for GrantForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/plugins/{name}/grants`: grants or revokes a capability it requests.
async fn grants(
    State(app): State<Shared>,
    user: User,
    Path(name): Path<String>,
    form: Result<Form<GrantForm>, FormRejection>,
) -> Response {
    let form = match user.form(&app, form) {
        Ok(form) => form,
        Err(page) => return page,
    };
    let capability: Capability = match form.capability.parse() {
        Ok(capability) => capability,
        Err(error) => {
            return user.fail(
                &app,
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    error.to_string(),
                ),
            );
        }
    };
    let grant = form.action == "grant";
    let plugin = name.clone();
    let done = user
        .run(&app, move |_, t| {
            if grant {
                t.plugins().grant(&plugin, capability)
            } else {
                t.plugins().revoke(&plugin, capability)
            }
        })
        .await;
    match done {
        Ok(_) => see_other(&path(&name)),
        Err(page) => page,
    }
}
