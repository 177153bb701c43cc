//! Registration, sign-in, devices and tokens, roles.

use anyhow::Result;
use oa_server::testing::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{PASSWORD, http, register};

async fn post(server: &TestServer, path: &str, body: Value) -> Result<(StatusCode, Value)> {
    let response = http()
        .post(format!("{}{path}", server.base_url()))
        .json(&body)
        .send()
        .await?;
    Ok((response.status(), response.json().await?))
}

#[tokio::test]
async fn register_then_sign_in_on_a_second_device() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    assert!(alice.session.token.starts_with("oa_"));
    assert_eq!(alice.session.role, oa_types::AccountRole::Contributor);

    // Login is by display name in any case; each sign-in is a new device with its own token.
    let (status, body) = post(
        &server,
        "/v1/sessions",
        json!({ "display_name": "ALICE", "password": PASSWORD, "device_name": "phone" }),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["account_id"], json!(alice.account()));
    assert_ne!(body["token"], json!(alice.session.token));

    let (status, devices) = alice.call(Method::GET, "/v1/devices", None).await?;
    assert_eq!(status, StatusCode::OK);
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["current"], true);
    assert_eq!(devices[1]["name"], "phone");

    // Only the hash of a token is stored.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_sha256 FROM devices")
        .fetch_all(server.pool())
        .await?;
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 32 && !String::from_utf8_lossy(h).contains("oa_"))
    );
    Ok(())
}

#[tokio::test]
async fn bad_registrations_and_sign_ins_have_typed_errors() -> Result<()> {
    let server = TestServer::start().await?;
    register(&server, "Bob").await?;
    let cases = [
        (
            json!({ "display_name": "bob", "password": PASSWORD, "device_name": "x" }),
            StatusCode::CONFLICT,
            "display_name_taken",
        ),
        (
            json!({ "display_name": "Carol", "password": "short", "device_name": "x" }),
            StatusCode::BAD_REQUEST,
            "weak_password",
        ),
        (
            json!({ "display_name": "  ", "password": PASSWORD, "device_name": "x" }),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            json!({ "display_name": 42, "password": PASSWORD, "device_name": "x" }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            json!({ "password": PASSWORD }),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post(&server, "/v1/accounts", body.clone()).await?;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    for (name, password) in [("Bob", "wrong password!"), ("Nobody", PASSWORD)] {
        let (status, body) = post(
            &server,
            "/v1/sessions",
            json!({ "display_name": name, "password": password, "device_name": "x" }),
        )
        .await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "invalid_credentials");
    }
    // Malformed JSON and a body that is not declared as JSON.
    let response = http()
        .post(format!("{}/v1/accounts", server.base_url()))
        .header("content-type", "application/json")
        .body("{\"display_name\": ")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await?["code"], "malformed_json");
    let response = http()
        .post(format!("{}/v1/accounts", server.base_url()))
        .body("display_name=bob")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        response.json::<Value>().await?["code"],
        "unsupported_media_type"
    );
    Ok(())
}

#[tokio::test]
async fn missing_unknown_revoked_and_expired_tokens_are_refused() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let url = format!("{}/v1/devices", server.base_url());

    let response = http().get(&url).send().await?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.json::<Value>().await?["code"], "missing_token");
    let response = http().get(&url).bearer_auth("oa_forged").send().await?;
    assert_eq!(response.json::<Value>().await?["code"], "invalid_token");

    // A stolen laptop: Alice signs in elsewhere and revokes it; the thief's token stops working.
    let (_, phone) = post(
        &server,
        "/v1/sessions",
        json!({ "display_name": "Alice", "password": PASSWORD, "device_name": "phone" }),
    )
    .await?;
    let phone_token = phone["token"].as_str().unwrap().to_owned();
    let path = format!("/v1/devices/{}", alice.session.device_id);
    let response = http()
        .delete(format!("{}{path}", server.base_url()))
        .bearer_auth(&phone_token)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = alice.call(Method::GET, "/v1/devices", None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_revoked");

    // Another account cannot revoke Alice's phone, and learns nothing about it.
    let bob = register(&server, "Bob").await?;
    let (status, body) = bob
        .call(
            Method::DELETE,
            &format!("/v1/devices/{}", phone["device_id"].as_str().unwrap()),
            None,
        )
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = bob
        .call(Method::DELETE, "/v1/devices/not-a-uuid", None)
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_id"))
    );

    // An expired token.
    sqlx::query("UPDATE devices SET expires_at = now() - interval '1 day' WHERE account_id = $1")
        .bind(bob.account())
        .execute(server.pool())
        .await?;
    let (status, body) = bob.call(Method::GET, "/v1/devices", None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_expired");
    Ok(())
}

#[tokio::test]
async fn only_admins_change_roles() -> Result<()> {
    let server = TestServer::start().await?;
    let admin = register(&server, "Admin").await?;
    let carol = register(&server, "Carol").await?;
    let path = format!("/v1/accounts/{}/role", carol.account());

    let (status, body) = carol
        .call(Method::PUT, &path, Some(json!({ "role": "admin" })))
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    oa_server::set_account_role(server.pool(), admin.account(), oa_types::AccountRole::Admin)
        .await?;
    let (status, _) = admin
        .call(Method::PUT, &path, Some(json!({ "role": "moderator" })))
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = admin
        .call(Method::PUT, &path, Some(json!({ "role": "king" })))
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    let (_, stats) = carol.call(Method::GET, "/v1/me/stats", None).await?;
    assert_eq!(stats["role"], "moderator");
    Ok(())
}

#[tokio::test]
async fn the_first_admin_is_appointed_from_the_command_line() -> Result<()> {
    let server = TestServer::start().await?;
    let carol = register(&server, "Carol").await?;
    let url = server.database().expect("start() creates one").url();
    let set_role = |name: &str, role: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_oa-server"))
            .args(["set-role", "--database-url", &url, "--display-name", name])
            .args(["--role", role])
            .output()
    };
    let output = set_role("carol", "admin")?;
    assert!(output.status.success(), "{output:?}");
    let (_, stats) = carol.call(Method::GET, "/v1/me/stats", None).await?;
    assert_eq!(stats["role"], "admin");
    let unknown = set_role("nobody", "admin")?;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account is called"));
    let bad_role = set_role("carol", "emperor")?;
    assert!(!bad_role.status.success());
    Ok(())
}
