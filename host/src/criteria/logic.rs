//! The advanced-logic expression over filter numbers, such as `(1 AND 2) OR NOT 3`.
//! `NOT` binds tightest, then `AND`, then `OR`; words are case-insensitive. Errors give the
//! character offset of the problem.

use crate::error::{Error, ErrorKind, Result};

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
    };
    if parser.tokens.is_empty() {
        return Err(error(0, "the expression is empty"));
    }
    let expr = parser.or()?;
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
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(_, p)| *p)
    }

    fn or(&mut self) -> Result<Expr> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut left = self.not()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr> {
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
                Ok(Expr::Filter(n))
            }
            Some((Token::Open, _)) => {
                self.at += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(error(self.position(), "expected `)`"));
                }
                self.at += 1;
                Ok(inner)
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
}
