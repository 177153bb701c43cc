//! `GET /openapi.json`: an OpenAPI 3.1 description of the HTTP API.
//!
//! Written out here rather than derived, because the wire types live in `oa-types`, which must
//! stay free of server dependencies (it compiles to wasm for the UI). A test checks that every
//! route of the router is described, so the two cannot drift apart silently.

use axum::Json;
use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn json_body(schema: &str) -> Value {
    json!({
        "required": true,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn ok(description: &str, schema: Option<&str>) -> Value {
    match schema {
        Some(schema) => json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
        }),
        None => json!({ "description": description }),
    }
}

fn id_param() -> Value {
    json!([{ "name": "id", "in": "path", "required": true,
             "schema": { "type": "string", "format": "uuid" } }])
}

/// The whole document.
pub fn document() -> Value {
    let auth = json!([{ "bearer": [] }]);
    let bad = error_response("malformed_json, invalid_utf8, invalid_body, invalid_input, …");
    let unauthorized =
        error_response("missing_token, invalid_token, token_expired or token_revoked");
    let too_many = error_response("too_many_attempts (see Retry-After)");
    let busy = error_response("busy: every password-hashing slot is taken (see Retry-After)");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Open Assistant Desktop dataset server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Ingest of contribution events, offline task leases, consensus, trust, leaderboard."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["code", "message"],
                    "properties": { "code": { "type": "string" }, "message": { "type": "string" } } },
                "HealthReport": { "type": "object", "required": ["status", "database"],
                    "properties": { "status": { "enum": ["ok", "unavailable"] },
                        "database": { "type": "string" }, "schema_version": { "type": "integer" } } },
                "ChangePasswordRequest": { "type": "object", "required": ["current_password", "new_password"],
                    "properties": { "current_password": { "type": "string" },
                        "new_password": { "type": "string", "minLength": 10, "maxLength": 1024 } } },
                "DeleteAccountRequest": { "type": "object", "required": ["password"],
                    "properties": { "password": { "type": "string" } } },
                "RegisterRequest": { "type": "object", "required": ["display_name", "password", "device_name"],
                    "properties": { "display_name": { "type": "string", "maxLength": 100 },
                        "password": { "type": "string", "minLength": 10 }, "device_name": { "type": "string" } } },
                "LoginRequest": { "$ref": "#/components/schemas/RegisterRequest" },
                "DeviceSession": { "type": "object",
                    "properties": { "account_id": { "type": "string", "format": "uuid" },
                        "device_id": { "type": "string", "format": "uuid" },
                        "role": { "enum": ["contributor", "moderator", "admin"] },
                        "token": { "type": "string" }, "expires_at_ms": { "type": "integer" } } },
                "DeviceInfo": { "type": "object",
                    "properties": { "id": { "type": "string", "format": "uuid" }, "name": { "type": "string" },
                        "created_at_ms": { "type": "integer" }, "expires_at_ms": { "type": "integer" },
                        "revoked": { "type": "boolean" }, "current": { "type": "boolean" } } },
                "SetRoleRequest": { "type": "object", "required": ["role"],
                    "properties": { "role": { "enum": ["contributor", "moderator", "admin"] } } },
                "SubmittedEvent": { "type": "object",
                    "required": ["id", "kind", "subject_id", "conversation_id", "created_at_ms", "payload"],
                    "properties": { "id": { "type": "string", "format": "uuid" },
                        "kind": { "enum": ["message", "rating", "labels", "ranking", "reaction", "retraction"] },
                        "subject_id": { "type": "string", "format": "uuid" },
                        "conversation_id": { "type": "string", "format": "uuid" },
                        "created_at_ms": { "type": "integer" },
                        "payload": { "type": "string", "description": "the outbox's JSON text" },
                        "task_id": { "type": "string", "format": "uuid" } } },
                "IngestRequest": { "type": "object", "required": ["version", "events"],
                    "properties": { "version": { "const": 1 },
                        "events": { "type": "array", "maxItems": 1000,
                            "items": { "$ref": "#/components/schemas/SubmittedEvent" } } } },
                "IngestResponse": { "type": "object",
                    "properties": { "results": { "type": "array", "items": { "type": "object",
                        "properties": { "id": { "type": "string", "format": "uuid" },
                            "status": { "enum": ["accepted", "duplicate", "rejected"] },
                            "reason": { "type": "string" }, "message": { "type": "string" } } } } } },
                "LeaseRequest": { "type": "object", "required": ["count"],
                    "properties": { "count": { "type": "integer", "minimum": 1, "maximum": 100 },
                        "kinds": { "type": "array", "items": { "enum": ["initial_prompt", "prompter_reply",
                            "assistant_reply", "rank_replies", "label_message"] } } } },
                "TaskList": { "type": "object", "properties": { "tasks": { "type": "array", "items": { "type": "object" } } } },
                "TreeView": { "type": "object" },
                "Leaderboard": { "type": "object" },
                "ContributorStats": { "type": "object" }
            }
        },
        "paths": {
            "/healthz": { "get": { "summary": "Whether the server and its database can serve",
                "responses": { "200": ok("healthy", Some("HealthReport")), "503": ok("unavailable", Some("HealthReport")) } } },
            "/metrics": { "get": { "summary": "Prometheus metrics (text format)",
                "responses": { "200": ok("metrics", None) } } },
            "/openapi.json": { "get": { "summary": "This document",
                "responses": { "200": ok("OpenAPI 3.1", None) } } },
            "/v1/accounts": { "post": { "summary": "Register and sign in the first device",
                "requestBody": json_body("RegisterRequest"),
                "responses": { "201": ok("signed in", Some("DeviceSession")), "400": bad,
                    "409": error_response("display_name_taken"), "413": error_response("payload_too_large"),
                    "429": too_many.clone(), "503": busy.clone() } } },
            "/v1/accounts/me": { "delete": { "summary": "Delete the caller's account (its name is freed, every token revoked)",
                "security": auth, "requestBody": json_body("DeleteAccountRequest"),
                "responses": { "204": ok("deleted", None), "401": error_response("invalid_credentials or a token error"),
                    "429": too_many.clone(), "503": busy.clone() } } },
            "/v1/accounts/me/password": { "put": { "summary": "Change the caller's password; every other device is signed out",
                "security": auth, "requestBody": json_body("ChangePasswordRequest"),
                "responses": { "204": ok("changed", None), "400": error_response("weak_password"),
                    "401": error_response("invalid_credentials or a token error"),
                    "429": too_many.clone(), "503": busy.clone() } } },
            "/v1/accounts/{id}/role": { "put": { "summary": "Change an account's role (admins)",
                "security": auth, "parameters": id_param(), "requestBody": json_body("SetRoleRequest"),
                "responses": { "204": ok("changed", None), "401": unauthorized, "403": error_response("forbidden"),
                    "404": error_response("not_found") } } },
            "/v1/sessions": { "post": { "summary": "Sign in a new device",
                "requestBody": json_body("LoginRequest"),
                "responses": { "201": ok("signed in", Some("DeviceSession")),
                    "401": error_response("invalid_credentials"), "429": too_many, "503": busy } } },
            "/v1/devices": { "get": { "summary": "The caller's devices", "security": auth,
                "responses": { "200": ok("devices", Some("DeviceInfo")), "401": unauthorized } } },
            "/v1/devices/{id}": { "delete": { "summary": "Revoke a device's token", "security": auth,
                "parameters": id_param(),
                "responses": { "204": ok("revoked", None), "401": unauthorized, "404": error_response("not_found") } } },
            "/v1/events": { "post": { "summary": "Ingest a batch of contribution events", "security": auth,
                "requestBody": json_body("IngestRequest"),
                "responses": { "200": ok("one result per event", Some("IngestResponse")), "400": bad,
                    "401": unauthorized, "413": error_response("payload_too_large"),
                    "415": error_response("unsupported_media_type"), "429": error_response("rate_limited") } } },
            "/v1/trees/{id}": { "get": { "summary": "A tree's state and its messages' standing", "security": auth,
                "parameters": id_param(),
                "responses": { "200": ok("the tree", Some("TreeView")), "404": error_response("not_found") } } },
            "/v1/trees/{id}/halt": { "post": { "summary": "Halt a tree (moderators)", "security": auth,
                "parameters": id_param(),
                "responses": { "204": ok("halted", None), "403": error_response("forbidden") } } },
            "/v1/tasks": { "get": { "summary": "The caller's open leases", "security": auth,
                "responses": { "200": ok("tasks", Some("TaskList")), "401": unauthorized } } },
            "/v1/tasks/lease": { "post": { "summary": "Lease tasks for offline work", "security": auth,
                "requestBody": json_body("LeaseRequest"),
                "responses": { "200": ok("tasks", Some("TaskList")), "400": bad, "401": unauthorized,
                    "409": error_response("too_many_open_tasks: finish or skip some first") } } },
            "/v1/tasks/{id}/skip": { "post": { "summary": "Give a task back", "security": auth,
                "parameters": id_param(),
                "responses": { "204": ok("skipped", None), "403": error_response("forbidden"),
                    "409": error_response("task_closed") } } },
            "/v1/leaderboard": { "get": { "summary": "Best contributors in a window", "security": auth,
                "parameters": [{ "name": "window", "in": "query",
                    "schema": { "enum": ["day", "week", "month", "all"] } }],
                "responses": { "200": ok("leaderboard", Some("Leaderboard")), "400": bad } } },
            "/v1/me/stats": { "get": { "summary": "The caller's trust, agreement and scores", "security": auth,
                "responses": { "200": ok("stats", Some("ContributorStats")), "401": unauthorized } } }
        }
    })
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = document();
        for (method, path) in crate::ROUTES {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is missing from /openapi.json"
            );
        }
    }
}
