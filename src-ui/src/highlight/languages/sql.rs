//! SQL: keywords in any case.

use crate::highlight::spec::{BASE, Spec, Words, q};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["sql", "mysql", "postgresql", "postgres", "sqlite", "plsql"];

pub(super) const SPEC: Spec = Spec {
    line_comments: &["--"],
    block_comment: Some(("/*", "*/")),
    quotes: &[
        q(b'\'', false, true),
        q(b'"', false, false),
        q(b'`', false, false),
    ],
    keywords: Words(
        "select from where and or not in is like between insert into values update set delete \
         create table index view drop alter add column primary key foreign references unique \
         default check constraint join inner left right full outer cross on as group by order \
         having limit offset union all distinct case when then else end exists with recursive \
         returning begin commit rollback transaction if asc desc cascade trigger function \
         procedure return returns declare grant revoke using over partition window conflict do \
         nothing replace temporary temp autoincrement serial schema database explain analyze \
         vacuum",
    ),
    types: Words(
        "int integer smallint bigint tinyint real float double precision numeric decimal text \
         varchar char character boolean bool date time timestamp timestamptz interval blob bytea \
         uuid json jsonb money",
    ),
    literals: Words("true false null"),
    case_insensitive: true,
    ..BASE
};
