//! Criteria-based and manual selection of companies, end to end on a real SQLite file: every
//! operator on every field type it fits (standard and custom fields), the type checks that
//! refuse the rest, "include nulls", the logic expression and its errors, the `arr-tier` plugin
//! filter enabled through the administration API, and tagging the matches as partners.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cs_host::model::{AccessScope, Date, FieldValue, Fields, ManagedAs};
use cs_host::{
    CompanyKey, Criteria, EnableOptions, ErrorKind, FieldType, Filter, Host, ManualClock,
    NewCompany, Operator, Tenant, TenantLevel,
};

const ADMIN: &str = "admin@acme.example";

/// A host on a database file in `dir` with tenants `acme` (both levels) and `globex`.
fn host(dir: &Path) -> Host {
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ));
    let config = support::host_config().clock(clock);
    let host = Host::open(dir.join("cs.db"), config).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    host.create_tenant("globex", "Globex", TenantLevel::Company)
        .unwrap();
    host
}

fn date(text: &str) -> FieldValue {
    FieldValue::Date(text.parse::<Date>().unwrap())
}

/// Five companies covering every field type, with gaps (no value) in each field:
///
/// | name        | industry   | region | arr       | seats | reseller | since      | tier      |
/// |-------------|------------|--------|-----------|-------|----------|------------|-----------|
/// | Northwind   | Retail     | EMEA   | 120000    | 50    | true     | 2023-05-01 | Gold      |
/// | Contoso     | Software   | NA     | 480000    | 200   | false    | 2021-01-15 | Goldie    |
/// | Fabrikam    | Consulting | APAC   | 30000     | -     | -        | -          | -         |
/// | Initech     | -          | EMEA   | -         | 10    | true     | 2024-12-31 | gold_plus |
/// | 100% Data   | Data 50%   | -      | 1500000   | 5     | false    | 2022-06-30 | silver    |
fn seed(acme: &Tenant<'_>) {
    acme.companies()
        .define_field("seats", FieldType::Number, false)
        .unwrap();
    acme.companies()
        .define_field("reseller", FieldType::Boolean, false)
        .unwrap();
    acme.companies()
        .define_field("since", FieldType::Date, false)
        .unwrap();
    acme.companies()
        .define_field("tier", FieldType::Text, false)
        .unwrap();
    let companies = [
        NewCompany::new("Northwind")
            .field("industry", "Retail")
            .field("region", "EMEA")
            .field("arr", 120_000i64)
            .field("seats", 50i64)
            .field("reseller", true)
            .field("since", date("2023-05-01"))
            .field("tier", "Gold"),
        NewCompany::new("Contoso")
            .field("industry", "Software")
            .field("region", "NA")
            .field("arr", 480_000.0)
            .field("seats", 200i64)
            .field("reseller", false)
            .field("since", date("2021-01-15"))
            .field("tier", "Goldie"),
        NewCompany::new("Fabrikam")
            .field("industry", "Consulting")
            .field("region", "APAC")
            .field("arr", 30_000i64),
        NewCompany::new("Initech")
            .field("region", "EMEA")
            .field("seats", 10i64)
            .field("reseller", true)
            .field("since", date("2024-12-31"))
            .field("tier", "gold_plus"),
        NewCompany::new("100% Data")
            .field("industry", "Data 50%")
            .field("arr", 1_500_000i64)
            .field("seats", 5i64)
            .field("reseller", false)
            .field("since", date("2022-06-30"))
            .field("tier", "silver"),
    ];
    for company in companies {
        acme.companies().add(company).unwrap();
    }
}

/// The names criteria select, sorted.
fn names(tenant: &Tenant<'_>, criteria: &Criteria) -> Vec<String> {
    let selection = tenant
        .criteria()
        .run(criteria)
        .unwrap_or_else(|e| panic!("{criteria:?}: {e}"));
    assert_eq!(selection.count, selection.companies.len());
    let mut names: Vec<String> = selection.companies.into_iter().map(|c| c.name).collect();
    names.sort();
    names
}

/// The names one filter selects, sorted.
fn one(tenant: &Tenant<'_>, filter: Filter) -> Vec<String> {
    names(tenant, &Criteria::new(vec![filter]))
}

fn f<const N: usize>(field: &str, op: Operator, values: [FieldValue; N]) -> Filter {
    Filter::field(field, op, values)
}

fn t(text: &str) -> FieldValue {
    FieldValue::from(text)
}

fn n(value: i64) -> FieldValue {
    FieldValue::from(value)
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

/// The criteria error's message, asserting it is a criteria error without a position (a
/// filter's problem, not the expression's).
fn filter_error(tenant: &Tenant<'_>, criteria: &Criteria) -> String {
    let error = tenant.criteria().run(criteria).unwrap_err();
    match error.kind() {
        ErrorKind::Criteria {
            position: None,
            message,
        } => message.clone(),
        other => panic!("expected a criteria error without a position, got {other:?}"),
    }
}

/// The position and message of a logic-expression error.
fn logic_error(tenant: &Tenant<'_>, filters: usize, logic: &str) -> (usize, String) {
    let filters = (0..filters)
        .map(|_| f("region", Operator::IsNotNull, []))
        .collect();
    let error = tenant
        .criteria()
        .run(&Criteria::new(filters).logic(logic))
        .unwrap_err();
    match error.kind() {
        ErrorKind::Criteria {
            position: Some(at),
            message,
        } => (*at, message.clone()),
        other => panic!("`{logic}`: expected a positioned error, got {other:?}"),
    }
}

fn setup(dir: &Path) -> Host {
    let host = host(dir);
    seed(&host.tenant("acme").unwrap());
    host
}

/// The tenant `acme`, acting as its admin (added the first time).
fn admin(host: &Host) -> cs_host::Tenant<'_> {
    let acme = host.tenant("acme").unwrap();
    if acme.users().by_email(ADMIN).unwrap().is_none() {
        acme.access().add_admin(ADMIN, "Ada").unwrap();
    }
    acme.acting_as(ADMIN)
}

#[test]
fn text_operators_on_standard_and_custom_fields() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    use Operator::*;
    // EQ and NE ignore case; a company without a value is neither equal nor unequal.
    assert_eq!(
        one(&acme, f("region", Eq, [t("emea")])),
        sorted(&["Initech", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("region", Ne, [t("EMEA")])),
        sorted(&["Contoso", "Fabrikam"])
    );
    assert_eq!(
        one(&acme, f("tier", Eq, [t("GOLD")])),
        sorted(&["Northwind"])
    );
    assert_eq!(
        one(&acme, f("tier", Ne, [t("gold")])),
        sorted(&["100% Data", "Contoso", "Initech"])
    );
    assert_eq!(
        one(&acme, f("region", In, [t("emea"), t("APAC")])),
        sorted(&["Fabrikam", "Initech", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("tier", In, [t("silver"), t("goldie")])),
        sorted(&["100% Data", "Contoso"])
    );
    assert_eq!(
        one(&acme, f("name", Contains, [t("WIND")])),
        sorted(&["Northwind"])
    );
    assert_eq!(
        one(&acme, f("name", StartsWith, [t("co")])),
        sorted(&["Contoso"])
    );
    assert_eq!(
        one(&acme, f("name", EndsWith, [t("data")])),
        sorted(&["100% Data"])
    );
    assert_eq!(
        one(&acme, f("tier", StartsWith, [t("gold")])),
        sorted(&["Contoso", "Initech", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("tier", EndsWith, [t("plus")])),
        sorted(&["Initech"])
    );
    assert_eq!(
        one(&acme, f("tier", Contains, [t("LD")])),
        sorted(&["Contoso", "Initech", "Northwind"])
    );
    // `%` and `_` are text to find, not patterns: `gold_` is not `goldi`, `0%` is not `0 D`.
    assert_eq!(
        one(&acme, f("tier", StartsWith, [t("gold_")])),
        sorted(&["Initech"])
    );
    assert_eq!(
        one(&acme, f("name", Contains, [t("0%")])),
        sorted(&["100% Data"])
    );
    assert_eq!(
        one(&acme, f("industry", EndsWith, [t("50%")])),
        sorted(&["100% Data"])
    );
    assert_eq!(one(&acme, f("industry", IsNull, [])), sorted(&["Initech"]));
    assert_eq!(one(&acme, f("tier", IsNull, [])), sorted(&["Fabrikam"]));
    assert_eq!(
        one(&acme, f("tier", IsNotNull, [])),
        sorted(&["100% Data", "Contoso", "Initech", "Northwind"])
    );
}

#[test]
fn number_operators_on_standard_and_custom_fields() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    use Operator::*;
    assert_eq!(
        one(&acme, f("arr", Eq, [n(120_000)])),
        sorted(&["Northwind"])
    );
    // A number given as text (as the CLI and a form give it) is read as a number.
    assert_eq!(
        one(&acme, f("arr", Eq, [t("480000")])),
        sorted(&["Contoso"])
    );
    assert_eq!(
        one(&acme, f("arr", Ne, [n(120_000)])),
        sorted(&["100% Data", "Contoso", "Fabrikam"])
    );
    assert_eq!(
        one(&acme, f("arr", Lt, [n(120_000)])),
        sorted(&["Fabrikam"])
    );
    assert_eq!(
        one(&acme, f("arr", Lte, [n(120_000)])),
        sorted(&["Fabrikam", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("arr", Gt, [n(480_000)])),
        sorted(&["100% Data"])
    );
    assert_eq!(
        one(&acme, f("arr", Gte, [FieldValue::Number(480_000.0)])),
        sorted(&["100% Data", "Contoso"])
    );
    // BETWEEN includes both ends.
    assert_eq!(
        one(&acme, f("arr", Between, [n(30_000), n(120_000)])),
        sorted(&["Fabrikam", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("arr", In, [n(30_000), t("480000")])),
        sorted(&["Contoso", "Fabrikam"])
    );
    assert_eq!(one(&acme, f("arr", IsNull, [])), sorted(&["Initech"]));
    assert_eq!(
        one(&acme, f("arr", IsNotNull, [])),
        sorted(&["100% Data", "Contoso", "Fabrikam", "Northwind"])
    );
    // A custom number field, compared as a number (10 < 50 although "10" > "5" as text).
    assert_eq!(
        one(&acme, f("seats", Gt, [n(5)])),
        sorted(&["Contoso", "Initech", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("seats", Lt, [n(50)])),
        sorted(&["100% Data", "Initech"])
    );
    assert_eq!(
        one(&acme, f("seats", Between, [n(10), n(50)])),
        sorted(&["Initech", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("seats", Eq, [FieldValue::Number(200.0)])),
        sorted(&["Contoso"])
    );
    assert_eq!(
        one(&acme, f("seats", In, [n(5), n(10)])),
        sorted(&["100% Data", "Initech"])
    );
    assert_eq!(one(&acme, f("seats", IsNull, [])), sorted(&["Fabrikam"]));
}

#[test]
fn boolean_operators_on_a_custom_field() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    use Operator::*;
    assert_eq!(
        one(&acme, f("reseller", Eq, [FieldValue::Boolean(true)])),
        sorted(&["Initech", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("reseller", Eq, [FieldValue::Boolean(false)])),
        sorted(&["100% Data", "Contoso"])
    );
    // Text such as `yes` or `false` reads as a boolean.
    assert_eq!(
        one(&acme, f("reseller", Eq, [t("yes")])),
        sorted(&["Initech", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("reseller", Ne, [t("true")])),
        sorted(&["100% Data", "Contoso"])
    );
    assert_eq!(one(&acme, f("reseller", IsNull, [])), sorted(&["Fabrikam"]));
    assert_eq!(one(&acme, f("reseller", IsNotNull, [])).len(), 4);
}

#[test]
fn date_operators_on_a_custom_field() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    use Operator::*;
    assert_eq!(
        one(&acme, f("since", Eq, [t("2023-05-01")])),
        sorted(&["Northwind"])
    );
    assert_eq!(
        one(&acme, f("since", Ne, [date("2023-05-01")])),
        sorted(&["100% Data", "Contoso", "Initech"])
    );
    assert_eq!(
        one(&acme, f("since", Lt, [date("2022-06-30")])),
        sorted(&["Contoso"])
    );
    assert_eq!(
        one(&acme, f("since", Lte, [t("2022-06-30")])),
        sorted(&["100% Data", "Contoso"])
    );
    assert_eq!(
        one(&acme, f("since", Gt, [date("2023-05-01")])),
        sorted(&["Initech"])
    );
    assert_eq!(
        one(&acme, f("since", Gte, [date("2023-05-01")])),
        sorted(&["Initech", "Northwind"])
    );
    assert_eq!(
        one(
            &acme,
            f("since", Between, [t("2022-01-01"), t("2023-12-31")])
        ),
        sorted(&["100% Data", "Northwind"])
    );
    assert_eq!(
        one(&acme, f("since", In, [t("2021-01-15"), t("2024-12-31")])),
        sorted(&["Contoso", "Initech"])
    );
    assert_eq!(one(&acme, f("since", IsNull, [])), sorted(&["Fabrikam"]));
    // A value that is not a date names the filter and the field.
    let message = filter_error(
        &acme,
        &Criteria::new(vec![f("since", Gt, [t("2023-13-01")])]),
    );
    assert!(message.starts_with("filter 1:"), "{message}");
    assert!(message.contains("since"), "{message}");
}

#[test]
fn operators_are_refused_on_types_they_do_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    use Operator::*;
    // (field, its type, operators that do not fit it)
    let refused: [(&str, &str, &[Operator]); 6] = [
        ("region", "text", &[Lt, Lte, Gt, Gte, Between]),
        ("tier", "text", &[Lt, Lte, Gt, Gte, Between]),
        ("arr", "number", &[Contains, StartsWith, EndsWith]),
        ("seats", "number", &[Contains, StartsWith, EndsWith]),
        (
            "reseller",
            "boolean",
            &[
                Lt, Lte, Gt, Gte, Between, In, Contains, StartsWith, EndsWith,
            ],
        ),
        ("since", "date", &[Contains, StartsWith, EndsWith]),
    ];
    for (field, kind, operators) in refused {
        for &operator in operators {
            // Give the operator as many values as it takes, so only the type is at fault.
            let values = match operator {
                Between => vec![t("1"), t("2")],
                _ => vec![t("1")],
            };
            // Placed second, so the error must name the right filter.
            let criteria = Criteria::new(vec![
                f("name", IsNotNull, []),
                Filter::field(field, operator, values),
            ]);
            let message = filter_error(&acme, &criteria);
            assert!(
                message.starts_with("filter 2:"),
                "{field} {operator}: {message}"
            );
            assert!(
                message.contains(&format!("`{field}`")) && message.contains(operator.as_str()),
                "{field} {operator}: {message}"
            );
            assert!(
                message.contains(&format!("a {kind} field")),
                "{field} {operator}: {message}"
            );
        }
    }
    // Every operator fits the types its documentation lists, and no other.
    for op in [Eq, Ne, IsNull, IsNotNull] {
        for ty in [
            FieldType::Text,
            FieldType::Number,
            FieldType::Boolean,
            FieldType::Date,
        ] {
            assert!(op.fits(ty), "{op} on {ty}");
        }
    }
    assert!(In.fits(FieldType::Date) && !In.fits(FieldType::Boolean));
    assert!(Between.fits(FieldType::Date) && !Between.fits(FieldType::Text));

    // An unknown field and a value of the wrong type name the filter and the field.
    let message = filter_error(&acme, &Criteria::new(vec![f("revenue", Gt, [n(1)])]));
    assert!(
        message.starts_with("filter 1:") && message.contains("`revenue`"),
        "{message}"
    );
    assert!(
        message.contains("arr"),
        "lists the fields there are: {message}"
    );
    let message = filter_error(
        &acme,
        &Criteria::new(vec![
            f("name", IsNotNull, []),
            f("name", IsNotNull, []),
            f("arr", Gt, [t("lots")]),
        ]),
    );
    assert!(
        message.starts_with("filter 3:") && message.contains("`arr`"),
        "{message}"
    );
    let message = filter_error(
        &acme,
        &Criteria::new(vec![f("region", Eq, [FieldValue::Boolean(true)])]),
    );
    assert!(message.contains("`region`"), "{message}");
    assert!(
        "approximately"
            .parse::<Operator>()
            .unwrap_err()
            .to_string()
            .contains("STARTS_WITH")
    );
    assert_eq!("starts-with".parse::<Operator>().unwrap(), StartsWith);
}

#[test]
fn between_in_and_null_checks_take_the_values_they_need() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    use Operator::*;
    let cases: Vec<(Filter, &str)> = vec![
        (f("arr", Between, [n(1)]), "BETWEEN takes two values; got 1"),
        (
            f("arr", Between, [n(1), n(2), n(3)]),
            "BETWEEN takes two values; got 3",
        ),
        (f("region", In, []), "IN takes at least one value; got 0"),
        (f("arr", Gt, []), "GT takes one value; got 0"),
        (f("arr", Eq, [n(1), n(2)]), "EQ takes one value; got 2"),
        (
            f("region", IsNull, [t("EMEA")]),
            "IS_NULL takes no value; got 1",
        ),
        (f("region", Eq, [FieldValue::Null]), "use IS_NULL"),
        (f("arr", In, [n(1), FieldValue::Null]), "use IS_NULL"),
    ];
    for (filter, expected) in cases {
        let message = filter_error(&acme, &Criteria::new(vec![filter.clone()]));
        assert!(message.starts_with("filter 1:"), "{filter:?}: {message}");
        assert!(message.contains(expected), "{filter:?}: {message}");
    }
    // BETWEEN with the bounds the wrong way round matches nothing rather than everything.
    assert!(one(&acme, f("arr", Between, [n(120_000), n(30_000)])).is_empty());
}

#[test]
fn include_nulls_adds_the_companies_without_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    use Operator::*;
    let cases: Vec<(Filter, &[&str], &[&str])> = vec![
        (
            f("region", Ne, [t("EMEA")]),
            &["Contoso", "Fabrikam"],
            &["100% Data"],
        ),
        (
            f("arr", Gte, [n(480_000)]),
            &["100% Data", "Contoso"],
            &["Initech"],
        ),
        (
            f("seats", Lt, [n(50)]),
            &["100% Data", "Initech"],
            &["Fabrikam"],
        ),
        (
            f("reseller", Eq, [t("false")]),
            &["100% Data", "Contoso"],
            &["Fabrikam"],
        ),
        (
            f("since", Lt, [t("2022-01-01")]),
            &["Contoso"],
            &["Fabrikam"],
        ),
        (
            f("tier", StartsWith, [t("s")]),
            &["100% Data"],
            &["Fabrikam"],
        ),
        (
            f("industry", In, [t("retail")]),
            &["Northwind"],
            &["Initech"],
        ),
    ];
    for (filter, without, nulls) in cases {
        assert_eq!(one(&acme, filter.clone()), sorted(without), "{filter:?}");
        let mut with: Vec<&str> = without.to_vec();
        with.extend_from_slice(nulls);
        assert_eq!(
            one(&acme, filter.clone().include_nulls()),
            sorted(&with),
            "{filter:?} with nulls"
        );
    }
    // IS_NULL / IS_NOT_NULL mean what they say whatever the option.
    assert_eq!(
        one(&acme, f("arr", IsNotNull, []).include_nulls()).len(),
        4,
        "IS_NOT_NULL with include nulls still excludes the nulls"
    );
}

#[test]
fn the_logic_expression_combines_the_numbered_filters() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    use Operator::*;
    let filters = vec![
        f("region", Eq, [t("EMEA")]),       // 1: Northwind, Initech
        f("arr", Gte, [n(100_000)]),        // 2: Northwind, Contoso, 100% Data
        f("reseller", Eq, [t("true")]),     // 3: Northwind, Initech
        f("industry", Eq, [t("Software")]), // 4: Contoso
    ];
    let run = |logic: Option<&str>| {
        let mut criteria = Criteria::new(filters.clone());
        if let Some(logic) = logic {
            criteria = criteria.logic(logic);
        }
        names(&acme, &criteria)
    };
    // By default every filter is ANDed; blank logic is the default too.
    assert!(run(None).is_empty());
    assert_eq!(
        names(&acme, &Criteria::new(filters[..2].to_vec())),
        sorted(&["Northwind"])
    );
    assert_eq!(run(Some("  ")), run(None));
    assert_eq!(run(Some("1 AND 2 AND 3 AND 4")), run(None));
    assert_eq!(
        run(Some("(1 AND 2) OR 4")),
        sorted(&["Contoso", "Northwind"])
    );
    // NOT 3: every company that is not a reseller, including those with no answer at all.
    assert_eq!(
        run(Some("NOT 3")),
        sorted(&["100% Data", "Contoso", "Fabrikam"])
    );
    assert_eq!(
        run(Some("(1 AND 2) OR NOT 3")),
        sorted(&["100% Data", "Contoso", "Fabrikam", "Northwind"])
    );
    // NOT of a filter that has no value to compare: Fabrikam has no `region` equal to EMEA,
    // and 100% Data has no region at all; neither is in EMEA.
    assert_eq!(
        run(Some("NOT 1")),
        sorted(&["100% Data", "Contoso", "Fabrikam"])
    );
    assert_eq!(
        run(Some("NOT (1 OR 2)")),
        sorted(&["Fabrikam"]),
        "neither in EMEA nor at 100k ARR"
    );
    // Precedence: NOT, then AND, then OR; words in any case.
    assert_eq!(
        run(Some("4 or 1 and not 3")),
        run(Some("4 OR (1 AND (NOT 3))"))
    );
    assert_eq!(run(Some("4 OR 1 AND NOT 3")), sorted(&["Contoso"]));
    assert_eq!(
        run(Some("(4 OR 1) AND NOT 3")),
        sorted(&["Contoso"]),
        "Initech and Northwind are resellers"
    );
    assert_eq!(run(Some("NOT NOT 4")), sorted(&["Contoso"]));
    // A filter may be left out of the logic, or used twice.
    assert_eq!(run(Some("4 OR 4")), sorted(&["Contoso"]));
    assert_eq!(
        run(Some("1 OR 2")),
        sorted(&["100% Data", "Contoso", "Initech", "Northwind"])
    );
    assert_eq!(run(Some("3")), sorted(&["Initech", "Northwind"]));
    // A filter left out is still checked.
    let mut broken = filters.clone();
    broken.push(f("reseller", Gt, [t("true")]));
    let message = filter_error(&acme, &Criteria::new(broken).logic("1"));
    assert!(message.starts_with("filter 5:"), "{message}");
}

#[test]
fn logic_errors_point_at_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = host.tenant("acme").unwrap();
    let cases: [(&str, usize, usize, &str); 10] = [
        // (logic, filters, position, message)
        ("(1 AND 2", 2, 8, "expected `)`"),
        ("((1 OR 2) AND 3", 3, 15, "expected `)`"),
        ("1 AND 2)", 2, 7, "expected AND or OR"),
        (
            "1 AND 4",
            3,
            6,
            "there is no filter 4: the filters are numbered 1 to 3",
        ),
        ("0 OR 1", 3, 0, "there is no filter 0"),
        ("1 2", 2, 2, "expected AND or OR"),
        ("1 AND", 2, 5, "ends early"),
        ("()", 2, 1, "expected a filter number"),
        ("1 XOR 2", 2, 2, "unknown word `XOR`"),
        ("1 && 2", 2, 2, "unexpected `&`"),
    ];
    for (logic, filters, position, message) in cases {
        let (at, got) = logic_error(&acme, filters, logic);
        assert_eq!(at, position, "`{logic}`: {got}");
        assert!(got.contains(message), "`{logic}`: {got}");
    }
    // People read positions from 1.
    let shown = acme
        .criteria()
        .run(
            &Criteria::new(vec![
                f("region", Operator::IsNull, []),
                f("region", Operator::IsNull, []),
                f("region", Operator::IsNull, []),
            ])
            .logic("1 AND 4"),
        )
        .unwrap_err()
        .to_string();
    assert!(
        shown.contains("at character 7: there is no filter 4"),
        "{shown}"
    );
    // Logic over criteria without filters names no filter.
    let (_, message) = logic_error(&acme, 0, "1");
    assert!(message.contains("no filter 1"), "{message}");
}

fn tier(name: &str) -> Filter {
    let mut arguments = Fields::new();
    arguments.insert("tier".to_owned(), FieldValue::from(name));
    Filter::plugin("arr-tier", arguments)
}

#[test]
fn a_plugin_filter_runs_next_to_the_built_in_ones() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = admin(&host);
    use Operator::*;

    // Not installed, then installed but not enabled: refused, naming the plugin.
    let error = acme
        .criteria()
        .run(&Criteria::new(vec![tier("gold")]))
        .unwrap_err();
    assert!(error.to_string().contains("arr-tier"), "{error}");
    host.install_plugin(&support::plugin_bytes("arr-tier"), ADMIN)
        .unwrap();
    let error = acme
        .criteria()
        .run(&Criteria::new(vec![tier("gold")]))
        .unwrap_err();
    assert!(error.to_string().contains("arr-tier"), "{error}");

    // Enabled with the default tiers: bronze < 50k <= silver < 250k <= gold < 1M <= platinum.
    acme.plugins()
        .enable("arr-tier", EnableOptions::new())
        .unwrap();
    assert_eq!(one(&acme, tier("gold")), sorted(&["Contoso"]));
    assert_eq!(one(&acme, tier("Silver")), sorted(&["Northwind"]));
    assert_eq!(one(&acme, tier("platinum")), sorted(&["100% Data"]));

    let filters = vec![
        f("region", Eq, [t("EMEA")]),       // 1: Northwind, Initech
        tier("silver"),                     // 2: Northwind
        f("industry", Eq, [t("Software")]), // 3: Contoso
    ];
    let run = |logic: &str| names(&acme, &Criteria::new(filters.clone()).logic(logic));
    assert_eq!(run("1 AND 2"), sorted(&["Northwind"]));
    assert_eq!(run("(1 AND 2) OR 3"), sorted(&["Contoso", "Northwind"]));
    // Initech has no ARR, so no tier: NOT silver holds for it.
    assert_eq!(run("1 AND NOT 2"), sorted(&["Initech"]));
    assert_eq!(
        run("NOT 2"),
        sorted(&["100% Data", "Contoso", "Fabrikam", "Initech"])
    );
    assert_eq!(run("2 OR 3"), sorted(&["Contoso", "Northwind"]));
    // The plugin's answer and a built-in filter's absence of a value combine exactly.
    assert_eq!(
        run("NOT 1 AND NOT 2"),
        sorted(&["100% Data", "Contoso", "Fabrikam"])
    );
    assert_eq!(
        names(
            &acme,
            &Criteria::new(vec![
                f("arr", Gte, [n(100_000)]),
                f("since", IsNotNull, []),
                tier("gold"),
            ])
        ),
        sorted(&["Contoso"])
    );

    // A plugin filter the logic leaves out is not run: its unknown tier does not matter.
    assert_eq!(
        names(
            &acme,
            &Criteria::new(vec![f("region", Eq, [t("EMEA")]), tier("diamond")]).logic("1")
        ),
        sorted(&["Initech", "Northwind"])
    );

    // The tenant's configuration is the plugin's: a custom tier list changes the answers.
    acme.plugins()
        .configure(
            "arr-tier",
            [(
                "tiers".to_owned(),
                "small=0..100000,big=100000..".to_owned(),
            )]
            .into(),
        )
        .unwrap();
    assert_eq!(
        one(&acme, tier("big")),
        sorted(&["100% Data", "Contoso", "Northwind"])
    );

    // A tier the configuration does not define fails the selection (fail-closed), naming it.
    let error = acme
        .criteria()
        .run(&Criteria::new(vec![tier("gold")]))
        .unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.contains("arr-tier") && shown.contains("unknown tier `gold`"),
        "{shown}"
    );

    // Another tenant has not enabled it: the filter is refused there, even though globex has
    // no company the plugin would be asked about.
    let globex = host.tenant("globex").unwrap();
    let error = globex
        .criteria()
        .run(&Criteria::new(vec![tier("big")]))
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::PluginNotEnabled { plugin, .. } if plugin == "arr-tier"),
        "{error}"
    );
    // The same when the built-in filters leave no candidate.
    acme.plugins().disable("arr-tier").unwrap();
    let error = acme
        .criteria()
        .run(&Criteria::new(vec![
            f("region", Eq, [t("Atlantis")]),
            tier("big"),
        ]))
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::PluginNotEnabled { plugin, .. } if plugin == "arr-tier"),
        "{error}"
    );
}

#[test]
fn tagging_the_matches_makes_them_partners_with_the_chosen_scope() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = admin(&host);
    use Operator::*;
    host.install_plugin(&support::plugin_bytes("partner-welcome"), ADMIN)
        .unwrap();
    acme.plugins()
        .enable("partner-welcome", EnableOptions::new())
        .unwrap();

    let emea = Criteria::new(vec![f("region", Eq, [t("EMEA")])]);
    // The tenant works at both levels: the scope must be chosen, and nothing is tagged until
    // it is.
    let error = acme.partners().tag_by_criteria(&emea, None).unwrap_err();
    assert!(error.to_string().contains("access scope"), "{error}");
    assert!(acme.partners().list().unwrap().is_empty());

    let tagged = acme
        .partners()
        .tag_by_criteria(&emea, Some(AccessScope::RelationshipRecords))
        .unwrap();
    assert_eq!(tagged.len(), 2);
    // Each new partner went through the partner-created hook.
    for (id, report) in &tagged {
        assert!(
            report
                .applied
                .iter()
                .any(|line| line.contains("partner-welcome: opened CTA")),
            "{report:?}"
        );
        let ctas = acme.ctas().list(*id).unwrap();
        assert_eq!(ctas.len(), 1);
        assert_eq!(ctas[0].name, "Partner onboarding");
    }
    let partners: Vec<(String, AccessScope)> = acme
        .partners()
        .list()
        .unwrap()
        .into_iter()
        .map(|p| (p.company.name, p.scope))
        .collect();
    assert_eq!(
        partners,
        [
            ("Initech".to_owned(), AccessScope::RelationshipRecords),
            ("Northwind".to_owned(), AccessScope::RelationshipRecords),
        ]
    );
    // The criteria now see them as partners.
    let northwind = acme
        .companies()
        .get(CompanyKey::Name("northwind"))
        .unwrap()
        .unwrap();
    assert_eq!(northwind.managed_as, ManagedAs::Partner);

    // Running the same criteria again tags nothing new; with another scope it is refused, not
    // silently ignored: the error names the command that changes a partner's scope.
    let again = acme
        .partners()
        .tag_by_criteria(&emea, Some(AccessScope::RelationshipRecords))
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    let other_scope = acme
        .partners()
        .tag_by_criteria(&emea, Some(AccessScope::Both))
        .unwrap_err();
    assert!(
        other_scope.to_string().contains("cshost partner scope"),
        "{other_scope}"
    );
    assert!(
        acme.partners()
            .list()
            .unwrap()
            .iter()
            .all(|p| p.scope == AccessScope::RelationshipRecords)
    );
    assert_eq!(
        acme.ctas()
            .list(northwind.id.parse().unwrap())
            .unwrap()
            .len(),
        1
    );

    // Criteria that do not run tag nothing.
    let before = acme.partners().list().unwrap().len();
    assert!(
        acme.partners()
            .tag_by_criteria(
                &Criteria::new(vec![f("arr", Contains, [t("1")])]),
                Some(AccessScope::Both)
            )
            .is_err()
    );
    assert_eq!(acme.partners().list().unwrap().len(), before);

    // A tenant at the company level gets company records, and cannot ask for more.
    let globex = host.tenant("globex").unwrap();
    globex
        .companies()
        .add(NewCompany::new("Umbrella").field("region", "EMEA"))
        .unwrap();
    assert!(
        globex
            .partners()
            .tag_by_criteria(&emea, Some(AccessScope::Both))
            .is_err()
    );
    globex.partners().tag_by_criteria(&emea, None).unwrap();
    let partners = globex.partners().list().unwrap();
    assert_eq!(partners.len(), 1);
    assert_eq!(partners[0].company.name, "Umbrella");
    assert_eq!(partners[0].scope, AccessScope::CompanyRecords);
}

#[test]
fn a_record_keeps_its_one_partner_when_matches_are_given_to_another() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = admin(&host);
    use Operator::*;
    let (bennett, _) = acme
        .partners()
        .add(NewCompany::new("Bennett & Co."), Some(AccessScope::Both))
        .unwrap();
    let (orbit, _) = acme
        .partners()
        .add(NewCompany::new("Orbit Resellers"), Some(AccessScope::Both))
        .unwrap();
    // Bennett takes every reseller the criteria select.
    let resellers = acme
        .criteria()
        .run(&Criteria::new(vec![f("reseller", Eq, [t("true")])]))
        .unwrap();
    assert_eq!(resellers.count, 2);
    for company in &resellers.companies {
        acme.companies()
            .set_managed_by(company.id.parse().unwrap(), Some(bennett))
            .unwrap();
    }
    // The selection shows who manages each record now.
    let managed = acme
        .criteria()
        .run(&Criteria::new(vec![f("reseller", Eq, [t("true")])]))
        .unwrap();
    assert!(
        managed
            .companies
            .iter()
            .all(|c| c.managed_by.as_deref() == Some(bennett.to_string().as_str())),
        "{managed:?}"
    );
    // Orbit cannot take one of them: the error names the partner that manages it now.
    let northwind: i64 = managed
        .companies
        .iter()
        .find(|c| c.name == "Northwind")
        .unwrap()
        .id
        .parse()
        .unwrap();
    let error = acme
        .companies()
        .set_managed_by(northwind, Some(orbit))
        .unwrap_err();
    match error.kind() {
        ErrorKind::AlreadyManaged {
            record,
            partner_id,
            partner,
        } => {
            assert!(record.contains("Northwind"), "{record}");
            assert_eq!(*partner_id, bennett);
            assert_eq!(partner, "Bennett & Co.");
        }
        other => panic!("expected AlreadyManaged, got {other:?}"),
    }
    assert!(error.to_string().contains("Bennett & Co."), "{error}");
    let still = acme
        .companies()
        .get(CompanyKey::Id(northwind))
        .unwrap()
        .unwrap();
    assert_eq!(still.managed_by, Some(bennett.to_string()));
    // Giving it to the same partner again is no change; clearing it first frees it for Orbit.
    acme.companies()
        .set_managed_by(northwind, Some(bennett))
        .unwrap();
    acme.companies().set_managed_by(northwind, None).unwrap();
    acme.companies()
        .set_managed_by(northwind, Some(orbit))
        .unwrap();
    assert_eq!(
        acme.companies()
            .get(CompanyKey::Id(northwind))
            .unwrap()
            .unwrap()
            .managed_by,
        Some(orbit.to_string())
    );
    // Only a partner can manage records: a customer is refused as a manager.
    let customer = acme
        .companies()
        .get(CompanyKey::Name("Fabrikam"))
        .unwrap()
        .unwrap();
    let error = acme
        .companies()
        .set_managed_by(customer.id.parse().unwrap(), Some(northwind))
        .unwrap_err();
    assert!(error.to_string().contains("not a partner"), "{error}");
}

#[test]
fn search_lists_names_in_order_ignoring_case_in_every_script() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = admin(&host);
    for name in ["Ärzte Zentrum", "ärzte Akademie", "ÄRZTE MITTE"] {
        acme.companies().add(NewCompany::new(name)).unwrap();
    }
    // By name ignoring case as look-ups by name ignore it (`Ä` is `ä`), not byte by byte past
    // ASCII, where every `Ä` came before every `ä`.
    let found = acme.companies().search("rzte", 10).unwrap();
    assert_eq!(
        found.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["ärzte Akademie", "ÄRZTE MITTE", "Ärzte Zentrum"]
    );
}

/// Direct SQL cannot give a company a customer as its manager: the schema refuses the row with
/// the one-partner rule's message and undoes the whole statement, the rows before it included.
#[test]
fn the_schema_refuses_a_new_company_managed_by_a_customer() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    drop(host);
    let db = rusqlite::Connection::open(dir.path().join("cs.db")).unwrap();
    db.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let customer: i64 = db
        .query_row(
            "SELECT id FROM companies WHERE tenant_id = 'acme' AND managed_as = 'customer' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let count = |db: &rusqlite::Connection| -> i64 {
        db.query_row("SELECT count(*) FROM companies", [], |r| r.get(0))
            .unwrap()
    };
    let before = count(&db);
    let error = db
        .execute(
            "INSERT INTO companies (tenant_id, name, name_folded, managed_by, created_at,
                                    updated_at)
             VALUES ('acme', 'First', 'first', NULL, 0, 0),
                    ('acme', 'Second', 'second', ?1, 0, 0)",
            [customer],
        )
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("one-partner rule: managed_by must name a partner company"),
        "{error}"
    );
    assert_eq!(count(&db), before);
}

#[test]
fn manual_selection_searches_by_name_and_tags_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let acme = admin(&host);
    let globex = host.tenant("globex").unwrap();
    globex
        .companies()
        .add(NewCompany::new("Northwind Globex"))
        .unwrap();

    // Search ignores case, finds the text anywhere in the name, and only in this tenant.
    let found = acme.companies().search("WIND", 10).unwrap();
    assert_eq!(
        found.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["Northwind"]
    );
    // `%` is text to find, not a wildcard.
    let found = acme.companies().search("%", 10).unwrap();
    assert_eq!(
        found.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["100% Data"]
    );
    assert_eq!(
        acme.companies().search("o", 2).unwrap().len(),
        2,
        "the limit holds"
    );

    let ids: Vec<i64> = acme
        .companies()
        .search("o", 10)
        .unwrap()
        .iter()
        .filter(|c| c.name == "Contoso" || c.name == "Northwind")
        .map(|c| c.id.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let tagged = acme.partners().tag(&ids, Some(AccessScope::Both)).unwrap();
    assert_eq!(tagged.len(), 2);
    let partners: Vec<String> = acme
        .partners()
        .list()
        .unwrap()
        .into_iter()
        .map(|p| p.company.name)
        .collect();
    assert_eq!(partners, ["Contoso", "Northwind"]);

    // Another tenant's company id is not this tenant's: refused, nothing tagged.
    let other: i64 = globex.companies().search("north", 1).unwrap()[0]
        .id
        .parse()
        .unwrap();
    let fabrikam: i64 = acme.companies().search("fabrikam", 1).unwrap()[0]
        .id
        .parse()
        .unwrap();
    if other != fabrikam {
        let error = acme
            .partners()
            .tag(&[fabrikam, other], Some(AccessScope::Both))
            .unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::NotFound { id, .. } if *id == other.to_string()),
            "{error}"
        );
        assert_eq!(acme.partners().list().unwrap().len(), 2, "all or nothing");
    }
    let error = acme
        .partners()
        .tag(&[fabrikam, 999_999], Some(AccessScope::Both))
        .unwrap_err();
    assert!(error.to_string().contains("999999"), "{error}");
    assert_eq!(acme.partners().list().unwrap().len(), 2, "all or nothing");
    assert!(globex.partners().list().unwrap().is_empty());
}

#[test]
fn criteria_never_select_another_tenants_companies() {
    let dir = tempfile::tempdir().unwrap();
    let host = setup(dir.path());
    let globex = host.tenant("globex").unwrap();
    globex
        .companies()
        .add(NewCompany::new("Umbrella").field("region", "EMEA"))
        .unwrap();
    assert_eq!(
        one(&globex, f("region", Operator::IsNotNull, [])),
        sorted(&["Umbrella"])
    );
    assert_eq!(
        names(&globex, &Criteria::new(vec![])),
        sorted(&["Umbrella"])
    );
    // Globex has no `seats` field: acme's custom fields are acme's.
    let message = filter_error(
        &globex,
        &Criteria::new(vec![f("seats", Operator::Gt, [n(1)])]),
    );
    assert!(message.contains("`seats`"), "{message}");
}

#[test]
fn changing_a_fields_type_converts_its_values_or_names_the_records_that_do_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    let acme = admin(&host);
    acme.companies()
        .define_field("tier", FieldType::Text, false)
        .unwrap();
    acme.companies()
        .define_field("seats", FieldType::Text, false)
        .unwrap();
    for (name, tier, seats) in [("Gold Co", "gold", "10"), ("Silver Co", "2", "2.5")] {
        acme.companies()
            .add(
                NewCompany::new(name)
                    .field("tier", tier)
                    .field("seats", seats),
            )
            .unwrap();
    }
    acme.companies().add(NewCompany::new("Bare Co")).unwrap();

    // `gold` is no number: the change is refused, naming the record, and nothing changes.
    let error = acme
        .companies()
        .define_field("tier", FieldType::Number, false)
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("Gold Co (company 1): `gold`") && !message.contains("Silver"),
        "{message}"
    );
    let tier = acme.companies().fields().unwrap();
    let tier = tier.iter().find(|f| f.name == "tier").unwrap();
    assert_eq!(tier.field_type, FieldType::Text);
    let error = acme
        .criteria()
        .run(&Criteria::new(vec![f("tier", Operator::Gt, [n(1)])]))
        .unwrap_err();
    assert!(error.to_string().contains("text field"), "{error}");

    // Every value of `seats` is a number: they are converted, and compare as numbers.
    acme.companies()
        .define_field("seats", FieldType::Number, false)
        .unwrap();
    assert_eq!(
        one(&acme, f("seats", Operator::Gt, [n(5)])),
        sorted(&["Gold Co"])
    );
    let silver = acme
        .companies()
        .get(CompanyKey::Name("Silver Co"))
        .unwrap()
        .unwrap();
    assert_eq!(silver.fields["seats"], FieldValue::Number(2.5));
}

#[test]
fn a_custom_field_cannot_take_a_built_in_name() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    let acme = admin(&host);
    for name in ["managed_by", "managed_as", "id", "tenant_id", "created_at"] {
        let error = acme
            .companies()
            .define_field(name, FieldType::Text, false)
            .unwrap_err();
        assert!(error.to_string().contains("reserved"), "{name}: {error}");
    }
}
