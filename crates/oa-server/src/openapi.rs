//! The OpenAPI 3.1 document of the HTTP API, and the routes it describes.
//!
//! Nothing here is written by hand twice: every handler carries a `#[utoipa::path]` with its
//! method, path, body, parameters and answers; the bodies' schemas are derived from the wire types
//! themselves (`oa-types` with its `openapi` feature, never enabled for the UI); and [`routes`]
//! registers each handler at the method and path its annotation names, collecting the document
//! as it goes. A route therefore cannot be served without being described, nor described
//! without being served. `docs/openapi.json` is a copy of the document, checked by a test.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, ResponseBuilder, ResponsesBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ErrorBody;
use crate::{AppState, auth, health, ingest, leaderboard, metrics, pipeline, tasks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Open Assistant Desktop dataset server",
        description = "Ingest of contribution events, offline task leases, consensus, trust, \
                       leaderboard. Every error answers with an `ErrorBody`. A `SubmittedEvent`'s \
                       `payload` is the JSON text of an `EventPayload`."
    ),
    modifiers(&DeviceToken),
    components(schemas(ErrorBody, oa_types::EventPayload)),
    tags(
        (name = "service", description = "Health, metrics and this document"),
        (name = "accounts", description = "Accounts, devices and their tokens"),
        (name = "contributions", description = "Contribution events and the trees they grow"),
        (name = "tasks", description = "Work leased to contributors, possibly done offline"),
        (name = "scores", description = "The leaderboard and a contributor's own standing"),
    )
)]
struct ApiDoc;

/// Adds the `bearer` security scheme that the routes needing a device token name.
struct DeviceToken;

impl Modify for DeviceToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The device token from `POST /v1/accounts` or `POST /v1/sessions`",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every route of the API with its description. [`crate::router`] adds the fallback, the
/// middleware and the state.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(openapi))
        .routes(routes!(auth::register))
        .routes(routes!(auth::delete_account))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::set_role))
        .routes(routes!(auth::login))
        .routes(routes!(auth::list_devices))
        .routes(routes!(auth::revoke_device))
        .routes(routes!(ingest::ingest))
        .routes(routes!(pipeline::show_tree))
        .routes(routes!(pipeline::halt_tree))
        .routes(routes!(tasks::list))
        .routes(routes!(tasks::lease))
        .routes(routes!(tasks::skip))
        .routes(routes!(leaderboard::leaderboard))
        .routes(routes!(leaderboard::my_stats))
}

/// The OpenAPI document of the HTTP API, as `GET /openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// [`document`] as the pretty-printed JSON text of `docs/openapi.json` (with a final newline);
/// `oa-server openapi` prints it.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("an OpenAPI document always serialises");
    json.push('\n');
    json
}

/// The document is the same for the life of the process: rendered once.
static DOCUMENT: LazyLock<String> = LazyLock::new(document_json);

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "This document", body = Object))
)]
pub(crate) async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str()).into_response()
}

/// Answers by status, as a group of them is written into each route's description.
type Answers = BTreeMap<String, RefOr<utoipa::openapi::Response>>;

/// An error answer: an [`ErrorBody`] whose codes `description` names.
fn error(description: &str) -> RefOr<utoipa::openapi::Response> {
    error_builder(description).build().into()
}

/// [`error`], for adding headers to.
fn error_builder(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        utoipa::openapi::content::ContentBuilder::new()
            .schema(Some(utoipa::openapi::schema::Ref::from_schema_name(
                ErrorBody::name(),
            )))
            .build(),
    )
}

/// The answers of a route that needs a device token and does not get a usable one.
pub(crate) struct TokenRefused;

impl utoipa::IntoResponses for TokenRefused {
    fn responses() -> Answers {
        ResponsesBuilder::new()
            .response(
                "401",
                error(
                    "No usable device token: `missing_token`, `invalid_token`, `token_expired` \
                     or `token_revoked`",
                ),
            )
            .build()
            .into()
    }
}

/// The answer of a route with an `{id}` in its path when the id is not a UUID.
pub(crate) struct IdRefused;

impl utoipa::IntoResponses for IdRefused {
    fn responses() -> Answers {
        ResponsesBuilder::new()
            .response("400", error("`invalid_id`: the id is not a UUID"))
            .build()
            .into()
    }
}

/// The answers of a route that asks for the account's password again, beside its token.
pub(crate) struct PasswordChecked;

impl utoipa::IntoResponses for PasswordChecked {
    fn responses() -> Answers {
        let retry_after = utoipa::openapi::header::HeaderBuilder::new()
            .schema(Some(<u64 as utoipa::PartialSchema>::schema()))
            .description(Some("Seconds to wait"))
            .build();
        ResponsesBuilder::new()
            .response(
                "401",
                error(
                    "`invalid_credentials` (the password is wrong), or no usable device token: \
                     `missing_token`, `invalid_token`, `token_expired` or `token_revoked`",
                ),
            )
            .response(
                "429",
                error_builder("`too_many_attempts`: too many wrong passwords for this account")
                    .header("Retry-After", retry_after)
                    .build(),
            )
            .build()
            .into()
    }
}

/// The answers of a route that reads a JSON body, when the body is not one it reads. (Its
/// `400`s, `malformed_json`, `invalid_utf8` and `invalid_body`, are listed with the route's own.)
pub(crate) struct BodyRefused;

impl utoipa::IntoResponses for BodyRefused {
    fn responses() -> Answers {
        ResponsesBuilder::new()
            .response(
                "413",
                error("`payload_too_large`: the body is over the server's limit"),
            )
            .response(
                "415",
                error("`unsupported_media_type`: the body is not declared `application/json`"),
            )
            .build()
            .into()
    }
}

/// The answers a route that uses the database may give when the server itself is in trouble.
pub(crate) struct ServerTrouble;

impl utoipa::IntoResponses for ServerTrouble {
    fn responses() -> Answers {
        ResponsesBuilder::new()
            .response(
                "500",
                error("`internal`: the server failed; the details are in its log only"),
            )
            .response(
                "503",
                error(
                    "Try again later: `database_unavailable`, or `busy` with `Retry-After` where \
                     a password is hashed; a request that ran out of time gets no body",
                ),
            )
            .build()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == document_json(),
            "docs/openapi.json is not the document the code generates; write it again with \
             `cargo run -p oa-server -- openapi > docs/openapi.json`"
        );
    }

    #[test]
    fn a_route_that_reads_a_body_lists_the_refusals_of_bodies() {
        let document = serde_json::to_value(document()).unwrap();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let declares_body_errors = operation["responses"].get("415").is_some();
                let has_body = operation.get("requestBody").is_some();
                assert_eq!(
                    declares_body_errors, has_body,
                    "{method} {path}: a body and its errors go together"
                );
            }
        }
    }
}
