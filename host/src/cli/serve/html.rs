//! The HTML the service renders: one escape function that every piece of text goes through, the
//! page frame, the stylesheet, and the Content-Security-Policy that goes with them.
//!
//! Pages are built from string literals and escaped values only: [`esc`] is the single place
//! text becomes HTML, for element content and quoted attribute values alike.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The Content-Security-Policy of every response: no scripts at all, styles from the
/// stylesheet only, forms posting back to this server only, never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Escapes text for HTML element content and for attribute values in double or single quotes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no business on a page (and some confuse parsers).
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` is escaped here; `body` is HTML already built from escaped parts.
pub fn page(title: &str, body: &str) -> String {
    frame(title, "", "", body)
}

/// A whole page with more in its head (`head`: HTML of ours, such as a stylesheet link or a
/// refresh) and a class on its `<main>`; `title` is escaped here, the rest is HTML already
/// built from escaped parts.
pub fn frame(title: &str, head: &str, class: &str, body: &str) -> String {
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(" class=\"{}\"", esc(class))
    };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"/assets/style.css\">\n{head}</head>\n\
         <body>\n<main{class}>\n{body}\n</main>\n</body>\n</html>\n",
        esc(title)
    )
}

/// A page with a heading and one paragraph of text (both escaped).
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    (
        status,
        Html(page(
            title,
            &format!("<h1>{}</h1>\n<p>{}</p>", esc(title), esc(text)),
        )),
    )
        .into_response()
}

/// `GET /assets/style.css`.
pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response()
}

const STYLESHEET: &str = "\
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}\
main{max-width:46rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}\
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:1rem;margin:1rem 0}\
.meta{color:#5a6272;font-size:.9rem}.notice{background:#e8f4ea;border-color:#b9dcc0}\
.error{background:#fbeaea;border-color:#e6b8b8}\
ul{padding-left:1.2rem}li{margin:.4rem 0}\
.done{text-decoration:line-through;color:#5a6272}\
form{display:inline}form.block{display:block;margin:.5rem 0}\
input,button{font:inherit;padding:.3rem .6rem}\
blockquote{margin:.3rem 0 .3rem 1rem;color:#39404d}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_in_content_and_attributes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{0}b"), "a\u{FFFD}b");
        assert_eq!(esc("plain text"), "plain text");
    }
}
