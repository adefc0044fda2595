//! Entitlement-management rows: catalogs, resources with their roles and scopes, resource
//! requests, access packages and their role scopes, and catalog role assignments. The `Store` and
//! `StoreTx` implementations delegate here.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor, FromRow, Row};

use writ_domain::clock::{from_micros, to_micros};
use writ_domain::entitlement::{
    AccessPackage, AssignmentPolicy, Catalog, CatalogResource, ConnectedOrganization,
    CustomExtension, EmRoleAssignment, PackageRoleScope, ResourceRequest, ResourceRole,
    ResourceScope,
};
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{StoreError, StoreResult};
use writ_odata::SqlValue;

use crate::error::ResultExt;
use crate::list::{ListSpec, list};
use crate::rows::{DbBool, decode, json};
use crate::schema;

/// Catalogs a principal holds a catalog role in (the visibility filter of every list).
const VISIBLE_CATALOGS: &str = "SELECT v.catalog_id FROM em_role_assignments v WHERE v.principal_id = $1 AND v.catalog_id IS NOT NULL";

pub(crate) const CATALOG_COLUMNS: &str = "t.id, t.display_name, t.description, t.catalog_type, \
     t.state, t.is_externally_visible, t.created_at, t.modified_at";

#[derive(FromRow)]
pub(crate) struct CatalogRow {
    id: String,
    display_name: String,
    description: Option<String>,
    catalog_type: String,
    state: String,
    is_externally_visible: DbBool,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<CatalogRow> for Catalog {
    type Error = StoreError;

    fn try_from(r: CatalogRow) -> StoreResult<Self> {
        Ok(Catalog {
            id: r.id,
            display_name: r.display_name,
            description: r.description,
            catalog_type: r.catalog_type,
            state: r.state,
            is_externally_visible: r.is_externally_visible.into(),
            created_date_time: from_micros(r.created_at),
            modified_date_time: from_micros(r.modified_at),
        })
    }
}

pub(crate) fn catalog(row: &AnyRow) -> StoreResult<Catalog> {
    decode::<CatalogRow, _>(row)
}

/// A resource's columns, and whether it is a role-assignable group: read from the group itself
/// (`isAssignableToRole` never changes), so rows written before Writ recorded anything about it
/// answer too.
pub(crate) const RESOURCE_COLUMNS: &str = "t.id, t.catalog_id, t.origin_system, t.origin_id, \
     t.display_name, t.description, t.created_at, t.modified_at, t.onboarded_by_global_admin, \
     COALESCE((SELECT g.is_assignable_to_role FROM groups g WHERE g.id = t.origin_id \
     AND t.origin_system = 'AadGroup'), FALSE) AS role_assignable_group";

#[derive(FromRow)]
pub(crate) struct CatalogResourceRow {
    id: String,
    catalog_id: String,
    origin_system: String,
    origin_id: String,
    display_name: String,
    description: Option<String>,
    created_at: i64,
    modified_at: i64,
    onboarded_by_global_admin: DbBool,
    role_assignable_group: DbBool,
}

impl TryFrom<CatalogResourceRow> for CatalogResource {
    type Error = StoreError;

    fn try_from(r: CatalogResourceRow) -> StoreResult<Self> {
        Ok(CatalogResource {
            id: r.id,
            catalog_id: r.catalog_id,
            origin_system: r.origin_system,
            origin_id: r.origin_id,
            display_name: r.display_name,
            description: r.description,
            created_date_time: from_micros(r.created_at),
            modified_date_time: from_micros(r.modified_at),
            onboarded_by_global_admin: r.onboarded_by_global_admin.into(),
            role_assignable_group: r.role_assignable_group.into(),
        })
    }
}

pub(crate) fn resource(row: &AnyRow) -> StoreResult<CatalogResource> {
    decode::<CatalogResourceRow, _>(row)
}

pub(crate) const ROLE_COLUMNS: &str = "t.id, t.resource_id, t.catalog_id, t.origin_system, \
     t.origin_id, t.display_name, t.description, t.role_type, t.allowed_member_types";

#[derive(FromRow)]
pub(crate) struct ResourceRoleRow {
    id: String,
    resource_id: String,
    catalog_id: String,
    origin_system: String,
    origin_id: String,
    display_name: String,
    description: Option<String>,
    role_type: Option<String>,
    allowed_member_types: String,
}

impl TryFrom<ResourceRoleRow> for ResourceRole {
    type Error = StoreError;

    fn try_from(r: ResourceRoleRow) -> StoreResult<Self> {
        Ok(ResourceRole {
            allowed_member_types: json("allowed_member_types", &r.allowed_member_types)?,
            id: r.id,
            resource_id: r.resource_id,
            catalog_id: r.catalog_id,
            origin_system: r.origin_system,
            origin_id: r.origin_id,
            display_name: r.display_name,
            description: r.description,
            role_type: r.role_type,
        })
    }
}

pub(crate) fn role(row: &AnyRow) -> StoreResult<ResourceRole> {
    decode::<ResourceRoleRow, _>(row)
}

pub(crate) const SCOPE_COLUMNS: &str = "t.id, t.resource_id, t.catalog_id, t.origin_system, \
     t.origin_id, t.display_name, t.description, t.is_root_scope";

#[derive(FromRow)]
pub(crate) struct ResourceScopeRow {
    id: String,
    resource_id: String,
    catalog_id: String,
    origin_system: String,
    origin_id: String,
    display_name: String,
    description: Option<String>,
    is_root_scope: DbBool,
}

impl TryFrom<ResourceScopeRow> for ResourceScope {
    type Error = StoreError;

    fn try_from(r: ResourceScopeRow) -> StoreResult<Self> {
        Ok(ResourceScope {
            id: r.id,
            resource_id: r.resource_id,
            catalog_id: r.catalog_id,
            origin_system: r.origin_system,
            origin_id: r.origin_id,
            display_name: r.display_name,
            description: r.description,
            is_root_scope: r.is_root_scope.into(),
        })
    }
}

pub(crate) fn scope(row: &AnyRow) -> StoreResult<ResourceScope> {
    decode::<ResourceScopeRow, _>(row)
}

pub(crate) const REQUEST_COLUMNS: &str = "t.id, t.catalog_id, t.resource_id, t.request_type, \
     t.state, t.origin_system, t.origin_id, t.created_at";

#[derive(FromRow)]
pub(crate) struct ResourceRequestRow {
    id: String,
    catalog_id: String,
    resource_id: Option<String>,
    request_type: String,
    state: String,
    origin_system: String,
    origin_id: String,
    created_at: i64,
}

impl TryFrom<ResourceRequestRow> for ResourceRequest {
    type Error = StoreError;

    fn try_from(r: ResourceRequestRow) -> StoreResult<Self> {
        Ok(ResourceRequest {
            id: r.id,
            catalog_id: r.catalog_id,
            resource_id: r.resource_id,
            request_type: r.request_type,
            state: r.state,
            origin_system: r.origin_system,
            origin_id: r.origin_id,
            created_date_time: from_micros(r.created_at),
        })
    }
}

pub(crate) fn request(row: &AnyRow) -> StoreResult<ResourceRequest> {
    decode::<ResourceRequestRow, _>(row)
}

pub(crate) const PACKAGE_COLUMNS: &str =
    "t.id, t.catalog_id, t.display_name, t.description, t.is_hidden, t.created_at, t.modified_at";

#[derive(FromRow)]
pub(crate) struct AccessPackageRow {
    id: String,
    catalog_id: String,
    display_name: String,
    description: Option<String>,
    is_hidden: DbBool,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<AccessPackageRow> for AccessPackage {
    type Error = StoreError;

    fn try_from(r: AccessPackageRow) -> StoreResult<Self> {
        Ok(AccessPackage {
            id: r.id,
            catalog_id: r.catalog_id,
            display_name: r.display_name,
            description: r.description,
            is_hidden: r.is_hidden.into(),
            created_date_time: from_micros(r.created_at),
            modified_date_time: from_micros(r.modified_at),
        })
    }
}

pub(crate) fn package(row: &AnyRow) -> StoreResult<AccessPackage> {
    decode::<AccessPackageRow, _>(row)
}

pub(crate) const EM_ROLE_COLUMNS: &str =
    "t.id, t.role_definition_id, t.principal_id, t.catalog_id, t.app_scope_id, t.created_at";

#[derive(FromRow)]
pub(crate) struct EmRoleAssignmentRow {
    id: String,
    role_definition_id: String,
    principal_id: String,
    catalog_id: Option<String>,
    app_scope_id: String,
    created_at: i64,
}

impl TryFrom<EmRoleAssignmentRow> for EmRoleAssignment {
    type Error = StoreError;

    fn try_from(r: EmRoleAssignmentRow) -> StoreResult<Self> {
        Ok(EmRoleAssignment {
            id: r.id,
            role_definition_id: r.role_definition_id,
            principal_id: r.principal_id,
            catalog_id: r.catalog_id,
            app_scope_id: r.app_scope_id,
            created_date_time: from_micros(r.created_at),
        })
    }
}

pub(crate) fn em_role(row: &AnyRow) -> StoreResult<EmRoleAssignment> {
    decode::<EmRoleAssignmentRow, _>(row)
}

/// One row by a statement with one text parameter (assembled from constants).
async fn one<'e, E, T>(
    executor: E,
    sql: String,
    value: &str,
    map: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Option<T>>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(value.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    row.map(|r| map(&r)).transpose()
}

async fn all<'e, E, T>(
    executor: E,
    sql: String,
    value: &str,
    map: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(value.to_owned())
        .fetch_all(executor)
        .await
        .store()?;
    rows.iter().map(map).collect()
}

pub(crate) async fn catalog_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<Catalog>> {
    one(
        e,
        format!("SELECT {CATALOG_COLUMNS} FROM catalogs t WHERE t.id = $1"),
        id,
        catalog,
    )
    .await
}

pub(crate) async fn general_catalog<'e, E: Executor<'e, Database = Any>>(
    e: E,
) -> StoreResult<Option<Catalog>> {
    one(
        e,
        format!("SELECT {CATALOG_COLUMNS} FROM catalogs t WHERE t.catalog_type = $1 ORDER BY t.id LIMIT 1"),
        "serviceDefault",
        catalog,
    )
    .await
}

pub(crate) async fn resource_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<CatalogResource>> {
    one(
        e,
        format!("SELECT {RESOURCE_COLUMNS} FROM catalog_resources t WHERE t.id = $1"),
        id,
        resource,
    )
    .await
}

pub(crate) async fn roles_of<'e, E: Executor<'e, Database = Any>>(
    e: E,
    resource_id: &str,
) -> StoreResult<Vec<ResourceRole>> {
    all(
        e,
        format!("SELECT {ROLE_COLUMNS} FROM resource_roles t WHERE t.resource_id = $1 ORDER BY t.origin_id"),
        resource_id,
        role,
    )
    .await
}

pub(crate) async fn scopes_of<'e, E: Executor<'e, Database = Any>>(
    e: E,
    resource_id: &str,
) -> StoreResult<Vec<ResourceScope>> {
    all(
        e,
        format!("SELECT {SCOPE_COLUMNS} FROM resource_scopes t WHERE t.resource_id = $1 ORDER BY t.origin_id"),
        resource_id,
        scope,
    )
    .await
}

pub(crate) async fn role_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<ResourceRole>> {
    one(
        e,
        format!("SELECT {ROLE_COLUMNS} FROM resource_roles t WHERE t.id = $1"),
        id,
        role,
    )
    .await
}

pub(crate) async fn scope_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<ResourceScope>> {
    one(
        e,
        format!("SELECT {SCOPE_COLUMNS} FROM resource_scopes t WHERE t.id = $1"),
        id,
        scope,
    )
    .await
}

pub(crate) async fn package_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<AccessPackage>> {
    one(
        e,
        format!("SELECT {PACKAGE_COLUMNS} FROM access_packages t WHERE t.id = $1"),
        id,
        package,
    )
    .await
}

pub(crate) async fn em_role_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<EmRoleAssignment>> {
    one(
        e,
        format!("SELECT {EM_ROLE_COLUMNS} FROM em_role_assignments t WHERE t.id = $1"),
        id,
        em_role,
    )
    .await
}

pub(crate) async fn role_scopes_of(
    pool: &AnyPool,
    package_id: &str,
) -> StoreResult<Vec<PackageRoleScope>> {
    let rows = sqlx::query(
        "SELECT id, package_id, role_id, scope_id, created_at FROM package_role_scopes \
         WHERE package_id = $1 ORDER BY created_at, id",
    )
    .bind(package_id.to_owned())
    .fetch_all(pool)
    .await
    .store()?;
    rows.iter().map(decode::<PackageRoleScopeRow, _>).collect()
}

#[derive(FromRow)]
pub(crate) struct PackageRoleScopeRow {
    id: String,
    package_id: String,
    role_id: String,
    scope_id: String,
    created_at: i64,
}

impl TryFrom<PackageRoleScopeRow> for PackageRoleScope {
    type Error = StoreError;

    fn try_from(r: PackageRoleScopeRow) -> StoreResult<Self> {
        Ok(PackageRoleScope {
            id: r.id,
            package_id: r.package_id,
            role_id: r.role_id,
            scope_id: r.scope_id,
            created_date_time: from_micros(r.created_at),
        })
    }
}

fn visible(column: &str) -> String {
    format!("{column} IN ({VISIBLE_CATALOGS})")
}

pub(crate) fn restriction_of(
    visible_to: Option<&str>,
    column: &str,
) -> Option<(String, Vec<SqlValue>)> {
    visible_to.map(|p| (visible(column), vec![SqlValue::Text(p.to_owned())]))
}

pub(crate) async fn list_catalogs(
    pool: &AnyPool,
    query: &ListQuery,
    visible_to: Option<&str>,
) -> StoreResult<Page<Catalog>> {
    let restriction = restriction_of(visible_to, "t.id");
    list(
        pool,
        ListSpec {
            schema: &schema::CATALOG,
            from: "catalogs t",
            columns: CATALOG_COLUMNS,
            base_where: restriction,
        },
        query,
        catalog,
    )
    .await
}

pub(crate) async fn list_in_catalog<T>(
    pool: &AnyPool,
    catalog_id: &str,
    query: &ListQuery,
    spec: (&'static writ_odata::EntitySchema, &str, &str),
    map: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    list(
        pool,
        ListSpec {
            schema: spec.0,
            from: spec.1,
            columns: spec.2,
            base_where: Some((
                "t.catalog_id = $1".to_owned(),
                vec![SqlValue::Text(catalog_id.to_owned())],
            )),
        },
        query,
        map,
    )
    .await
}

pub(crate) async fn list_packages(
    pool: &AnyPool,
    query: &ListQuery,
    catalog_id: Option<&str>,
    visible_to: Option<&str>,
) -> StoreResult<Page<AccessPackage>> {
    let restriction = match catalog_id {
        Some(c) => Some((
            "t.catalog_id = $1".to_owned(),
            vec![SqlValue::Text(c.to_owned())],
        )),
        None => restriction_of(visible_to, "t.catalog_id"),
    };
    list(
        pool,
        ListSpec {
            schema: &schema::ACCESS_PACKAGE,
            from: "access_packages t",
            columns: PACKAGE_COLUMNS,
            base_where: restriction,
        },
        query,
        package,
    )
    .await
}

pub(crate) async fn list_requests(
    pool: &AnyPool,
    query: &ListQuery,
    visible_to: Option<&str>,
) -> StoreResult<Page<ResourceRequest>> {
    let restriction = restriction_of(visible_to, "t.catalog_id");
    list(
        pool,
        ListSpec {
            schema: &schema::RESOURCE_REQUEST,
            from: "resource_requests t",
            columns: REQUEST_COLUMNS,
            base_where: restriction,
        },
        query,
        request,
    )
    .await
}

/// A restricted caller sees its own assignments and those of catalogs where its role lets it
/// read role assignments (owner, reader, access package manager).
const READABLE_ROLE_ASSIGNMENTS: &str = "(t.principal_id = $1 OR t.catalog_id IN \
     (SELECT v.catalog_id FROM em_role_assignments v WHERE v.principal_id = $1 \
     AND v.catalog_id IS NOT NULL AND v.role_definition_id IN \
     ('ae79f266-94d4-4dab-b730-feca7e132178', '44272f93-9762-48e8-af59-1b5351b1d6b3', \
     '7f480852-ebdc-47d4-87de-0d8498384a83')))";

pub(crate) async fn list_em_roles(
    pool: &AnyPool,
    query: &ListQuery,
    catalogs_of: Option<&str>,
) -> StoreResult<Page<EmRoleAssignment>> {
    let restriction = catalogs_of.map(|p| {
        (
            READABLE_ROLE_ASSIGNMENTS.to_owned(),
            vec![SqlValue::Text(p.to_owned())],
        )
    });
    list(
        pool,
        ListSpec {
            schema: &schema::EM_ROLE_ASSIGNMENT,
            from: "em_role_assignments t",
            columns: EM_ROLE_COLUMNS,
            base_where: restriction,
        },
        query,
        em_role,
    )
    .await
}

pub(crate) async fn em_roles_of(
    pool: &AnyPool,
    principal_id: &str,
) -> StoreResult<Vec<(String, Option<String>)>> {
    // (role_definition_id, catalog_id), in the order of the select list.
    sqlx::query_as::<_, (String, Option<String>)>(
        "SELECT role_definition_id, catalog_id FROM em_role_assignments WHERE principal_id = $1 \
         ORDER BY role_definition_id, catalog_id",
    )
    .bind(principal_id.to_owned())
    .fetch_all(pool)
    .await
    .store()
}

// ----- writes -----

pub(crate) async fn insert_catalog<'e, E: Executor<'e, Database = Any>>(
    e: E,
    c: &Catalog,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO catalogs (id, display_name, description, catalog_type, state, \
         is_externally_visible, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.id.clone())
    .bind(c.display_name.clone())
    .bind(c.description.clone())
    .bind(c.catalog_type.clone())
    .bind(c.state.clone())
    .bind(c.is_externally_visible)
    .bind(to_micros(c.created_date_time))
    .bind(to_micros(c.modified_date_time))
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn update_catalog<'e, E: Executor<'e, Database = Any>>(
    e: E,
    c: &Catalog,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE catalogs SET display_name = $2, description = $3, state = $4, \
         is_externally_visible = $5, modified_at = $6 WHERE id = $1",
    )
    .bind(c.id.clone())
    .bind(c.display_name.clone())
    .bind(c.description.clone())
    .bind(c.state.clone())
    .bind(c.is_externally_visible)
    .bind(to_micros(c.modified_date_time))
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn resource_by_origin<'e, E: Executor<'e, Database = Any>>(
    e: E,
    catalog_id: &str,
    origin_system: &str,
    origin_id: &str,
) -> StoreResult<Option<CatalogResource>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RESOURCE_COLUMNS} FROM catalog_resources t WHERE t.catalog_id = $1 \
         AND t.origin_system = $2 AND t.origin_id = $3"
    )))
    .bind(catalog_id.to_owned())
    .bind(origin_system.to_owned())
    .bind(origin_id.to_owned())
    .fetch_optional(e)
    .await
    .store()?;
    row.map(|r| resource(&r)).transpose()
}

pub(crate) async fn insert_resource<'e, E: Executor<'e, Database = Any>>(
    e: E,
    r: &CatalogResource,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO catalog_resources (id, catalog_id, origin_system, origin_id, display_name, \
         description, created_at, modified_at, onboarded_by_global_admin) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(r.id.clone())
    .bind(r.catalog_id.clone())
    .bind(r.origin_system.clone())
    .bind(r.origin_id.clone())
    .bind(r.display_name.clone())
    .bind(r.description.clone())
    .bind(to_micros(r.created_date_time))
    .bind(to_micros(r.modified_date_time))
    .bind(r.onboarded_by_global_admin)
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn update_resource<'e, E: Executor<'e, Database = Any>>(
    e: E,
    r: &CatalogResource,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE catalog_resources SET display_name = $2, description = $3, modified_at = $4, \
         onboarded_by_global_admin = $5 WHERE id = $1",
    )
    .bind(r.id.clone())
    .bind(r.display_name.clone())
    .bind(r.description.clone())
    .bind(to_micros(r.modified_date_time))
    .bind(r.onboarded_by_global_admin)
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn upsert_role<'e, E: Executor<'e, Database = Any>>(
    e: E,
    r: &ResourceRole,
) -> StoreResult<()> {
    let members = serde_json::to_string(&r.allowed_member_types)
        .map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "INSERT INTO resource_roles (id, resource_id, catalog_id, origin_system, origin_id, \
         display_name, description, role_type, allowed_member_types) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET display_name = $6, description = $7, role_type = $8, \
         allowed_member_types = $9",
    )
    .bind(r.id.clone())
    .bind(r.resource_id.clone())
    .bind(r.catalog_id.clone())
    .bind(r.origin_system.clone())
    .bind(r.origin_id.clone())
    .bind(r.display_name.clone())
    .bind(r.description.clone())
    .bind(r.role_type.clone())
    .bind(members)
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn insert_scope<'e, E: Executor<'e, Database = Any>>(
    e: E,
    s: &ResourceScope,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO resource_scopes (id, resource_id, catalog_id, origin_system, origin_id, \
         display_name, description, is_root_scope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(s.id.clone())
    .bind(s.resource_id.clone())
    .bind(s.catalog_id.clone())
    .bind(s.origin_system.clone())
    .bind(s.origin_id.clone())
    .bind(s.display_name.clone())
    .bind(s.description.clone())
    .bind(s.is_root_scope)
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn insert_request<'e, E: Executor<'e, Database = Any>>(
    e: E,
    r: &ResourceRequest,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO resource_requests (id, catalog_id, resource_id, request_type, state, \
         origin_system, origin_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(r.id.clone())
    .bind(r.catalog_id.clone())
    .bind(r.resource_id.clone())
    .bind(r.request_type.clone())
    .bind(r.state.clone())
    .bind(r.origin_system.clone())
    .bind(r.origin_id.clone())
    .bind(to_micros(r.created_date_time))
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn insert_package<'e, E: Executor<'e, Database = Any>>(
    e: E,
    p: &AccessPackage,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO access_packages (id, catalog_id, display_name, description, is_hidden, \
         created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.id.clone())
    .bind(p.catalog_id.clone())
    .bind(p.display_name.clone())
    .bind(p.description.clone())
    .bind(p.is_hidden)
    .bind(to_micros(p.created_date_time))
    .bind(to_micros(p.modified_date_time))
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn update_package<'e, E: Executor<'e, Database = Any>>(
    e: E,
    p: &AccessPackage,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE access_packages SET display_name = $2, description = $3, is_hidden = $4, \
         modified_at = $5 WHERE id = $1",
    )
    .bind(p.id.clone())
    .bind(p.display_name.clone())
    .bind(p.description.clone())
    .bind(p.is_hidden)
    .bind(to_micros(p.modified_date_time))
    .execute(e)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn insert_role_scope<'e, E: Executor<'e, Database = Any>>(
    e: E,
    rs: &PackageRoleScope,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO package_role_scopes (package_id, id, role_id, scope_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (package_id, id) DO NOTHING",
    )
    .bind(rs.package_id.clone())
    .bind(rs.id.clone())
    .bind(rs.role_id.clone())
    .bind(rs.scope_id.clone())
    .bind(to_micros(rs.created_date_time))
    .execute(e)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn delete_role_scope<'e, E: Executor<'e, Database = Any>>(
    e: E,
    package_id: &str,
    id: &str,
) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM package_role_scopes WHERE package_id = $1 AND id = $2")
        .bind(package_id.to_owned())
        .bind(id.to_owned())
        .execute(e)
        .await
        .store()?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn insert_em_role<'e, E: Executor<'e, Database = Any>>(
    e: E,
    a: &EmRoleAssignment,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO em_role_assignments (id, role_definition_id, principal_id, catalog_id, \
         app_scope_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (role_definition_id, principal_id, app_scope_id) DO NOTHING",
    )
    .bind(a.id.clone())
    .bind(a.role_definition_id.clone())
    .bind(a.principal_id.clone())
    .bind(a.catalog_id.clone())
    .bind(a.app_scope_id.clone())
    .bind(to_micros(a.created_date_time))
    .execute(e)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

/// `DELETE … WHERE <column> = $1` for a constant table and column; whether a row went.
pub(crate) async fn delete_by<'e, E: Executor<'e, Database = Any>>(
    e: E,
    table: &'static str,
    column: &'static str,
    value: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE {column} = $1"
    )))
    .bind(value.to_owned())
    .execute(e)
    .await
    .store()?;
    Ok(done.rows_affected() > 0)
}

/// A constant `SELECT COUNT(*) AS n …` statement with one text parameter.
pub(crate) async fn count<'e, E: Executor<'e, Database = Any>>(
    e: E,
    sql: &'static str,
    value: &str,
) -> StoreResult<i64> {
    let row = sqlx::query(sql)
        .bind(value.to_owned())
        .fetch_one(e)
        .await
        .store()?;
    row.try_get("n").store()
}

// ----- assignment policies -----

pub(crate) const POLICY_COLUMNS: &str = "t.id, t.access_package_id, t.catalog_id, \
     t.display_name, t.description, t.allowed_target_scope, t.settings, t.created_at, \
     t.modified_at";

#[derive(FromRow)]
pub(crate) struct AssignmentPolicyRow {
    id: String,
    access_package_id: String,
    catalog_id: String,
    display_name: String,
    description: Option<String>,
    allowed_target_scope: String,
    settings: String,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<AssignmentPolicyRow> for AssignmentPolicy {
    type Error = StoreError;

    fn try_from(r: AssignmentPolicyRow) -> StoreResult<Self> {
        Ok(AssignmentPolicy {
            settings: json("settings", &r.settings)?,
            id: r.id,
            access_package_id: r.access_package_id,
            catalog_id: r.catalog_id,
            display_name: r.display_name,
            description: r.description,
            allowed_target_scope: r.allowed_target_scope,
            created_date_time: from_micros(r.created_at),
            modified_date_time: from_micros(r.modified_at),
        })
    }
}

pub(crate) fn policy(row: &AnyRow) -> StoreResult<AssignmentPolicy> {
    decode::<AssignmentPolicyRow, _>(row)
}

pub(crate) async fn policy_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<AssignmentPolicy>> {
    one(
        e,
        format!("SELECT {POLICY_COLUMNS} FROM assignment_policies t WHERE t.id = $1"),
        id,
        policy,
    )
    .await
}

pub(crate) async fn policies_of_package<'e, E: Executor<'e, Database = Any>>(
    e: E,
    package_id: &str,
) -> StoreResult<Vec<AssignmentPolicy>> {
    all(
        e,
        format!("SELECT {POLICY_COLUMNS} FROM assignment_policies t WHERE t.access_package_id = $1 ORDER BY t.id"),
        package_id,
        policy,
    )
    .await
}

/// A package with its policies (by id), in one statement: the package's row first, then one
/// row per policy, each decoded by its own columns (see
/// `EntitlementStore::package_with_policies`).
pub(crate) async fn package_with_policies(
    pool: &AnyPool,
    id: &str,
) -> StoreResult<Option<(AccessPackage, Vec<AssignmentPolicy>)>> {
    let rows = sqlx::query(
        "SELECT CAST('package' AS TEXT) AS row_kind, t.id, t.catalog_id, t.display_name, \
         t.description, t.is_hidden, t.created_at, t.modified_at, \
         CAST(NULL AS TEXT) AS access_package_id, CAST(NULL AS TEXT) AS allowed_target_scope, \
         CAST(NULL AS TEXT) AS settings FROM access_packages t WHERE t.id = $1 \
         UNION ALL \
         SELECT 'policy', p.id, p.catalog_id, p.display_name, p.description, NULL, p.created_at, \
         p.modified_at, p.access_package_id, p.allowed_target_scope, p.settings \
         FROM assignment_policies p WHERE p.access_package_id = $1 \
         ORDER BY row_kind, id",
    )
    .bind(id.to_owned())
    .fetch_all(pool)
    .await
    .store()?;
    let Some((first, rest)) = rows.split_first() else {
        return Ok(None);
    };
    let kind: String = first.try_get("row_kind").store()?;
    if kind != "package" {
        // Policies of a package that is gone (deleted meanwhile): no package.
        return Ok(None);
    }
    let policies = rest.iter().map(policy).collect::<StoreResult<Vec<_>>>()?;
    Ok(Some((package(first)?, policies)))
}

pub(crate) async fn policies_naming<'e, E: Executor<'e, Database = Any>>(
    e: E,
    object_id: &str,
) -> StoreResult<Vec<AssignmentPolicy>> {
    all(
        e,
        format!(
            "SELECT {POLICY_COLUMNS} FROM assignment_policies t WHERE t.id IN \
             (SELECT s.policy_id FROM policy_subjects s WHERE s.object_id = $1) ORDER BY t.id"
        ),
        object_id,
        policy,
    )
    .await
}

pub(crate) async fn list_policies(
    pool: &AnyPool,
    query: &ListQuery,
    visible_to: Option<&str>,
) -> StoreResult<Page<AssignmentPolicy>> {
    let restriction = restriction_of(visible_to, "t.catalog_id");
    list(
        pool,
        ListSpec {
            schema: &schema::ASSIGNMENT_POLICY,
            from: "assignment_policies t",
            columns: POLICY_COLUMNS,
            base_where: restriction,
        },
        query,
        policy,
    )
    .await
}

/// Writes a policy and the index of the principals it names (replacing any previous one).
pub(crate) async fn save_policy(
    tx: &mut sqlx::Transaction<'static, Any>,
    p: &AssignmentPolicy,
    subjects: &[String],
    insert: bool,
) -> StoreResult<()> {
    let settings =
        serde_json::to_string(&p.settings).map_err(|e| StoreError::Other(e.to_string()))?;
    let sql = if insert {
        "INSERT INTO assignment_policies (id, access_package_id, catalog_id, display_name, \
         description, allowed_target_scope, settings, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    } else {
        "UPDATE assignment_policies SET access_package_id = $2, catalog_id = $3, display_name = $4, \
         description = $5, allowed_target_scope = $6, settings = $7, created_at = $8, \
         modified_at = $9 WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(p.id.clone())
        .bind(p.access_package_id.clone())
        .bind(p.catalog_id.clone())
        .bind(p.display_name.clone())
        .bind(p.description.clone())
        .bind(p.allowed_target_scope.clone())
        .bind(settings)
        .bind(to_micros(p.created_date_time))
        .bind(to_micros(p.modified_date_time))
        .execute(&mut **tx)
        .await
        .store()?;
    delete_by(&mut **tx, "policy_subjects", "policy_id", &p.id).await?;
    for subject in subjects {
        sqlx::query("INSERT INTO policy_subjects (policy_id, object_id) VALUES ($1, $2)")
            .bind(p.id.clone())
            .bind(subject.clone())
            .execute(&mut **tx)
            .await
            .store()?;
    }
    Ok(())
}

/// A package as [`packages_granting`] reads it beside each of its policies (`package_*` columns).
#[derive(FromRow)]
struct GrantingPackageRow {
    package_id: String,
    package_catalog_id: String,
    package_display_name: String,
    package_description: Option<String>,
    package_is_hidden: DbBool,
    package_created_at: i64,
    package_modified_at: i64,
}

impl TryFrom<GrantingPackageRow> for AccessPackage {
    type Error = StoreError;

    fn try_from(p: GrantingPackageRow) -> StoreResult<Self> {
        Ok(AccessPackage {
            id: p.package_id,
            catalog_id: p.package_catalog_id,
            display_name: p.package_display_name,
            description: p.package_description,
            is_hidden: p.package_is_hidden.into(),
            created_date_time: from_micros(p.package_created_at),
            modified_date_time: from_micros(p.package_modified_at),
        })
    }
}

/// The packages with the resource role `role_origin_id` of the resource `resource_origin_id`
/// of `origin_system` among their role scopes, each with its policies (a package without a
/// policy is left out: nothing could request it), by package name then id: one query, each row a
/// policy with its package, on the indexed sub-select of the packages granting the role
/// (`catalog_resources_origin`, `resource_roles_origin`).
pub(crate) async fn packages_granting(
    pool: &AnyPool,
    origin_system: &str,
    resource_origin_id: &str,
    role_origin_id: &str,
) -> StoreResult<Vec<(AccessPackage, Vec<AssignmentPolicy>)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {POLICY_COLUMNS}, p.id AS package_id, p.catalog_id AS package_catalog_id, \
         p.display_name AS package_display_name, p.description AS package_description, \
         p.is_hidden AS package_is_hidden, p.created_at AS package_created_at, \
         p.modified_at AS package_modified_at \
         FROM assignment_policies t JOIN access_packages p ON p.id = t.access_package_id \
         WHERE t.access_package_id IN (SELECT s.package_id FROM package_role_scopes s \
             JOIN resource_roles r ON r.id = s.role_id \
             JOIN catalog_resources c ON c.id = r.resource_id \
             WHERE c.origin_system = $1 AND c.origin_id = $2 AND r.origin_id = $3) \
         ORDER BY p.display_name, p.id, t.id"
    )))
    .bind(origin_system.to_owned())
    .bind(resource_origin_id.to_owned())
    .bind(role_origin_id.to_owned())
    .fetch_all(pool)
    .await
    .store()?;
    let mut out: Vec<(AccessPackage, Vec<AssignmentPolicy>)> = Vec::new();
    for row in &rows {
        let policy = policy(row)?;
        match out.last_mut() {
            Some((package, policies)) if package.id == policy.access_package_id => {
                policies.push(policy);
            }
            _ => {
                let package: AccessPackage = decode::<GrantingPackageRow, _>(row)?;
                out.push((package, vec![policy]));
            }
        }
    }
    Ok(out)
}

/// Policies with `enableTargetsToSelfAddAccess`, found in the stored settings document.
pub(crate) async fn self_requestable_policies(
    pool: &AnyPool,
) -> StoreResult<Vec<AssignmentPolicy>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {POLICY_COLUMNS} FROM assignment_policies t \
         WHERE t.settings LIKE '%\"enableTargetsToSelfAddAccess\":true%' ORDER BY t.id"
    )))
    .fetch_all(pool)
    .await
    .store()?;
    rows.iter().map(policy).collect()
}

pub(crate) async fn incompatible_packages(
    pool: &AnyPool,
    package_id: &str,
    outgoing: bool,
) -> StoreResult<Vec<AccessPackage>> {
    let (pick, by) = if outgoing {
        ("other_package_id", "package_id")
    } else {
        ("package_id", "other_package_id")
    };
    all(
        pool,
        format!(
            "SELECT {PACKAGE_COLUMNS} FROM access_packages t WHERE t.id IN \
             (SELECT i.{pick} FROM package_incompatible_packages i WHERE i.{by} = $1) ORDER BY t.id"
        ),
        package_id,
        package,
    )
    .await
}

pub(crate) async fn change_incompatibility(
    tx: &mut sqlx::Transaction<'static, Any>,
    package_id: &str,
    other_id: &str,
    with_group: bool,
    add: bool,
) -> StoreResult<bool> {
    let (table, column) = if with_group {
        ("package_incompatible_groups", "group_id")
    } else {
        ("package_incompatible_packages", "other_package_id")
    };
    let sql = if add {
        format!("INSERT INTO {table} (package_id, {column}) VALUES ($1, $2) ON CONFLICT DO NOTHING")
    } else {
        format!("DELETE FROM {table} WHERE package_id = $1 AND {column} = $2")
    };
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(package_id.to_owned())
        .bind(other_id.to_owned())
        .execute(&mut **tx)
        .await
        .store()?;
    Ok(done.rows_affected() == 1)
}

// ----- connected organizations and custom extensions -----

pub(crate) const ORGANIZATION_COLUMNS: &str = "t.id, t.display_name, t.description, t.state, \
     t.identity_sources, t.created_at, t.modified_at";

#[derive(FromRow)]
pub(crate) struct ConnectedOrganizationRow {
    id: String,
    display_name: String,
    description: Option<String>,
    state: String,
    identity_sources: String,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<ConnectedOrganizationRow> for ConnectedOrganization {
    type Error = StoreError;

    fn try_from(r: ConnectedOrganizationRow) -> StoreResult<Self> {
        Ok(ConnectedOrganization {
            identity_sources: json("identity_sources", &r.identity_sources)?,
            id: r.id,
            display_name: r.display_name,
            description: r.description,
            state: r.state,
            created_date_time: from_micros(r.created_at),
            modified_date_time: from_micros(r.modified_at),
        })
    }
}

pub(crate) fn organization(row: &AnyRow) -> StoreResult<ConnectedOrganization> {
    decode::<ConnectedOrganizationRow, _>(row)
}

pub(crate) async fn organization_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<ConnectedOrganization>> {
    one(
        e,
        format!("SELECT {ORGANIZATION_COLUMNS} FROM connected_organizations t WHERE t.id = $1"),
        id,
        organization,
    )
    .await
}

pub(crate) async fn list_organizations(
    pool: &AnyPool,
    query: &ListQuery,
) -> StoreResult<Page<ConnectedOrganization>> {
    list(
        pool,
        ListSpec {
            schema: &schema::CONNECTED_ORGANIZATION,
            from: "connected_organizations t",
            columns: ORGANIZATION_COLUMNS,
            base_where: None,
        },
        query,
        organization,
    )
    .await
}

pub(crate) async fn organization_sponsor_ids(
    pool: &AnyPool,
    id: &str,
    internal: bool,
) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT sponsor_id FROM connected_organization_sponsors WHERE organization_id = $1 \
         AND kind = $2 ORDER BY sponsor_id",
    )
    .bind(id.to_owned())
    .bind(if internal { "internal" } else { "external" })
    .fetch_all(pool)
    .await
    .store()?;
    rows.iter()
        .map(|r| r.try_get("sponsor_id").store())
        .collect()
}

pub(crate) async fn save_organization(
    tx: &mut sqlx::Transaction<'static, Any>,
    o: &ConnectedOrganization,
    insert: bool,
) -> StoreResult<()> {
    let sources =
        serde_json::to_string(&o.identity_sources).map_err(|e| StoreError::Other(e.to_string()))?;
    let sql = if insert {
        "INSERT INTO connected_organizations (id, display_name, description, state, \
         identity_sources, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    } else {
        "UPDATE connected_organizations SET display_name = $2, description = $3, state = $4, \
         identity_sources = $5, created_at = $6, modified_at = $7 WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(o.id.clone())
        .bind(o.display_name.clone())
        .bind(o.description.clone())
        .bind(o.state.clone())
        .bind(sources)
        .bind(to_micros(o.created_date_time))
        .bind(to_micros(o.modified_date_time))
        .execute(&mut **tx)
        .await
        .store()?;
    Ok(())
}

pub(crate) async fn change_organization_sponsor(
    tx: &mut sqlx::Transaction<'static, Any>,
    id: &str,
    sponsor_id: &str,
    internal: bool,
    add: bool,
) -> StoreResult<bool> {
    let sql = if add {
        "INSERT INTO connected_organization_sponsors (organization_id, sponsor_id, kind) \
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM connected_organization_sponsors WHERE organization_id = $1 \
         AND sponsor_id = $2 AND kind = $3"
    };
    let done = sqlx::query(sql)
        .bind(id.to_owned())
        .bind(sponsor_id.to_owned())
        .bind(if internal { "internal" } else { "external" })
        .execute(&mut **tx)
        .await
        .store()?;
    Ok(done.rows_affected() == 1)
}

pub(crate) const EXTENSION_COLUMNS: &str = "t.id, t.catalog_id, t.kind, t.display_name, \
     t.description, t.settings, t.created_by, t.created_at, t.modified_by, t.modified_at";

#[derive(FromRow)]
pub(crate) struct CustomExtensionRow {
    id: String,
    catalog_id: String,
    kind: String,
    display_name: String,
    description: Option<String>,
    settings: String,
    created_by: Option<String>,
    created_at: i64,
    modified_by: Option<String>,
    modified_at: i64,
}

impl TryFrom<CustomExtensionRow> for CustomExtension {
    type Error = StoreError;

    fn try_from(r: CustomExtensionRow) -> StoreResult<Self> {
        Ok(CustomExtension {
            settings: json("settings", &r.settings)?,
            id: r.id,
            catalog_id: r.catalog_id,
            kind: r.kind,
            display_name: r.display_name,
            description: r.description,
            created_by: r.created_by,
            created_date_time: from_micros(r.created_at),
            modified_by: r.modified_by,
            modified_date_time: from_micros(r.modified_at),
        })
    }
}

pub(crate) fn extension(row: &AnyRow) -> StoreResult<CustomExtension> {
    decode::<CustomExtensionRow, _>(row)
}

pub(crate) async fn extension_by_id<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: &str,
) -> StoreResult<Option<CustomExtension>> {
    one(
        e,
        format!("SELECT {EXTENSION_COLUMNS} FROM custom_extensions t WHERE t.id = $1"),
        id,
        extension,
    )
    .await
}

pub(crate) async fn extensions_of<'e, E: Executor<'e, Database = Any>>(
    e: E,
    catalog_id: &str,
) -> StoreResult<Vec<CustomExtension>> {
    all(
        e,
        format!("SELECT {EXTENSION_COLUMNS} FROM custom_extensions t WHERE t.catalog_id = $1 ORDER BY t.id"),
        catalog_id,
        extension,
    )
    .await
}

pub(crate) async fn save_extension(
    tx: &mut sqlx::Transaction<'static, Any>,
    x: &CustomExtension,
    insert: bool,
) -> StoreResult<()> {
    let settings =
        serde_json::to_string(&x.settings).map_err(|e| StoreError::Other(e.to_string()))?;
    let sql = if insert {
        "INSERT INTO custom_extensions (id, catalog_id, kind, display_name, description, \
         settings, created_by, created_at, modified_by, modified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    } else {
        "UPDATE custom_extensions SET catalog_id = $2, kind = $3, display_name = $4, \
         description = $5, settings = $6, created_by = $7, created_at = $8, modified_by = $9, \
         modified_at = $10 WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(x.id.clone())
        .bind(x.catalog_id.clone())
        .bind(x.kind.clone())
        .bind(x.display_name.clone())
        .bind(x.description.clone())
        .bind(settings)
        .bind(x.created_by.clone())
        .bind(to_micros(x.created_date_time))
        .bind(x.modified_by.clone())
        .bind(to_micros(x.modified_date_time))
        .execute(&mut **tx)
        .await
        .store()?;
    Ok(())
}

pub(crate) async fn resources_with_origin<'e, E: Executor<'e, Database = Any>>(
    e: E,
    origin_id: &str,
) -> StoreResult<Vec<CatalogResource>> {
    all(
        e,
        format!("SELECT {RESOURCE_COLUMNS} FROM catalog_resources t WHERE t.origin_id = $1 ORDER BY t.id"),
        origin_id,
        resource,
    )
    .await
}
