//! Just enough of `multipart/form-data` (RFC 7578) to read the console's upload form: named
//! parts, a file name, and the bytes, from a body already limited in size.

/// One part of a form.
pub struct Part {
    /// The form field's name.
    pub name: String,
    /// The file's name, for a file.
    pub filename: Option<String>,
    /// The content.
    pub data: Vec<u8>,
}

/// The boundary a `Content-Type: multipart/form-data; boundary=...` header names.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The parts of `body`, or what is wrong with it.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let malformed = |what: &str| format!("the upload is not a well-formed form: {what}");
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // The first delimiter may open the body without the line break before it.
    let start = find(body, &delimiter[2..]).ok_or_else(|| malformed("no boundary"))?;
    let mut rest = &body[start + delimiter.len() - 2..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or_else(|| malformed("a boundary without a line break"))?;
        let head_end =
            find(rest, b"\r\n\r\n").ok_or_else(|| malformed("a part without headers"))?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content = &rest[head_end + 4..];
        let end = find(content, &delimiter).ok_or_else(|| malformed("a part without its end"))?;
        let (mut name, mut filename) = (None, None);
        for line in head.split("\r\n") {
            let Some((header, value)) = line.split_once(':') else {
                continue;
            };
            if !header.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for param in value.split(';').skip(1) {
                if let Some((key, value)) = param.trim().split_once('=') {
                    let value = value.trim().trim_matches('"').to_owned();
                    match key.trim() {
                        "name" => name = Some(value),
                        "filename" => filename = Some(value),
                        _ => {}
                    }
                }
            }
        }
        parts.push(Part {
            name: name.ok_or_else(|| malformed("a part without a name"))?,
            filename,
            data: content[..end].to_vec(),
        });
        rest = &content[end + delimiter.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_upload_is_read_into_its_fields_and_file() {
        let body = b"------x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
            ------x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n\
            Content-Type: text/csv\r\n\r\nName\r\nA\r\n\r\n------x--\r\n";
        let boundary = boundary("multipart/form-data; boundary=----x").unwrap();
        let parts = parse(body, &boundary).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), &parts[0].data[..]),
            ("csrf", &b"abc"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("p.csv"));
        assert_eq!(parts[1].data, b"Name\r\nA\r\n");
        assert!(parse(b"no parts here", &boundary).is_err());
        assert!(boundary_of_other_kinds_is_none());
    }

    fn boundary_of_other_kinds_is_none() -> bool {
        boundary("application/x-www-form-urlencoded").is_none()
            && boundary("multipart/form-data").is_none()
    }
}
