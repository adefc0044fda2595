//! Entity schemas shared by the unit tests, shaped like the ones the store defines.

use crate::{EntitySchema, FieldDef, FieldType};

const fn scalar(sql: &'static str, ty: FieldType, orderable: bool) -> FieldDef {
    FieldDef::Scalar { sql, ty, orderable }
}

pub static PROXY_ADDRESS: EntitySchema = EntitySchema {
    entity: "proxy address",
    fields: &[("$it", scalar("{t}.address", FieldType::Text, false))],
};

pub static LICENSE: EntitySchema = EntitySchema {
    entity: "license",
    fields: &[("sku", scalar("{t}.sku", FieldType::Id, false))],
};

pub static USER: EntitySchema = EntitySchema {
    entity: "user",
    fields: &[
        ("id", scalar("{t}.id", FieldType::Id, true)),
        (
            "displayName",
            scalar("{t}.display_name", FieldType::Text, true),
        ),
        ("mail", scalar("{t}.mail", FieldType::Text, false)),
        (
            "accountEnabled",
            scalar("{t}.account_enabled", FieldType::Bool, false),
        ),
        (
            "createdDateTime",
            scalar("{t}.created_at", FieldType::DateTime, true),
        ),
        (
            "signInCount",
            scalar("{t}.sign_in_count", FieldType::Int, false),
        ),
        (
            "userType",
            scalar("{t}.user_type", FieldType::Enum(&["Member", "Guest"]), true),
        ),
        ("manager/id", scalar("{t}.manager_id", FieldType::Id, false)),
        (
            "proxyAddresses",
            FieldDef::Collection {
                from: "user_proxy_addresses {a} WHERE {a}.user_id = {t}.id",
                element: &PROXY_ADDRESS,
            },
        ),
        (
            "licenses",
            FieldDef::Collection {
                from: "user_licenses {a}",
                element: &LICENSE,
            },
        ),
    ],
};

pub static ROLE: EntitySchema = EntitySchema {
    entity: "role",
    fields: &[("name", scalar("{t}.name", FieldType::Text, false))],
};

pub static MEMBER: EntitySchema = EntitySchema {
    entity: "group member",
    fields: &[
        ("id", scalar("{t}.member_id", FieldType::Id, false)),
        (
            "displayName",
            scalar(
                "(SELECT d.display_name FROM directory_objects d WHERE d.id = {t}.member_id)",
                FieldType::Text,
                false,
            ),
        ),
        (
            "roles",
            FieldDef::Collection {
                from: "member_roles {a} WHERE {a}.member_id = {t}.member_id",
                element: &ROLE,
            },
        ),
    ],
};

pub static OWNER: EntitySchema = EntitySchema {
    entity: "group owner",
    fields: &[("$it", scalar("{t}.owner_id", FieldType::Id, false))],
};

pub static GROUP: EntitySchema = EntitySchema {
    entity: "group",
    fields: &[
        ("id", scalar("{t}.id", FieldType::Id, true)),
        (
            "displayName",
            scalar("{t}.display_name", FieldType::Text, true),
        ),
        (
            "members",
            FieldDef::Collection {
                from: "group_members {a} WHERE {a}.group_id = {t}.id",
                element: &MEMBER,
            },
        ),
        (
            "owners",
            FieldDef::Collection {
                // A top-level OR in the template: the lambda predicate must not bind to its
                // last term only.
                from: "group_owners {a} WHERE {a}.group_id = {t}.id OR {a}.group_id IS NULL AND 1 = 0",
                element: &OWNER,
            },
        ),
    ],
};

pub static ASSIGNMENT: EntitySchema = EntitySchema {
    entity: "accessPackageAssignment",
    fields: &[
        ("id", scalar("{t}.id", FieldType::Id, true)),
        (
            "accessPackage/id",
            scalar("{t}.access_package_id", FieldType::Id, false),
        ),
        (
            "resource/originSystem",
            scalar(
                "(SELECT r.origin_system FROM resources r WHERE r.id = {t}.resource_id)",
                FieldType::Text,
                true,
            ),
        ),
        (
            "state",
            scalar(
                "{t}.state",
                FieldType::Enum(&["Delivering", "Delivered", "Expired"]),
                true,
            ),
        ),
        (
            "createdDateTime",
            scalar("{t}.created_at", FieldType::DateTime, true),
        ),
    ],
};
