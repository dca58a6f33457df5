//! Names of fieldless enums: the text the database, the command line and JSON use for each
//! variant, read and written by one definition.

/// Gives a fieldless enum `as_str`, `Display`, and a `FromStr` whose error names what was given
/// and lists what was expected: `named_enum!(PlanStatus, "plan status", { Draft => "draft", .. })`.
macro_rules! named_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            #[doc = concat!("The ", $what, "'s name:", $(" `", $name, "`"),+, ".")]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = crate::error::Error;

            fn from_str(s: &str) -> crate::error::Result<$ty> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err(crate::error::Error::new(crate::error::ErrorKind::Invalid(
                        format!(
                            "{} `{other}`: expected {}",
                            $what,
                            crate::names::one_of(&[$($name),+])
                        ),
                    ))),
                }
            }
        }
    };
}

pub(crate) use named_enum;

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::one_of;

    #[test]
    fn lists_read_as_a_sentence() {
        assert_eq!(one_of(&["a"]), "a");
        assert_eq!(one_of(&["a", "b"]), "a or b");
        assert_eq!(one_of(&["a", "b", "c"]), "a, b or c");
    }
}
