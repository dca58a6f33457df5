//! Companies, partners, criteria, relationship types and relationships.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use cs_host::model::{AccessScope, Company, Fields, Partner};
use cs_host::{
    CompanyKey, Criteria, HookReport, NewCompany, NewRelationship, Portfolio, Relationship,
    RelationshipEdit, RelationshipType, Selection,
};
use serde::{Deserialize, Serialize};

use super::{
    ApiError, Body, Caller, Created, Done, MAX_PAGE, New, Page, Params, QueryOf, Shared, created,
    done, on_tenant,
};

/// A record the tenant does not have (or the caller may not see), in the library's words.
pub(super) fn missing(object: &str, id: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("there is no {object} {id}"),
    )
}

/// `GET /api/v1/tenants/{tenant}/companies?after=&limit=` (or `?search=TEXT&limit=`).
pub async fn companies(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(page): QueryOf<Page>,
) -> Result<Json<Vec<Company>>, ApiError> {
    let limit = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    on_tenant(&app, who, tenant, move |t| match &page.search {
        Some(text) => t.companies().search(text, limit),
        None => t.companies().page(page.after, limit),
    })
    .await
    .map(Json)
}

/// A company to add: its name, fields by name, and the partner that manages it.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyForm {
    name: String,
    #[serde(default)]
    fields: Fields,
    #[serde(default)]
    managed_by: Option<i64>,
}

/// `POST /api/v1/tenants/{tenant}/companies`: adds a customer company.
pub async fn add_company(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(form): Body<CompanyForm>,
) -> Result<New<Created>, ApiError> {
    let company = NewCompany {
        name: form.name,
        managed_by: form.managed_by,
        fields: form.fields,
        ..NewCompany::default()
    };
    let id = on_tenant(&app, who, tenant, move |t| t.companies().add(company)).await?;
    Ok(created(id))
}

/// `GET /api/v1/tenants/{tenant}/companies/{company}`.
pub async fn company(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<Company>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.companies().get(CompanyKey::Id(id))
    })
    .await?
    .map(Json)
    .ok_or_else(|| missing("company", id))
}

/// The managing partner to set (`null` clears it).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedBy {
    partner: Option<i64>,
}

/// `PUT /api/v1/tenants/{tenant}/companies/{company}/managed-by`.
pub async fn set_managed_by(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
    Body(form): Body<ManagedBy>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.companies().set_managed_by(id, form.partner)
    })
    .await?;
    Ok(done())
}

/// `GET /api/v1/tenants/{tenant}/partners`.
pub async fn partners(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<Partner>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.partners().list())
        .await
        .map(Json)
}

/// A partner to add: a company, and the records its users may reach (at both levels only).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerForm {
    name: String,
    #[serde(default)]
    fields: Fields,
    #[serde(default)]
    scope: Option<AccessScope>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct PartnerAdded {
    id: i64,
    hooks: HookReport,
}

/// `POST /api/v1/tenants/{tenant}/partners`: adds a partner (running the *partner created*
/// hook, as the command line does).
pub async fn add_partner(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(form): Body<PartnerForm>,
) -> Result<New<PartnerAdded>, ApiError> {
    let (id, hooks) = on_tenant(&app, who, tenant, move |t| {
        let company = NewCompany {
            name: form.name,
            fields: form.fields,
            ..NewCompany::default()
        };
        t.partners().add(company, form.scope)
    })
    .await?;
    Ok(New(PartnerAdded { id, hooks }))
}

/// Companies to tag as partners.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagForm {
    ids: Vec<i64>,
    #[serde(default)]
    scope: Option<AccessScope>,
}

/// A partner tagged, with its hook's report.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Tagged {
    id: i64,
    hooks: HookReport,
}

fn tagged(list: Vec<(i64, HookReport)>) -> Json<Vec<Tagged>> {
    Json(
        list.into_iter()
            .map(|(id, hooks)| Tagged { id, hooks })
            .collect(),
    )
}

/// `POST /api/v1/tenants/{tenant}/partners/tag`.
pub async fn tag_partners(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(form): Body<TagForm>,
) -> Result<Json<Vec<Tagged>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.partners().tag(&form.ids, form.scope)
    })
    .await
    .map(tagged)
}

/// `DELETE /api/v1/tenants/{tenant}/partners/{partner}`: untags a partner (the company stays).
pub async fn untag_partner(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.partners().untag(id)).await?;
    Ok(done())
}

/// `GET /api/v1/tenants/{tenant}/partners/{partner}/portfolio`.
pub async fn portfolio(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<Portfolio>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.partners().portfolio(id))
        .await
        .map(Json)
}

/// `POST /api/v1/tenants/{tenant}/criteria/run`: the body is the criteria.
pub async fn run_criteria(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(criteria): Body<Criteria>,
) -> Result<Json<Selection>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.criteria().run(&criteria))
        .await
        .map(Json)
}

/// Criteria whose companies to tag as partners.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagByCriteria {
    criteria: Criteria,
    #[serde(default)]
    scope: Option<AccessScope>,
}

/// `POST /api/v1/tenants/{tenant}/criteria/tag-partners`.
pub async fn tag_by_criteria(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(form): Body<TagByCriteria>,
) -> Result<Json<Vec<Tagged>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.partners().tag_by_criteria(&form.criteria, form.scope)
    })
    .await
    .map(tagged)
}

/// `GET /api/v1/tenants/{tenant}/relationship-types`.
pub async fn relationship_types(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<RelationshipType>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.relationship_types().list())
        .await
        .map(Json)
}

/// A relationship type's name.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeName {
    name: String,
}

/// `POST /api/v1/tenants/{tenant}/relationship-types`.
pub async fn add_relationship_type(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(form): Body<TypeName>,
) -> Result<New<Created>, ApiError> {
    let id = on_tenant(&app, who, tenant, move |t| {
        t.relationship_types().add(&form.name)
    })
    .await?;
    Ok(created(id))
}

/// `PATCH /api/v1/tenants/{tenant}/relationship-types/{key}`: renames a type (by id or name).
pub async fn rename_relationship_type(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, key)): Params<(String, String)>,
    Body(form): Body<TypeName>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.relationship_types().rename(&key, &form.name)
    })
    .await?;
    Ok(done())
}

/// `DELETE /api/v1/tenants/{tenant}/relationship-types/{key}`.
pub async fn delete_relationship_type(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, key)): Params<(String, String)>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.relationship_types().delete(&key)
    })
    .await?;
    Ok(done())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RelationshipsQuery {
    company: Option<i64>,
}

/// `GET /api/v1/tenants/{tenant}/relationships?company=`.
pub async fn relationships(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(query): QueryOf<RelationshipsQuery>,
) -> Result<Json<Vec<Relationship>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.relationships().list(query.company)
    })
    .await
    .map(Json)
}

/// `POST /api/v1/tenants/{tenant}/relationships`: the body is the new relationship.
pub async fn add_relationship(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(relationship): Body<NewRelationship>,
) -> Result<New<Created>, ApiError> {
    let id = on_tenant(&app, who, tenant, move |t| {
        t.relationships().add(relationship)
    })
    .await?;
    Ok(created(id))
}

/// `GET /api/v1/tenants/{tenant}/relationships/{relationship}`.
pub async fn relationship(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<Relationship>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.relationships().get(id))
        .await?
        .map(Json)
        .ok_or_else(|| missing("relationship", id))
}

/// `PATCH /api/v1/tenants/{tenant}/relationships/{relationship}`: the body is the edit.
pub async fn edit_relationship(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
    Body(edit): Body<RelationshipEdit>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.relationships().edit(id, edit)).await?;
    Ok(done())
}

/// `DELETE /api/v1/tenants/{tenant}/relationships/{relationship}`.
pub async fn delete_relationship(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.relationships().delete(id)).await?;
    Ok(done())
}
