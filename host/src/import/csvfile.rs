//! CSV properties (separator, quote, escape, header, encoding): detected from the start of a
//! file, overridable, and turned into a streaming UTF-8 reader.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// How many bytes detection looks at.
pub(crate) const SAMPLE: usize = 64 * 1024;

/// The longest line of a CSV file, in bytes: a file with a longer one (such as `/dev/zero`,
/// which has no line end at all) is refused when the reading gets there, whatever the tenant's
/// size limit.
pub const MAX_LINE_BYTES: u64 = 1024 * 1024;

/// The longest field, in bytes: a row with a longer one is refused (the other rows go on).
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The character encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    Utf8,
    /// UTF-16, little-endian (with or without a byte-order mark).
    Utf16Le,
    /// UTF-16, big-endian (with or without a byte-order mark).
    Utf16Be,
    /// Windows-1252, the 8-bit Western European encoding (a superset of ISO-8859-1, which
    /// browsers also read as Windows-1252; `iso-8859-1` and `latin-1` name it too).
    #[serde(rename = "windows-1252", alias = "iso8859-1")]
    Windows1252,
}

impl Encoding {
    /// The encoding's name: `utf-8`, `utf-16le`, `utf-16be` or `windows-1252`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
            Encoding::Windows1252 => "windows-1252",
        }
    }

    fn decoder(self) -> Option<&'static encoding_rs::Encoding> {
        match self {
            Encoding::Utf8 => None,
            Encoding::Utf16Le => Some(encoding_rs::UTF_16LE),
            Encoding::Utf16Be => Some(encoding_rs::UTF_16BE),
            Encoding::Windows1252 => Some(encoding_rs::WINDOWS_1252),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Encoding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Encoding> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "utf-16le" | "utf16le" | "utf-16" => Ok(Encoding::Utf16Le),
            "utf-16be" | "utf16be" => Ok(Encoding::Utf16Be),
            "iso-8859-1" | "latin-1" | "latin1" | "windows-1252" | "cp1252" => {
                Ok(Encoding::Windows1252)
            }
            _ => Err(Error::new(ErrorKind::Invalid(format!(
                "encoding `{s}`: expected utf-8, utf-16le, utf-16be or windows-1252 (iso-8859-1)"
            )))),
        }
    }
}

/// The character between the fields of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Separator {
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// `|`
    Pipe,
    /// A tab.
    Tab,
    /// A space.
    Space,
}

impl Separator {
    /// Every separator, in the order detection prefers them on a tie.
    const ALL: [Separator; 5] = [
        Separator::Comma,
        Separator::Semicolon,
        Separator::Tab,
        Separator::Pipe,
        Separator::Space,
    ];

    /// The separator's byte.
    pub fn byte(self) -> u8 {
        match self {
            Separator::Comma => b',',
            Separator::Semicolon => b';',
            Separator::Pipe => b'|',
            Separator::Tab => b'\t',
            Separator::Space => b' ',
        }
    }

    /// The separator's name: `comma`, `semicolon`, `pipe`, `tab` or `space`.
    pub fn as_str(self) -> &'static str {
        match self {
            Separator::Comma => "comma",
            Separator::Semicolon => "semicolon",
            Separator::Pipe => "pipe",
            Separator::Tab => "tab",
            Separator::Space => "space",
        }
    }
}

impl fmt::Display for Separator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Separator {
    type Err = Error;

    fn from_str(s: &str) -> Result<Separator> {
        match s {
            "comma" | "," => Ok(Separator::Comma),
            "semicolon" | ";" => Ok(Separator::Semicolon),
            "pipe" | "|" => Ok(Separator::Pipe),
            "tab" | "\t" | "\\t" => Ok(Separator::Tab),
            "space" | " " => Ok(Separator::Space),
            _ => Err(Error::new(ErrorKind::Invalid(format!(
                "separator `{s}`: expected comma, semicolon, pipe, tab or space"
            )))),
        }
    }
}

/// How a CSV file is written. [`detect`](CsvProperties::detect) reads them from a file's first
/// bytes; any of them can be overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct CsvProperties {
    /// Between fields.
    pub separator: Separator,
    /// Around fields that hold separators, quotes or line breaks.
    pub quote: char,
    /// Before a quote inside a quoted field; `None` when a quote is doubled instead (`""`).
    pub escape: Option<char>,
    /// Whether the first row names the columns.
    pub has_header: bool,
    /// The character encoding.
    pub encoding: Encoding,
}

impl Default for CsvProperties {
    fn default() -> CsvProperties {
        CsvProperties {
            separator: Separator::Comma,
            quote: '"',
            escape: None,
            has_header: true,
            encoding: Encoding::Utf8,
        }
    }
}

impl CsvProperties {
    /// The properties of a file, guessed from its first bytes: the encoding from a byte-order
    /// mark, zero bytes or invalid UTF-8; the separator as the candidate found the same number
    /// of times on the most lines; `'` as the quote when fields start with it and never with
    /// `"`; `\` as the escape when it precedes quotes. A header row is assumed.
    pub fn detect(sample: &[u8]) -> CsvProperties {
        let encoding = detect_encoding(sample);
        let text = decode_sample(sample, encoding);
        let quote = detect_quote(&text);
        let separator = detect_separator(&text, quote);
        let escaped = format!("\\{quote}");
        let escape = text.contains(&escaped).then_some('\\');
        CsvProperties {
            separator,
            quote,
            escape,
            has_header: true,
            encoding,
        }
    }
}

fn detect_encoding(sample: &[u8]) -> Encoding {
    match sample {
        [0xEF, 0xBB, 0xBF, ..] => return Encoding::Utf8,
        [0xFF, 0xFE, ..] => return Encoding::Utf16Le,
        [0xFE, 0xFF, ..] => return Encoding::Utf16Be,
        _ => {}
    }
    // UTF-16 without a mark: ASCII text has a zero in every other byte.
    let pairs = sample.len() / 2;
    if pairs >= 2 {
        let zeros_odd = sample.chunks_exact(2).filter(|p| p[1] == 0).count();
        let zeros_even = sample.chunks_exact(2).filter(|p| p[0] == 0).count();
        if zeros_odd * 10 >= pairs * 4 && zeros_even * 10 < pairs {
            return Encoding::Utf16Le;
        }
        if zeros_even * 10 >= pairs * 4 && zeros_odd * 10 < pairs {
            return Encoding::Utf16Be;
        }
    }
    // UTF-8 unless the sample's invalid byte sequences outnumber its valid non-ASCII
    // characters: a UTF-8 file with one bad row stays UTF-8 (that row is refused by name, the
    // others keep their accents), while 8-bit text, whose accented letters are each an invalid
    // sequence, is read as Windows-1252.
    let mut invalid = 0usize;
    let mut non_ascii = 0usize;
    let mut chunks = sample.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        non_ascii += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        // A sample may cut a character in two at its end: that is still UTF-8.
        let cut_at_the_end = chunks.peek().is_none() && chunk.invalid().len() < 4;
        if !chunk.invalid().is_empty() && !cut_at_the_end {
            invalid += 1;
        }
    }
    if invalid > non_ascii {
        Encoding::Windows1252
    } else {
        Encoding::Utf8
    }
}

fn decode_sample(sample: &[u8], encoding: Encoding) -> String {
    match encoding.decoder() {
        None => String::from_utf8_lossy(sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample))
            .into_owned(),
        Some(decoder) => decoder.decode(sample).0.into_owned(),
    }
}

/// `'` when no `"` appears and fields open and close with `'` as often (a field such as
/// `'Acme, Inc'` splits in two on its comma, each half with one quote); `"` otherwise.
fn detect_quote(text: &str) -> char {
    let double = text.matches('"').count();
    let fields = || {
        text.lines()
            .flat_map(|line| line.split([',', ';', '|', '\t']))
            .map(str::trim)
    };
    let opening = fields().filter(|field| field.starts_with('\'')).count();
    let closing = fields()
        .filter(|field| field.len() > 1 && field.ends_with('\''))
        .count();
    if double == 0 && opening > 0 && opening == closing {
        '\''
    } else {
        '"'
    }
}

/// Counts each candidate outside quotes on each of the first lines, and picks the one whose
/// count is the same, and non-zero, on the most lines (then the higher count).
fn detect_separator(text: &str, quote: char) -> Separator {
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).take(20).collect();
    // The last line of a sample may be cut short.
    let lines = if lines.len() > 2 {
        &lines[..lines.len() - 1]
    } else {
        &lines[..]
    };
    let mut best = (Separator::Comma, 0usize, 0usize);
    for candidate in Separator::ALL {
        let sep = candidate.byte() as char;
        let counts: Vec<usize> = lines
            .iter()
            .map(|line| {
                let mut quoted = false;
                line.chars()
                    .filter(|&c| {
                        if c == quote {
                            quoted = !quoted;
                        }
                        !quoted && c == sep
                    })
                    .count()
            })
            .collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        if first == 0 {
            continue;
        }
        let agreeing = counts.iter().filter(|&&c| c == first).count();
        if (agreeing, first) > (best.1, best.2) && !(candidate == Separator::Space && best.1 > 0) {
            best = (candidate, agreeing, first);
        }
    }
    best.0
}

/// A reader that turns the bytes of a file in `encoding` into UTF-8 as it streams, dropping a
/// UTF-8 byte-order mark. Bytes that are not valid in the encoding become U+FFFD, except in
/// UTF-8, where they are passed through so the row they are in can be refused by name.
pub(crate) struct Utf8Reader<R> {
    inner: R,
    decoder: Option<encoding_rs::Decoder>,
    input: Vec<u8>,
    input_start: usize,
    input_end: usize,
    output: Vec<u8>,
    output_start: usize,
    output_end: usize,
    eof: bool,
    first: bool,
}

impl<R: Read> Utf8Reader<R> {
    pub(crate) fn new(inner: R, encoding: Encoding) -> Utf8Reader<R> {
        Utf8Reader {
            inner,
            // `new_decoder` removes a byte-order mark of the encoding if there is one.
            decoder: encoding.decoder().map(|e| e.new_decoder()),
            input: vec![0; 64 * 1024],
            input_start: 0,
            input_end: 0,
            output: vec![0; 3 * 64 * 1024 + 16],
            output_start: 0,
            output_end: 0,
            eof: false,
            first: true,
        }
    }

    fn fill_input(&mut self) -> io::Result<()> {
        if self.input_start == self.input_end {
            self.input_start = 0;
            self.input_end = 0;
            let n = self.inner.read(&mut self.input)?;
            self.input_end = n;
            self.eof = n == 0;
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.decoder.is_none() {
            // UTF-8: pass through, without a leading byte-order mark.
            if self.first {
                self.first = false;
                let mut bom = [0u8; 3];
                let mut got = 0;
                while got < 3 {
                    let n = self.inner.read(&mut bom[got..])?;
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                if got < 3 || bom != [0xEF, 0xBB, 0xBF] {
                    self.output[..got].copy_from_slice(&bom[..got]);
                    self.output_start = 0;
                    self.output_end = got;
                }
            }
            if self.output_start < self.output_end {
                let n = (self.output_end - self.output_start).min(buf.len());
                buf[..n].copy_from_slice(&self.output[self.output_start..self.output_start + n]);
                self.output_start += n;
                return Ok(n);
            }
            return self.inner.read(buf);
        }
        loop {
            if self.output_start < self.output_end {
                let n = (self.output_end - self.output_start).min(buf.len());
                buf[..n].copy_from_slice(&self.output[self.output_start..self.output_start + n]);
                self.output_start += n;
                return Ok(n);
            }
            if self.eof && self.input_start == self.input_end {
                return Ok(0);
            }
            // Borrow juggling: fill, then decode.
            let decoder_taken = self.decoder.take();
            let mut decoder = decoder_taken.expect("checked above");
            let filled = self.fill_input();
            if let Err(e) = filled {
                self.decoder = Some(decoder);
                return Err(e);
            }
            let (_, read, written, _) = decoder.decode_to_utf8(
                &self.input[self.input_start..self.input_end],
                &mut self.output,
                self.eof,
            );
            self.decoder = Some(decoder);
            self.input_start += read;
            self.output_start = 0;
            self.output_end = written;
            if written == 0 && self.eof && self.input_start == self.input_end {
                return Ok(0);
            }
        }
    }
}

/// A cell as the CSV files the host writes hold it: text a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so opening
/// an error report never runs what a hostile file or plugin put in it.
pub(crate) fn safe_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// Why a [`Guarded`] reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overrun {
    /// More bytes than the tenant's import limit.
    File {
        /// The limit.
        limit: u64,
        /// Bytes read when it stopped.
        read: u64,
    },
    /// A line longer than [`MAX_LINE_BYTES`].
    Line,
}

impl fmt::Display for Overrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Overrun::File { limit, .. } => write!(f, "over the import limit of {limit} bytes"),
            Overrun::Line => write!(f, "a line longer than {MAX_LINE_BYTES} bytes"),
        }
    }
}

impl std::error::Error for Overrun {}

impl Overrun {
    /// The overrun an I/O error of a [`Guarded`] reader carries, if it is one.
    pub(crate) fn of(error: &io::Error) -> Option<Overrun> {
        error.get_ref()?.downcast_ref::<Overrun>().copied()
    }
}

/// A reader of a file's raw bytes that counts them as they are read, and stops with an
/// [`Overrun`] at the tenant's size limit or at a line over [`MAX_LINE_BYTES`]: the limits hold
/// for a pipe or a device as for a regular file, and memory stays bounded.
pub(crate) struct Guarded<R> {
    inner: R,
    limit: u64,
    read: Arc<AtomicU64>,
    /// Bytes since the last line feed.
    line: u64,
}

impl<R> Guarded<R> {
    /// Reads `inner`, counting into `read`, up to `limit` bytes.
    pub(crate) fn new(inner: R, limit: u64, read: Arc<AtomicU64>) -> Guarded<R> {
        Guarded {
            inner,
            limit,
            read,
            line: 0,
        }
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = self.read.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if read > self.limit {
            return Err(io::Error::other(Overrun::File {
                limit: self.limit,
                read,
            }));
        }
        // The first piece of the chunk goes on the line before it; each line feed starts anew.
        let mut pieces = buf[..n].split(|&b| b == b'\n');
        let mut line = self.line + pieces.next().map_or(0, |p| p.len() as u64);
        let mut longest = line;
        for piece in pieces {
            line = piece.len() as u64;
            longest = longest.max(line);
        }
        self.line = line;
        if longest > MAX_LINE_BYTES {
            return Err(io::Error::other(Overrun::Line));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], encoding: Encoding) -> String {
        let mut out = String::new();
        Utf8Reader::new(bytes, encoding)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend(if big_endian {
                [0xFE, 0xFF]
            } else {
                [0xFF, 0xFE]
            });
        }
        for unit in text.encode_utf16() {
            out.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn encodings_are_detected_and_decoded() {
        let text = "Name;Country\nMüller GmbH;DE\nZoë Ltd;GB\n";
        let p = CsvProperties::detect(text.as_bytes());
        assert_eq!(
            (p.encoding, p.separator),
            (Encoding::Utf8, Separator::Semicolon)
        );

        let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(CsvProperties::detect(&bom).encoding, Encoding::Utf8);
        assert_eq!(decode_all(&bom, Encoding::Utf8), text);

        for (big, bom) in [(false, true), (true, true), (false, false), (true, false)] {
            let bytes = utf16(text, big, bom);
            let p = CsvProperties::detect(&bytes);
            let expected = if big {
                Encoding::Utf16Be
            } else {
                Encoding::Utf16Le
            };
            assert_eq!(p.encoding, expected, "big {big} bom {bom}");
            assert_eq!(p.separator, Separator::Semicolon);
            assert_eq!(decode_all(&bytes, expected), text);
        }

        // One bad byte in a UTF-8 file leaves it UTF-8.
        let mut one_bad = text.as_bytes().to_vec();
        one_bad.extend(b"Bad \xFF Row;DE\n");
        assert_eq!(CsvProperties::detect(&one_bad).encoding, Encoding::Utf8);
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        let p = CsvProperties::detect(&latin1);
        assert_eq!(p.encoding, Encoding::Windows1252);
        assert_eq!(decode_all(&latin1, Encoding::Windows1252), text);
    }

    #[test]
    fn separators_quotes_and_escapes_are_detected() {
        let cases = [
            ("a,b,c\n1,2,3\n4,5,6\n", Separator::Comma),
            ("a|b|c\n1|2|3\n", Separator::Pipe),
            ("a\tb\tc\n1\t2\t3\n", Separator::Tab),
            ("a b c\n1 2 3\n", Separator::Space),
            // Commas inside quotes do not count.
            (
                "name;note\n\"A, B, C\";x\n\"D, E\";y\n",
                Separator::Semicolon,
            ),
            // Spaces inside values do not win over the real separator.
            (
                "Company Name,Country Code\nAcme Corp Ltd,US\n",
                Separator::Comma,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                CsvProperties::detect(text.as_bytes()).separator,
                expected,
                "{text}"
            );
        }
        let single = CsvProperties::detect(b"name,city\n'A, Inc','Oslo'\n'B','Rome'\n");
        assert_eq!(single.quote, '\'');
        // One data row quoted with `'` under a header without quotes.
        let single = CsvProperties::detect(b"Name,City\n'Acme, Inc','Oslo'\n");
        assert_eq!(single.quote, '\'');
        // An apostrophe inside a name is no quote.
        let apostrophe = CsvProperties::detect(b"Name,City\nO'Brien Ltd,Cork\n");
        assert_eq!(apostrophe.quote, '"');
        let escaped = CsvProperties::detect(b"name,note\n\"A\",\"say \\\"hi\\\"\"\n");
        assert_eq!(escaped.escape, Some('\\'));
        assert_eq!(CsvProperties::detect(b"a,b\n1,2\n").escape, None);
    }

    #[test]
    fn a_large_utf16_stream_decodes_across_buffer_boundaries() {
        let row = "Ünïcödé Partner,DE\n";
        let text = row.repeat(20_000);
        let bytes = utf16(&text, false, true);
        assert_eq!(decode_all(&bytes, Encoding::Utf16Le), text);
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for formula in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-1+2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(safe_cell(formula), format!("'{formula}"));
        }
        assert_eq!(safe_cell("Acme = good"), "Acme = good");
        assert_eq!(safe_cell(""), "");
    }
}
