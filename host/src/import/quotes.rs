//! Unclosed quotes: a reader that stands between the decoded text of a CSV file and the CSV
//! parser, and keeps a quote that is never closed from swallowing the rest of the file.
//!
//! It follows the file as the parser does (the `csv` crate's grammar: a quote opens a quoted
//! field only at the start of a field; inside, a doubled quote or the escape character keeps a
//! quote, and any other quote closes it), and holds back the bytes of a quoted field until the
//! field closes. A quote was never closed when its field is still open at the end of the file or
//! after [`MAX_QUOTED_BYTES`], or when the field spans lines and is "closed" by a quote that more
//! text follows (the opening quote of a later row's cell: `2,"broken` then `3,"Acme"`). Then the
//! parser is handed the row up to the quote, the quote closed at once and the row ended, and
//! the lines after the one the quote opened on are read again as rows of their own. The row is
//! noted ([`Unclosed`]) so the import fails it by name: the row, and the column the quote
//! opened in. A quote that a later line closes properly (followed by a separator or a line end)
//! cannot be told from a field of several lines, and is read as one.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The longest quoted field followed before its quote is taken as never closed. A field over
/// [`MAX_FIELD_BYTES`](super::csvfile::MAX_FIELD_BYTES) fails its row anyway; this is 16 times
/// that, so a field of doubled quotes or line breaks is never cut short.
pub(crate) const MAX_QUOTED_BYTES: usize = 16 * super::csvfile::MAX_FIELD_BYTES;

/// Bytes read from the inner reader at a time.
const CHUNK: usize = 64 * 1024;

/// The rows whose quote never closed, as the [`QuoteGuard`] finds them: where each starts in
/// the text it hands on, and the field (from 0) the quote opened in. Shared between the guard,
/// inside the parser, and the code that reads the parser's records.
#[derive(Debug, Clone, Default)]
pub(crate) struct Unclosed {
    inner: Arc<Marks>,
}

#[derive(Debug, Default)]
struct Marks {
    /// How many marks are queued: a look with nothing queued takes no lock.
    queued: AtomicUsize,
    marks: Mutex<VecDeque<(u64, usize)>>,
}

impl Unclosed {
    fn push(&self, at: u64, field: usize) {
        let mut marks = self.inner.marks.lock().unwrap_or_else(|e| e.into_inner());
        marks.push_back((at, field));
        self.inner.queued.store(marks.len(), Ordering::Release);
    }

    /// The field whose quote never closed in the record the parser read from byte `start` up
    /// to `end` of the text handed on, if there is one. Records are asked about in order: marks
    /// before `end` are forgotten.
    pub(crate) fn within(&self, start: u64, end: u64) -> Option<usize> {
        if self.inner.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut marks = self.inner.marks.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = None;
        while let Some(&(at, field)) = marks.front() {
            if at >= end {
                break;
            }
            marks.pop_front();
            if at >= start {
                found = Some(field);
            }
        }
        self.inner.queued.store(marks.len(), Ordering::Release);
        found
    }
}

/// Where the guard is in the CSV grammar (the `csv` crate's reader states, merged where they
/// behave alike for quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Between records (blank lines are skipped).
    StartRecord,
    StartField,
    /// In a field that did not start with a quote.
    InField,
    /// In a quoted field.
    Quoted,
    /// After the escape character in a quoted field.
    Escaped,
    /// After a quote in a quoted field: a doubled quote, or the field's end.
    QuoteInQuoted,
}

impl Lex {
    /// Inside a quoted field, where a line end is part of the field.
    fn is_quoted(self) -> bool {
        matches!(self, Lex::Quoted | Lex::Escaped)
    }
}

/// A reader of UTF-8 CSV text that hands it on unchanged, except for a quote that never
/// closes; see the module docs.
pub(crate) struct QuoteGuard<R> {
    inner: R,
    delimiter: u8,
    quote: u8,
    escape: Option<u8>,
    double_quote: bool,
    lex: Lex,
    /// The field of the record being read, from 0.
    field: usize,
    /// Where, in the text handed on, the record being read starts.
    record_start: u64,
    /// The field the open quote opened in.
    quote_field: usize,
    /// Whether the open quoted field holds a line end.
    quote_lines: bool,
    /// Bytes handed on (put in `out`) so far.
    handed: u64,
    /// Bytes of a quoted field that opened in an earlier chunk and has not closed, from its
    /// quote on: not handed on yet.
    held: Vec<u8>,
    /// Text to read again before reading on: the lines after an unclosed quote's, then the rest
    /// of the chunk that was being read.
    again: Vec<u8>,
    chunk: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
    unclosed: Unclosed,
    /// The bytes that leave the state as it is, in a field not quoted (`[0]`) and in a quoted
    /// one (`[1]`): runs of them are passed over in a tight loop.
    stays: [[bool; 256]; 2],
}

impl<R: Read> QuoteGuard<R> {
    /// Guards `inner`, read with these separator, quote and escape bytes (a quote is doubled
    /// when there is no escape), noting unclosed quotes in `unclosed`.
    pub(crate) fn new(
        inner: R,
        delimiter: u8,
        quote: u8,
        escape: Option<u8>,
        unclosed: Unclosed,
    ) -> QuoteGuard<R> {
        let mut stays = [[true; 256]; 2];
        for b in [delimiter, b'\n', b'\r'] {
            stays[0][usize::from(b)] = false;
        }
        for b in [quote, b'\n', b'\r'].into_iter().chain(escape) {
            stays[1][usize::from(b)] = false;
        }
        QuoteGuard {
            inner,
            delimiter,
            quote,
            escape,
            double_quote: escape.is_none(),
            lex: Lex::StartRecord,
            field: 0,
            record_start: 0,
            quote_field: 0,
            quote_lines: false,
            handed: 0,
            held: Vec::new(),
            again: Vec::new(),
            chunk: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            eof: false,
            unclosed,
            stays,
        }
    }

    fn hand_on(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.handed += bytes.len() as u64;
    }

    /// The state after byte `b` in state `lex`.
    fn step(&self, lex: Lex, b: u8) -> Lex {
        let term = b == b'\n' || b == b'\r';
        match lex {
            Lex::StartRecord if term => Lex::StartRecord,
            Lex::StartRecord | Lex::StartField if b == self.quote => Lex::Quoted,
            Lex::Quoted if b == self.quote => Lex::QuoteInQuoted,
            Lex::Quoted if self.escape == Some(b) => Lex::Escaped,
            Lex::Quoted => Lex::Quoted,
            Lex::Escaped => Lex::Quoted,
            Lex::QuoteInQuoted if self.double_quote && b == self.quote => Lex::Quoted,
            _ if b == self.delimiter => Lex::StartField,
            _ if term => Lex::StartRecord,
            _ => Lex::InField,
        }
    }

    /// Follows `data` through the grammar, handing on what is settled and holding back an open
    /// quoted field. Stops early after an unclosed quote: the rest is in `again` then.
    fn scan(&mut self, data: &[u8]) {
        // The start of the bytes of `data` neither handed on nor held yet, and where in `data`
        // the open quote opened, if it opened in `data`.
        let mut pass = 0;
        let mut open: Option<usize> = None;
        let mut i = 0;
        while i < data.len() {
            let stays = match self.lex {
                Lex::InField => Some(&self.stays[0]),
                Lex::Quoted => Some(&self.stays[1]),
                _ => None,
            };
            if let Some(stays) = stays {
                i += data[i..]
                    .iter()
                    .position(|&b| !stays[usize::from(b)])
                    .unwrap_or(data.len() - i);
                if i == data.len() {
                    break;
                }
            }
            let b = data[i];
            let before = self.lex;
            let after = self.step(before, b);
            self.lex = after;
            if before == Lex::StartRecord && after != Lex::StartRecord {
                self.record_start = self.handed + self.held.len() as u64 + (i - pass) as u64;
                self.field = 0;
            }
            match after {
                Lex::Quoted | Lex::Escaped => {
                    if matches!(before, Lex::StartRecord | Lex::StartField) {
                        open = Some(i);
                        self.quote_field = self.field;
                        self.quote_lines = false;
                    } else if b == b'\n' || b == b'\r' {
                        self.quote_lines = true;
                    }
                    let length = match open {
                        Some(open) if self.held.is_empty() => i - open,
                        _ => self.held.len() + (i - pass),
                    };
                    if length > MAX_QUOTED_BYTES {
                        self.never_closed(data, pass, open, i);
                        return;
                    }
                }
                Lex::QuoteInQuoted => {}
                // A quote that spans lines, closed by one that text follows: the quote was never
                // closed, and this one opens the next row's quoted cell.
                Lex::InField if before == Lex::QuoteInQuoted && self.quote_lines => {
                    self.never_closed(data, pass, open, i);
                    return;
                }
                Lex::StartField | Lex::StartRecord | Lex::InField => {
                    if after == Lex::StartField {
                        self.field += 1;
                    }
                    open = None;
                    if !self.held.is_empty() {
                        // The quoted field closed: what was held goes on.
                        self.held.extend_from_slice(&data[pass..i]);
                        let held = std::mem::take(&mut self.held);
                        self.hand_on(&held);
                        self.held = held;
                        self.held.clear();
                        pass = i;
                    }
                }
            }
            i += 1;
        }
        if matches!(self.lex, Lex::Quoted | Lex::Escaped | Lex::QuoteInQuoted) {
            match open {
                Some(open) if self.held.is_empty() => {
                    self.hand_on(&data[pass..open]);
                    self.held.extend_from_slice(&data[open..]);
                }
                _ => self.held.extend_from_slice(&data[pass..]),
            }
        } else {
            self.hand_on(&data[pass..]);
        }
    }

    /// The quote that opened at `open` in `data` (or at the start of `held`) never closes, seen
    /// at `at`: the row is ended at its quote and noted, and the lines after the quote's are
    /// read again, then the rest of `data`.
    fn never_closed(&mut self, data: &[u8], pass: usize, open: Option<usize>, at: usize) {
        let mut region = std::mem::take(&mut self.held);
        match open {
            Some(open) if region.is_empty() => {
                self.hand_on(&data[pass..open]);
                region.extend_from_slice(&data[open..at]);
            }
            _ => region.extend_from_slice(&data[pass..at]),
        }
        self.end_unclosed(&region);
        let after = region
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(region.len(), |end| end + 1);
        let mut again = region.split_off(after);
        again.extend_from_slice(&data[at..]);
        self.again = again;
    }

    /// Hands on the end of the row whose quote never closed: an empty quoted field, closed,
    /// and a line end. Notes the row, and starts a new record.
    fn end_unclosed(&mut self, region: &[u8]) {
        debug_assert_eq!(region.first(), Some(&self.quote));
        let quote = self.quote;
        self.hand_on(&[quote, quote, b'\n']);
        self.unclosed.push(self.record_start, self.quote_field);
        self.lex = Lex::StartRecord;
        self.field = 0;
    }
}

impl<R: Read> Read for QuoteGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() {
                let n = (self.out.len() - self.out_pos).min(buf.len());
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            self.out.clear();
            self.out_pos = 0;
            if !self.again.is_empty() {
                let again = std::mem::take(&mut self.again);
                self.scan(&again);
                continue;
            }
            if self.eof {
                if self.held.is_empty() {
                    return Ok(0);
                }
                let held = std::mem::take(&mut self.held);
                if self.lex.is_quoted() {
                    // The file ended inside a quoted field.
                    self.never_closed(&held, 0, Some(0), held.len());
                } else {
                    // It ended right after the field's closing quote.
                    self.hand_on(&held);
                }
                continue;
            }
            let mut chunk = std::mem::take(&mut self.chunk);
            chunk.resize(CHUNK, 0);
            let read = self.inner.read(&mut chunk);
            let n = match read {
                Ok(n) => n,
                Err(error) => {
                    self.chunk = chunk;
                    return Err(error);
                }
            };
            if n == 0 {
                self.eof = true;
            } else {
                self.scan(&chunk[..n]);
            }
            self.chunk = chunk;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of `text` as the import reads them through the guard, each with the field
    /// its quote never closed in.
    fn records(text: &str, escape: Option<u8>) -> Vec<(Vec<String>, Option<usize>)> {
        let unclosed = Unclosed::default();
        let guard = QuoteGuard::new(text.as_bytes(), b',', b'"', escape, unclosed.clone());
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .escape(escape)
            .double_quote(escape.is_none())
            .from_reader(guard);
        let mut out = Vec::new();
        let mut record = csv::ByteRecord::new();
        while csv.read_byte_record(&mut record).unwrap() {
            let start = record.position().map_or(0, |p| p.byte());
            let end = csv.position().byte();
            let cells = record
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            out.push((cells, unclosed.within(start, end)));
        }
        out
    }

    fn plain(cells: &[&str]) -> (Vec<String>, Option<usize>) {
        (cells.iter().map(|c| c.to_string()).collect(), None)
    }

    #[test]
    fn well_formed_files_read_through_the_guard_exactly_as_without_it() {
        // Random records of cells holding separators, quotes, escapes and line ends, written
        // by the csv crate: the guard must change nothing and note nothing.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let alphabet = [b'a', b',', b'"', b'\n', b'\r', b' ', b';', b'\\'];
        for round in 0..300 {
            let escape = (round % 3 == 0).then_some(b'\\');
            // The writer does not escape the escape character itself: no `\` in such files.
            let letters = if escape.is_some() {
                &alphabet[..7]
            } else {
                &alphabet[..]
            };
            let mut writer = csv::WriterBuilder::new()
                .flexible(true)
                .escape(escape.unwrap_or(b'"'))
                .double_quote(escape.is_none())
                .from_writer(Vec::new());
            let mut written = Vec::new();
            for _ in 0..1 + next(20) {
                let cells: Vec<String> = (0..1 + next(5))
                    .map(|_| {
                        (0..next(8))
                            .map(|_| char::from(letters[next(letters.len() as u64) as usize]))
                            .collect()
                    })
                    .collect();
                // A record of one empty cell is a blank line, which the parser skips.
                if cells.len() == 1 && cells[0].is_empty() {
                    continue;
                }
                writer.write_record(&cells).unwrap();
                written.push((cells, None));
            }
            let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
            assert_eq!(records(&text, escape), written, "{text:?}");
        }
    }

    #[test]
    fn closed_quotes_read_as_the_parser_reads_them() {
        let text = "a,b\n\"x, y\",\"multi\nline\"\n\"say \"\"hi\"\"\",z\r\nO\"Brien,\"\"\n\n";
        assert_eq!(
            records(text, None),
            vec![
                plain(&["a", "b"]),
                plain(&["x, y", "multi\nline"]),
                plain(&["say \"hi\"", "z"]),
                plain(&["O\"Brien", ""]),
            ]
        );
        let escaped = "\"a \\\" b\",c\n";
        assert_eq!(records(escaped, Some(b'\\')), vec![plain(&["a \" b", "c"])]);
    }

    #[test]
    fn an_unclosed_quote_fails_its_row_and_the_lines_after_it_are_read_on() {
        // The quote of row 2 is "closed" by row 4's opening quote, which text follows.
        let text = "1,ok\n2,\"broken\n3,fine\n4,\"also \"\"fine\"\"\"\n5,last";
        let read = records(text, None);
        assert_eq!(read.len(), 5, "{read:?}");
        assert_eq!(read[1].1, Some(1), "{read:?}");
        assert_eq!(read[0], plain(&["1", "ok"]));
        assert_eq!(read[2], plain(&["3", "fine"]));
        assert_eq!(read[3], plain(&["4", "also \"fine\""]));
        assert_eq!(read[4], plain(&["5", "last"]));
        // Two in a row, the second on the last line without a line end.
        let read = records("\"a\nb,\"c\nd", None);
        let unclosed: Vec<_> = read.iter().map(|(_, u)| *u).collect();
        assert_eq!(unclosed, [Some(0), Some(1), None], "{read:?}");
        assert_eq!(read[2], plain(&["d"]));
    }

    #[test]
    fn a_quote_open_past_the_cap_is_taken_as_never_closed() {
        let (first, row, last) = (
            "1,\"open\n",
            "2,a row that would otherwise be swallowed\n",
            "3,\"closes late\"\n",
        );
        let mut text = String::from(first);
        let mut rows = 0;
        while text.len() < MAX_QUOTED_BYTES + CHUNK {
            text.push_str(row);
            rows += 1;
        }
        text.push_str(last);
        let read = records(&text, None);
        assert_eq!(read[0].1, Some(1));
        assert!(read[1..].iter().all(|(_, u)| u.is_none()));
        assert_eq!(read.last().unwrap(), &plain(&["3", "closes late"]));
        assert_eq!(read.len(), 1 + rows + 1);
    }
}
