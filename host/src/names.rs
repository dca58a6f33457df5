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

/// The candidate nearest to `given` by edit distance, if one is near enough to be a likely typo
/// (at most a third of its length away, and at least one edit): `treshold` finds `threshold`.
pub fn nearest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (given.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(given, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters, ignoring ASCII case.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().map(|c| c.to_ascii_lowercase()).enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{nearest, one_of};

    #[test]
    fn nearest_finds_typos_only() {
        assert_eq!(
            nearest("treshold", ["threshold", "tiers"]),
            Some("threshold")
        );
        assert_eq!(
            nearest("country-out", ["country-regions", "arr-tier"]),
            None
        );
        assert_eq!(nearest("arr_tier", ["arr-tier"]), Some("arr-tier"));
        assert_eq!(nearest("x", ["y"]), Some("y"));
        assert_eq!(nearest("tiers", Vec::<&str>::new()), None);
    }

    #[test]
    fn lists_read_as_a_sentence() {
        assert_eq!(one_of(&["a"]), "a");
        assert_eq!(one_of(&["a", "b"]), "a or b");
        assert_eq!(one_of(&["a", "b", "c"]), "a, b or c");
    }
}

/// `text` folded for comparing names "ignoring case", in every script: `Ärzte` and `ärzte`,
/// `École` and `école`, `STRASSE` and `Straße`, `ΟΔΟΣ` and `οδος` fold alike.
///
/// Each character is upper-cased, then lower-cased (`char::to_uppercase`, `to_lowercase`): for
/// comparing, this agrees with Unicode's full case folding (CaseFolding.txt, statuses C and F)
/// on the cases names meet: the round trip sends `ß` to `ss` (and `ẞ`, with one more step), `ς` to `σ`, `ﬁ` to `fi`,
/// `µ` to `μ`, the Kelvin sign to `k`, where a plain `to_lowercase` keeps them apart. Unicode
/// does not fold the dotless `ı` (the round trip would make it `i`), so it is kept as it is. No
/// normalisation is done: a name typed with a combining accent is another name.
pub(crate) fn fold_case(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    fold_case_into(text, &mut folded);
    folded
}

/// [`fold_case`] into `folded` (emptied first), for a caller that folds many names and keeps
/// one buffer for them.
pub(crate) fn fold_case_into(text: &str, folded: &mut String) {
    folded.clear();
    if text.is_ascii() {
        folded.push_str(text);
        folded.make_ascii_lowercase();
        return;
    }
    for c in text.chars() {
        if c == 'ı' {
            folded.push(c);
            continue;
        }
        for lower in c.to_uppercase().flat_map(char::to_lowercase) {
            // The capital `ẞ` upper-cases to itself: its `ß` is folded here.
            if lower == 'ß' {
                folded.push_str("ss");
            } else {
                folded.push(lower);
            }
        }
    }
}

#[cfg(test)]
mod fold_tests {
    use super::fold_case;

    #[test]
    fn names_fold_alike_whatever_their_case_in_any_script() {
        for (a, b) in [
            ("Ärzte", "ärzte"),
            ("École", "école"),
            ("ÉCOLE", "école"),
            ("STRASSE", "Straße"),
            ("Straße", "STRAẞE"),
            ("ΟΔΟΣ", "οδος"),
            ("οδοσ", "οδος"),
            ("\u{212A}elvin", "kelvin"),
            ("ﬁne", "FINE"),
            ("Acme", "ACME"),
        ] {
            assert_eq!(fold_case(a), fold_case(b), "{a} / {b}");
        }
        for (a, b) in [
            ("Kırmızı", "Kirmizi"),
            ("École", "Ecole"),
            ("Ärzte", "Aerzte"),
        ] {
            assert_ne!(fold_case(a), fold_case(b), "{a} / {b}");
        }
    }
}
