//! The run log's pages: calls, failures and p50/p99 per plugin and hook with their charts, and
//! the failures the run log keeps, each with its input to download and the command that replays
//! it (`cshost tenant stats --replay` writes the same files).

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::chart::{Row, Series, bars};
use super::{Visitor, download_json, safe_name, when};
use crate::cli::serve::html::esc;
use crate::cli::serve::{ApiError, Shared};

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/console/stats", get(stats))
        .route("/console/failures", get(failures))
        .route("/console/failures/{id}/input.json", get(replay_input))
}

/// `GET /console/stats`: the run log's aggregates, charted and tabled.
async fn stats(State(app): State<Shared>, visitor: Visitor) -> Response {
    let (user, stats) = match visitor.run(&app, |_, t| t.plugins().stats()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let label = |s: &cs_host::RunStats| format!("{} · {}", s.plugin, s.hook);
    let counts: Vec<Row> = stats
        .iter()
        .map(|s| Row {
            label: label(s),
            values: vec![s.calls, s.failures],
        })
        .collect();
    let durations: Vec<Row> = stats
        .iter()
        .map(|s| Row {
            label: label(s),
            values: vec![s.p50_us, s.p99_us],
        })
        .collect();
    let mut body = String::from("<section>\n<h2>Calls and failures</h2>\n");
    body.push_str(&bars(
        "Calls and failures per plugin and hook",
        &counts,
        &[
            Series {
                name: "calls",
                colour: "#3b6fd8",
            },
            Series {
                name: "failures",
                colour: "#d8453b",
            },
        ],
        "",
    ));
    body.push_str("\n</section>\n<section>\n<h2>Call durations</h2>\n");
    body.push_str(&bars(
        "Median and 99th percentile call durations per plugin and hook, in microseconds",
        &durations,
        &[
            Series {
                name: "p50",
                colour: "#5aa469",
            },
            Series {
                name: "p99",
                colour: "#e39b2d",
            },
        ],
        " µs",
    ));
    body.push_str(
        "\n</section>\n<table>\n<thead><tr><th>Plugin</th><th>Hook</th><th>Calls</th>\
         <th>Failures</th><th>Denied</th><th>p50 µs</th><th>p99 µs</th><th>Last error</th>\
         </tr></thead>\n<tbody>\n",
    );
    for s in &stats {
        let last = s.last_error.as_deref().map_or_else(String::new, |e| {
            format!(
                "{} <span class=\"meta\">{}</span>",
                esc(e),
                s.last_error_at.map(when).unwrap_or_default()
            )
        });
        body.push_str(&format!(
            "<tr><td><a href=\"/console/plugins/{0}\">{0}</a></td><td>{1}</td><td>{2}</td>\
             <td><a href=\"/console/failures?plugin={0}\">{3}</a></td><td>{4}</td><td>{5}</td>\
             <td>{6}</td><td>{7}</td></tr>\n",
            esc(&s.plugin),
            esc(&s.hook),
            s.calls,
            s.failures,
            s.denied,
            s.p50_us,
            s.p99_us,
            last
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    user.page(&app, "Run stats", &body)
}

#[derive(Deserialize)]
struct FailureQuery {
    plugin: Option<String>,
}

/// `GET /console/failures?plugin=`: the failures the run log keeps, newest first.
async fn failures(
    State(app): State<Shared>,
    visitor: Visitor,
    query: Result<Query<FailureQuery>, QueryRejection>,
) -> Response {
    let plugin = query
        .ok()
        .and_then(|Query(q)| q.plugin)
        .filter(|p| !p.is_empty());
    let of = plugin.clone();
    let (user, failures) = match visitor
        .run(&app, move |_, t| t.plugins().failures(of.as_deref()))
        .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = match &plugin {
        Some(plugin) => format!(
            "<p>Failures of <strong>{}</strong>. <a href=\"/console/failures\">All plugins</a></p>\n",
            esc(plugin)
        ),
        None => String::new(),
    };
    if failures.is_empty() {
        body.push_str("<p>No failures are recorded.</p>\n");
    } else {
        body.push_str(
            "<table>\n<thead><tr><th>At</th><th>Plugin</th><th>Hook</th><th>Kind</th>\
             <th>Error</th><th>Replay</th></tr></thead>\n<tbody>\n",
        );
    }
    for f in &failures {
        let component = format!("{}-{}.wasm", safe_name(&f.plugin), safe_name(&f.version));
        let mut command = format!(
            "cshost plugin run {component} --hook {} --input input.json",
            f.hook
        );
        for (key, value) in &f.config {
            command.push_str(&format!(
                " --config {}",
                cs_host::shell_quote(&format!("{key}={value}"))
            ));
        }
        for grant in &f.grants {
            command.push_str(&format!(" --grant {}", grant.name()));
        }
        body.push_str(&format!(
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><a href=\"/console/failures/{}/input.json\">input.json</a><br>\
             <code>{}</code></td></tr>\n",
            when(f.at),
            esc(&f.plugin),
            esc(&f.version),
            esc(&f.hook),
            esc(&f.code),
            esc(&f.message),
            f.id,
            esc(&command)
        ));
    }
    if !failures.is_empty() {
        body.push_str("</tbody>\n</table>\n");
    }
    user.page(&app, "Failures", &body)
}

/// `GET /console/failures/{id}/input.json`: a failure's input, to replay with `cshost plugin
/// run`.
async fn replay_input(
    State(app): State<Shared>,
    visitor: Visitor,
    Path(id): Path<i64>,
) -> Response {
    let found = visitor
        .run(&app, move |_, t| {
            Ok(t.plugins().failures(None)?.into_iter().find(|f| f.id == id))
        })
        .await;
    match found {
        Ok((_, Some(failure))) => download_json(&failure.input, "input.json"),
        Ok((user, None)) => user.fail(
            &app,
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("tenant {} has no recorded failure {id}", user.tenant),
            ),
        ),
        Err(page) => page,
    }
}
