//! The advanced-logic expression over filter numbers, such as `(1 AND 2) OR NOT 3`.
//! `NOT` binds tightest, then `AND`, then `OR`; words are case-insensitive. Errors give the
//! character offset of the problem.
//!
//! An expression is at most [`MAX_DEPTH`] levels deep (each `(`, `NOT`, `AND` and `OR` is a
//! level), so parsing it, evaluating it and the SQL built from it never exhaust a stack: a deeper
//! one is refused with the position where it became too deep.

use crate::error::{Error, ErrorKind, Result};

/// How deep an expression may nest: parentheses, `NOT`s and each `AND` or `OR` of a chain.
pub const MAX_DEPTH: usize = 100;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    /// Filter number `n` (1-based).
    Filter(usize),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Every filter ANDed: the default logic.
    pub(crate) fn all(count: usize) -> Option<Expr> {
        (1..=count)
            .map(Expr::Filter)
            .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
    }

    /// Marks in `used` (indexed by filter number - 1) every filter the expression names.
    pub(crate) fn mark_used(&self, used: &mut [bool]) {
        match self {
            Expr::Filter(n) => used[n - 1] = true,
            Expr::Not(e) => e.mark_used(used),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.mark_used(used);
                b.mark_used(used);
            }
        }
    }

    /// Evaluates with `leaf` giving each filter's answer.
    pub(crate) fn eval(&self, leaf: &impl Fn(usize) -> bool) -> bool {
        match self {
            Expr::Filter(n) => leaf(*n),
            Expr::Not(e) => !e.eval(leaf),
            Expr::And(a, b) => a.eval(leaf) && b.eval(leaf),
            Expr::Or(a, b) => a.eval(leaf) || b.eval(leaf),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Number(usize),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn error(position: usize, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Criteria {
        position: Some(position),
        message: message.into(),
    })
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push((Token::Open, i));
            i += 1;
        } else if c == ')' {
            tokens.push((Token::Close, i));
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let n = digits
                .parse()
                .map_err(|_| error(start, format!("`{digits}` is too large")))?;
            tokens.push((Token::Number(n), start));
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let token = match word.to_ascii_uppercase().as_str() {
                "AND" => Token::And,
                "OR" => Token::Or,
                "NOT" => Token::Not,
                _ => {
                    return Err(error(
                        start,
                        format!("unknown word `{word}`: use filter numbers, AND, OR, NOT and ()"),
                    ));
                }
            };
            tokens.push((token, start));
        } else {
            return Err(error(i, format!("unexpected `{c}`")));
        }
    }
    Ok(tokens)
}

/// Parses `text`; every number must name one of `filters` filters.
pub(crate) fn parse(text: &str, filters: usize) -> Result<Expr> {
    let tokens = tokenize(text)?;
    let end = text.chars().count();
    let mut parser = Parser {
        tokens,
        at: 0,
        end,
        filters,
        depth: 0,
    };
    if parser.tokens.is_empty() {
        return Err(error(0, "the expression is empty"));
    }
    let (expr, _) = parser.or()?;
    if let Some((_, position)) = parser.tokens.get(parser.at) {
        return Err(error(
            *position,
            "expected AND or OR here (or the end of the expression)",
        ));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    end: usize,
    filters: usize,
    /// How many `(` and `NOT` the parser is inside of now.
    depth: usize,
}

/// An expression and how deep it is.
type Parsed = (Expr, usize);

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(_, p)| *p)
    }

    /// Fails at `position` when an expression `depth` deep is too deep.
    fn check_depth(&self, depth: usize, position: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(error(
                position,
                format!(
                    "the expression is nested too deeply here: at most {MAX_DEPTH} levels of \
                     parentheses, NOT, AND and OR"
                ),
            ));
        }
        Ok(())
    }

    /// A chain of `next` joined by `operator`, built left to right.
    fn chain(
        &mut self,
        operator: Token,
        next: fn(&mut Parser) -> Result<Parsed>,
        join: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Parsed> {
        let (mut left, mut depth) = next(self)?;
        while self.peek() == Some(&operator) {
            let position = self.position();
            self.at += 1;
            let (right, right_depth) = next(self)?;
            depth = depth.max(right_depth) + 1;
            self.check_depth(self.depth + depth, position)?;
            left = join(Box::new(left), Box::new(right));
        }
        Ok((left, depth))
    }

    fn or(&mut self) -> Result<Parsed> {
        self.chain(Token::Or, Parser::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Parsed> {
        self.chain(Token::And, Parser::not, Expr::And)
    }

    fn not(&mut self) -> Result<Parsed> {
        if self.peek() == Some(&Token::Not) {
            let (expr, depth) = self.nested(Parser::not)?;
            return Ok((Expr::Not(Box::new(expr)), depth + 1));
        }
        self.atom()
    }

    /// Steps over the current token (a `(` or `NOT`) and parses what it opens one level deeper.
    fn nested(&mut self, inner: fn(&mut Parser) -> Result<Parsed>) -> Result<Parsed> {
        let position = self.position();
        self.depth += 1;
        self.check_depth(self.depth, position)?;
        self.at += 1;
        let parsed = inner(self);
        self.depth -= 1;
        parsed
    }

    fn atom(&mut self) -> Result<Parsed> {
        let position = self.position();
        match self.tokens.get(self.at).cloned() {
            Some((Token::Number(n), _)) => {
                self.at += 1;
                if n == 0 || n > self.filters {
                    return Err(error(
                        position,
                        format!(
                            "there is no filter {n}: the filters are numbered 1 to {}",
                            self.filters
                        ),
                    ));
                }
                Ok((Expr::Filter(n), 0))
            }
            Some((Token::Open, _)) => {
                let (inner, depth) = self.nested(Parser::or)?;
                if self.peek() != Some(&Token::Close) {
                    return Err(error(self.position(), "expected `)`"));
                }
                self.at += 1;
                Ok((inner, depth))
            }
            Some(_) => Err(error(position, "expected a filter number, NOT or `(`")),
            None => Err(error(
                position,
                "the expression ends early: expected a filter number, NOT or `(`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position_of(text: &str, filters: usize) -> (usize, String) {
        match parse(text, filters).unwrap_err().into_kind() {
            ErrorKind::Criteria {
                position: Some(p),
                message,
            } => (p, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let expr = parse("(1 AND 2) OR NOT 3", 3).unwrap();
        let truth = |a: bool, b: bool, c: bool| {
            expr.eval(&|n| match n {
                1 => a,
                2 => b,
                _ => c,
            })
        };
        assert!(truth(true, true, true));
        assert!(!truth(true, false, true));
        assert!(truth(false, false, false));
        let expr = parse("1 or 2 and not 3", 3).unwrap();
        assert_eq!(
            expr,
            Expr::Or(
                Box::new(Expr::Filter(1)),
                Box::new(Expr::And(
                    Box::new(Expr::Filter(2)),
                    Box::new(Expr::Not(Box::new(Expr::Filter(3))))
                ))
            )
        );
    }

    #[test]
    fn errors_point_at_the_position() {
        assert_eq!(position_of("1 AND 4", 3).0, 6);
        assert!(position_of("1 AND 4", 3).1.contains("no filter 4"));
        assert_eq!(position_of("(1 AND 2", 2).0, 8);
        assert_eq!(position_of("1 2", 2).0, 2);
        assert_eq!(position_of("1 AND", 2).0, 5);
        assert_eq!(position_of("1 XOR 2", 2).0, 2);
        assert_eq!(position_of("1 & 2", 2).0, 2);
        assert_eq!(position_of("  ", 2).0, 0);
        assert_eq!(position_of("1 AND )", 2).0, 6);
        let shown = parse("1 AND 4", 3).unwrap_err().to_string();
        assert!(shown.contains("character 7"), "{shown}");
    }

    /// Runs `work` on a thread with a small stack (256 KiB; the default of a spawned thread is
    /// 2 MiB), as a library thread of an embedding application might.
    fn on_a_small_stack<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(work)
            .unwrap()
            .join()
            .expect("no stack overflow")
    }

    #[test]
    fn deeply_nested_expressions_are_refused_with_a_position_not_a_stack_overflow() {
        let parens = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let nots = format!("{}1", "NOT ".repeat(30_000));
        let chain = vec!["1"; 5_000].join(" AND ");
        let (parens, nots, chain) = on_a_small_stack(move || {
            let at = |text: &str| match parse(text, 1).unwrap_err().into_kind() {
                ErrorKind::Criteria {
                    position: Some(at),
                    message,
                } => (at, message),
                other => panic!("{other:?}"),
            };
            (at(&parens), at(&nots), at(&chain))
        });
        // The first token past the limit is named.
        assert_eq!(parens.0, MAX_DEPTH, "{parens:?}");
        assert!(parens.1.contains("nested too deeply"), "{parens:?}");
        assert_eq!(nots.0, MAX_DEPTH * 4, "{nots:?}");
        assert_eq!(chain.0, MAX_DEPTH * 6 + 2, "{chain:?}");
        // Up to the limit, expressions parse.
        let deep = format!("{}1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&deep, 1).unwrap(), Expr::Filter(1));
        let long = vec!["1"; MAX_DEPTH + 1].join(" OR ");
        assert!(parse(&long, 1).is_ok());
    }

    /// A small, seeded generator (xorshift64*), so the property runs below are the same on
    /// every run and need no extra crate.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }
    }

    /// A random expression over filters 1 to 3, `depth` levels at most, with the text that
    /// spells it (random case, random spacing, random redundant parentheses).
    fn expression(random: &mut Random, depth: usize) -> (Expr, String) {
        let pick = if depth == 0 { 0 } else { random.below(5) };
        let (expr, text) = match pick {
            0 | 1 => {
                let n = 1 + random.below(3);
                (Expr::Filter(n), n.to_string())
            }
            2 => {
                let (e, t) = expression(random, depth - 1);
                let word = ["NOT", "not", "Not"][random.below(3)];
                (Expr::Not(Box::new(e)), format!("{word} ({t})"))
            }
            kind => {
                let (a, ta) = expression(random, depth - 1);
                let (b, tb) = expression(random, depth - 1);
                let (word, expr) = if kind == 3 {
                    ("AND", Expr::And(Box::new(a), Box::new(b)))
                } else {
                    ("or", Expr::Or(Box::new(a), Box::new(b)))
                };
                (expr, format!("({ta}) {word}  ({tb})"))
            }
        };
        if random.below(4) == 0 {
            (expr, format!(" ( {text} ) "))
        } else {
            (expr, text)
        }
    }

    #[test]
    fn property_printed_expressions_parse_back_to_the_same_truth() {
        let mut random = Random(0x5eed_1234_abcd_0001);
        for _ in 0..2_000 {
            let (expr, text) = expression(&mut random, 6);
            let parsed = parse(&text, 3).unwrap_or_else(|e| panic!("`{text}`: {e}"));
            for bits in 0..8usize {
                let leaf = |n: usize| bits & (1 << (n - 1)) != 0;
                assert_eq!(parsed.eval(&leaf), expr.eval(&leaf), "`{text}`, {bits:03b}");
            }
        }
    }

    #[test]
    fn property_any_text_parses_or_fails_at_a_position_inside_it() {
        // Fragments a hostile or clumsy user types, glued at random, nested deep at times.
        let fragments = [
            "1",
            "2",
            "3",
            "12",
            "0",
            "99999999999999999999999",
            "AND",
            "or",
            "NoT",
            "(",
            ")",
            " ",
            "",
            "((((",
            "))))",
            "NOT NOT NOT",
            "&",
            "é",
            "\u{0}",
            "AND (",
            "1 OR",
            "XOR",
        ];
        let mut random = Random(0xfeed_beef_0bad_cafe);
        let mut texts = Vec::new();
        for _ in 0..3_000 {
            let parts = random.below(60);
            let mut text = String::new();
            for _ in 0..parts {
                let fragment = fragments[random.below(fragments.len())];
                let times = if random.below(20) == 0 { 200 } else { 1 };
                for _ in 0..times {
                    text.push_str(fragment);
                    text.push(' ');
                }
            }
            texts.push(text);
        }
        on_a_small_stack(move || {
            for text in texts {
                match parse(&text, 3) {
                    Ok(expr) => {
                        let mut used = [false; 3];
                        expr.mark_used(&mut used);
                        expr.eval(&|n| n == 1);
                    }
                    Err(error) => match error.into_kind() {
                        ErrorKind::Criteria {
                            position: Some(at), ..
                        } => assert!(at <= text.chars().count(), "`{text}`"),
                        other => panic!("`{text}`: {other:?}"),
                    },
                }
            }
        });
    }
}
