//! The HTML of a link's page: the code form and the plan as the recipient may see it. `path` is
//! the link's path, which [`Link::parse`](super::Link::parse) checked to hold only letters,
//! digits, `-`, `_` and `/`; every other piece of text goes through [`esc`].

use cs_host::{SharePermission, SharedPlan, Task};

use crate::cli::serve::html::esc;

pub(super) fn notice_box(notice: &str) -> String {
    format!(
        "<section class=\"notice\"><p>{}</p></section>\n",
        esc(notice)
    )
}

pub(super) fn error_box(error: &str) -> String {
    format!(
        "<section class=\"error\" role=\"alert\"><p>{}</p></section>\n",
        esc(error)
    )
}

fn hidden_csrf(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

pub(super) fn code_body(path: &str, csrf: &str) -> String {
    let csrf = hidden_csrf(csrf);
    format!(
        "<h1>A shared success plan</h1>\n<section>\n\
         <p>To open it, ask for a one-time code: we send it to the email address the plan was \
         shared with.</p>\n\
         <form class=\"block\" method=\"post\" action=\"{path}/code\">{csrf}\
         <button type=\"submit\">Send me a code</button></form>\n</section>\n<section>\n\
         <form class=\"block\" method=\"post\" action=\"{path}/verify\">{csrf}\
         <label for=\"code\">Your code</label> \
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
         pattern=\"[0-9]{{6}}\" maxlength=\"6\" required> \
         <button type=\"submit\">Open the plan</button></form>\n</section>"
    )
}

fn due(date: Option<cs_host::model::Date>) -> String {
    date.map_or("—".to_owned(), |d| d.to_string())
}

pub(super) fn plan_body(path: &str, plan: &SharedPlan, csrf: &str) -> String {
    let update = plan.permission == SharePermission::Update;
    let mut out = format!(
        "<h1>{}</h1>\n<p class=\"meta\">For {} · {} · due {} · shared by {}</p>\n",
        esc(&plan.name),
        esc(&plan.customer),
        esc(&plan.status.to_string()),
        due(plan.due_date),
        esc(&plan.shared_by),
    );
    if let Some(note) = &plan.note {
        out.push_str(&format!("<blockquote>{}</blockquote>\n", esc(note)));
    }
    if plan.objectives.is_empty() {
        out.push_str("<section><p>Nothing of this plan is shared with you yet.</p></section>\n");
    }
    for objective in &plan.objectives {
        out.push_str(&format!(
            "<section>\n<h2>{}</h2>\n<p class=\"meta\">{} · due {}</p>\n",
            esc(&objective.name),
            esc(&objective.status),
            due(objective.due_date)
        ));
        tasks(&mut out, path, &objective.tasks, update, csrf);
        for cta in plan
            .ctas
            .iter()
            .filter(|c| c.objective_id == Some(objective.id))
        {
            out.push_str(&format!(
                "<h3>{}</h3>\n<p class=\"meta\">{} · due {}</p>\n",
                esc(&cta.name),
                esc(&cta.status),
                due(cta.due_date)
            ));
            tasks(&mut out, path, &cta.tasks, update, csrf);
        }
        if !objective.comments.is_empty() {
            out.push_str("<h3>Comments</h3>\n<ul>\n");
            for comment in &objective.comments {
                out.push_str(&format!(
                    "<li><span class=\"meta\">{}</span><blockquote>{}</blockquote></li>\n",
                    esc(&comment.author),
                    esc(&comment.body)
                ));
            }
            out.push_str("</ul>\n");
        }
        if update {
            out.push_str(&format!(
                "<form class=\"block\" method=\"post\" action=\"{path}/objectives/{}/comments\">{}\
                 <label for=\"comment-{0}\">Comment</label> \
                 <input id=\"comment-{0}\" name=\"body\" maxlength=\"2000\" required> \
                 <button type=\"submit\">Add</button></form>\n",
                objective.id,
                hidden_csrf(csrf),
            ));
        }
        out.push_str("</section>\n");
    }
    out.push_str(&format!(
        "<p class=\"meta\">This link works until {}.</p>\n",
        esc(&cs_host::utc_timestamp(plan.expires_at))
    ));
    out
}

fn tasks(out: &mut String, path: &str, tasks: &[Task], update: bool, csrf: &str) {
    if tasks.is_empty() {
        return;
    }
    out.push_str("<ul>\n");
    for task in tasks {
        let done = task.status == "done";
        out.push_str(&format!(
            "<li id=\"task-{}\"><span class=\"{}\">{}</span> <span class=\"meta\">{} · due {}</span>",
            task.id,
            if done { "done" } else { "open" },
            esc(&task.name),
            esc(&task.status),
            due(task.due_date)
        ));
        if update {
            let action = format!("{path}/tasks/{}", task.id);
            let csrf = hidden_csrf(csrf);
            let (value, label) = if done {
                ("0", "Reopen")
            } else {
                ("1", "Mark done")
            };
            out.push_str(&format!(
                "<br><form method=\"post\" action=\"{action}\">{csrf}\
                 <input type=\"hidden\" name=\"done\" value=\"{value}\">\
                 <button type=\"submit\">{label}</button></form> \
                 <form method=\"post\" action=\"{action}\">{csrf}\
                 <input type=\"date\" name=\"due\" aria-label=\"Due date\" required> \
                 <button type=\"submit\">Set due date</button></form>"
            ));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n");
}
