//! Accounts, devices and bearer tokens.
//!
//! A person registers once and signs in on each device; every device gets its own random token,
//! shown once and stored only as its SHA-256, so a leaked table holds no usable token and one lost
//! laptop is revoked without touching the others. Passwords are hashed with argon2id on a
//! blocking thread, since a hash takes tens of milliseconds of CPU and must not stall the async
//! workers, and only in a slot of the bounded hash pool; sign-ups and sign-ins pass the
//! throttles of `throttle.rs` before any hash is computed. A person can change their password
//! (every other device is signed out) and delete their account. [`Caller`] is the extractor that
//! turns `Authorization: Bearer …` into an account.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use oa_types::{
    AccountRole, ChangePasswordRequest, DeleteAccountRequest, DeviceInfo, DeviceSession,
    LoginRequest, RegisterRequest, SetRoleRequest, Uuid,
};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::body::{IdPath, JsonBody};
use crate::config::PasswordCost;
use crate::error::ErrorBody;
use crate::openapi::{BodyRefused, IdRefused, PasswordChecked, ServerTrouble, TokenRefused};
use crate::throttle::{ClientIp, HashSlot};
use crate::{AppState, Error, Result, trust};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Longest display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// The signed-in account and device behind a request.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The account.
    pub account_id: Uuid,
    /// The device whose token was sent.
    pub device_id: Uuid,
    /// The account's role.
    pub role: AccountRole,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(Error::Unauthorized("missing_token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(Error::Unauthorized("missing_token"))?;
        let row: Option<(Uuid, Uuid, String, bool, bool)> = sqlx::query_as(
            "SELECT d.id, d.account_id, a.role, d.revoked_at IS NOT NULL, d.expires_at <= now() \
             FROM devices d JOIN accounts a ON a.id = d.account_id \
             WHERE d.token_sha256 = $1",
        )
        .bind(token_hash(token).as_slice())
        .fetch_optional(state.pool())
        .await?;
        let (device_id, account_id, role, revoked, expired) =
            row.ok_or(Error::Unauthorized("invalid_token"))?;
        if revoked {
            return Err(Error::Unauthorized("token_revoked"));
        }
        if expired {
            return Err(Error::Unauthorized("token_expired"));
        }
        Ok(Caller {
            account_id,
            device_id,
            role: parse_role(&role)?,
        })
    }
}

pub(crate) fn parse_role(role: &str) -> Result<AccountRole> {
    AccountRole::parse(role).ok_or_else(|| Error::Internal(format!("unknown role {role:?}")))
}

/// SHA-256 of a token: what the database keeps.
pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token: `oa_` and 256 random bits in hex.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut token = String::with_capacity(3 + 64);
    token.push_str("oa_");
    for byte in bytes {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}

fn argon2(cost: PasswordCost) -> Result<Argon2<'static>> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|error| Error::Internal(format!("argon2 parameters: {error}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password on a blocking thread, in a slot of the state's hash pool.
async fn hash_password(state: &AppState, password: String) -> Result<String> {
    let slot = state.hashes().slot().await?;
    hash_password_in(Some(slot), password, state.config().password).await
}

async fn hash_password_in(
    slot: Option<HashSlot>,
    password: String,
    cost: PasswordCost,
) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt)
            .map_err(|error| Error::Internal(format!("salt: {error}")))?;
        argon2(cost)?
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| Error::Internal(format!("hashing: {error}")))
    })
    .await
    .map_err(|error| Error::Internal(format!("hashing thread: {error}")))?
}

/// Checks a password against a stored hash on a blocking thread, in a slot of the hash pool.
/// The hash carries its own parameters, so accounts keep working when the configured cost
/// changes.
async fn verify_password(state: &AppState, password: String, hash: String) -> Result<bool> {
    let slot = state.hashes().slot().await?;
    verify_password_in(Some(slot), password, hash).await
}

async fn verify_password_in(
    slot: Option<HashSlot>,
    password: String,
    hash: String,
) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let parsed = PasswordHash::new(&hash)
            .map_err(|error| Error::Internal(format!("stored hash: {error}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|error| Error::Internal(format!("hashing thread: {error}")))?
}

fn check_name(what: &'static str, name: &str, max: usize) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::bad_request(
            "invalid_input",
            format!("{what} cannot be empty"),
        ));
    }
    if name.chars().count() > max {
        return Err(Error::bad_request(
            "invalid_input",
            format!("{what} can be at most {max} characters long"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::bad_request(
            "invalid_input",
            format!("{what} cannot hold control characters"),
        ));
    }
    if name.chars().any(is_invisible_or_bidi) {
        return Err(Error::bad_request(
            "invalid_input",
            format!(
                "{what} cannot hold invisible or direction-changing characters (they make one \
                 name look like another)"
            ),
        ));
    }
    Ok(name.to_owned())
}

/// Characters that change how the text around them is shown without being seen: bidi
/// embeddings, overrides and isolates, direction marks, zero-width characters, the word joiner
/// and invisible operators, the byte-order mark, and other format characters that spoof names.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

fn check_password(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(Error::bad_request(
            "weak_password",
            format!("a password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// `POST /v1/accounts`: creates an account and signs in its first device.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (
            status = 201,
            description = "Registered and signed in; the token is shown once, here",
            body = DeviceSession,
        ),
        (
            status = 400,
            description = "`invalid_input` (a name empty, too long, or with control, bidi or \
                invisible characters), `weak_password`, or not a `RegisterRequest` \
                (`malformed_json`, `invalid_utf8`, `invalid_body`)",
            body = ErrorBody,
        ),
        (status = 409, description = "`display_name_taken`, whatever its case", body = ErrorBody),
        (
            status = 429,
            description = "`too_many_attempts`: too many sign-ups from this address",
            body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait")),
        ),
        BodyRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<DeviceSession>)> {
    let display_name = check_name(
        "a display name",
        &request.display_name,
        MAX_DISPLAY_NAME_CHARS,
    )?;
    let device_name = check_name(
        "a device name",
        &request.device_name,
        MAX_DISPLAY_NAME_CHARS,
    )?;
    check_password(&request.password)?;
    // Counted once the request is well formed: a typo costs no sign-up.
    state.throttles().sign_ups.take(&client)?;
    let hash = hash_password(&state, request.password).await?;
    let account_id = Uuid::now_v7();
    let mut tx = state.pool().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, display_name, password_hash, trust) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(account_id)
    .bind(&display_name)
    .bind(&hash)
    .bind(trust::newcomer())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::Conflict {
            code: "display_name_taken",
            message: format!("the display name {display_name:?} is taken"),
        });
    }
    let session = new_device(
        &mut tx,
        &state,
        account_id,
        AccountRole::Contributor,
        &device_name,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(account = %account_id, "account registered");
    Ok((StatusCode::CREATED, Json(session)))
}

/// `POST /v1/sessions`: signs an account in on a new device.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "accounts",
    request_body = LoginRequest,
    responses(
        (
            status = 201,
            description = "Signed in; the token is shown once, here",
            body = DeviceSession,
        ),
        (
            status = 400,
            description = "`invalid_input` (the device name), or not a `LoginRequest` \
                (`malformed_json`, `invalid_utf8`, `invalid_body`)",
            body = ErrorBody,
        ),
        (
            status = 401,
            description = "`invalid_credentials`: the name or the password is wrong (which is not \
                said)",
            body = ErrorBody,
        ),
        (
            status = 429,
            description = "`too_many_attempts`: too many sign-ins from this address or failed ones \
                for this name",
            body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait")),
        ),
        BodyRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<(StatusCode, Json<DeviceSession>)> {
    let device_name = check_name(
        "a device name",
        &request.device_name,
        MAX_DISPLAY_NAME_CHARS,
    )?;
    let name_key = request.display_name.trim().to_lowercase();
    let throttles = state.throttles();
    throttles.sign_ins.take(&client)?;
    if let Err(refused) = throttles.failed_sign_ins.take(&name_key) {
        throttles.sign_ins.give_back(&client);
        return Err(refused);
    }
    let outcome = check_credentials(&state, &request).await;
    if outcome.is_ok() {
        // Only failures count against the address and the name.
        throttles.sign_ins.give_back(&client);
        throttles.failed_sign_ins.give_back(&name_key);
    }
    let (account_id, role) = outcome?;
    let mut tx = state.pool().begin().await?;
    let session = new_device(
        &mut tx,
        &state,
        account_id,
        parse_role(&role)?,
        &device_name,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// The account and role behind a name and password, or [`Error::InvalidCredentials`].
async fn check_credentials(state: &AppState, request: &LoginRequest) -> Result<(Uuid, String)> {
    let row: Option<(Uuid, Option<String>, String)> = sqlx::query_as(
        "SELECT id, password_hash, role FROM accounts \
         WHERE lower(display_name) = lower($1) AND deleted_at IS NULL",
    )
    .bind(request.display_name.trim())
    .fetch_optional(state.pool())
    .await?;
    let Some((account_id, Some(hash), role)) = row else {
        // Hash anyway, so that an unknown name takes as long as a wrong password.
        let _ = hash_password(state, request.password.clone()).await?;
        return Err(Error::InvalidCredentials);
    };
    if !verify_password(state, request.password.clone(), hash).await? {
        return Err(Error::InvalidCredentials);
    }
    Ok((account_id, role))
}

/// The caller's stored password hash, checked against `password`.
async fn check_own_password(state: &AppState, caller: &Caller, password: &str) -> Result<()> {
    let hash: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM accounts WHERE id = $1")
            .bind(caller.account_id)
            .fetch_optional(state.pool())
            .await?
            .flatten();
    let Some(hash) = hash else {
        return Err(Error::InvalidCredentials);
    };
    if !verify_password(state, password.to_owned(), hash).await? {
        return Err(Error::InvalidCredentials);
    }
    Ok(())
}

/// `PUT /v1/accounts/me/password`: changes the caller's password, given the current one. Every
/// other device is signed out (a stolen token dies with the old password); this one stays.
#[utoipa::path(
    put,
    path = "/v1/accounts/me/password",
    tag = "accounts",
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed; every other device of the account is signed out"),
        (
            status = 400,
            description = "`weak_password`, or not a `ChangePasswordRequest` (`malformed_json`, \
                `invalid_utf8`, `invalid_body`)",
            body = ErrorBody,
        ),
        PasswordChecked,
        BodyRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode> {
    check_password(&request.new_password)?;
    let name_key = caller.account_id.to_string();
    state.throttles().failed_sign_ins.take(&name_key)?;
    check_own_password(&state, &caller, &request.current_password).await?;
    state.throttles().failed_sign_ins.give_back(&name_key);
    let hash = hash_password(&state, request.new_password).await?;
    let mut tx = state.pool().begin().await?;
    sqlx::query("UPDATE accounts SET password_hash = $2 WHERE id = $1")
        .bind(caller.account_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE devices SET revoked_at = now() \
         WHERE account_id = $1 AND id <> $2 AND revoked_at IS NULL",
    )
    .bind(caller.account_id)
    .bind(caller.device_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(account = %caller.account_id, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/accounts/me`: deletes the caller's account, given its password. The name is
/// freed and leaves the leaderboard, the password and every device token stop working; what the
/// person contributed stays in the dataset under the account's pseudonymous id (withdraw it
/// first from the app to take it back).
#[utoipa::path(
    delete,
    path = "/v1/accounts/me",
    tag = "accounts",
    request_body = DeleteAccountRequest,
    security(("bearer" = [])),
    responses(
        (
            status = 204,
            description = "Deleted: the name is free, every token of the account revoked",
        ),
        (
            status = 400,
            description = "Not a `DeleteAccountRequest` (`malformed_json`, `invalid_utf8`, \
                `invalid_body`)",
            body = ErrorBody,
        ),
        PasswordChecked,
        BodyRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<DeleteAccountRequest>,
) -> Result<StatusCode> {
    let name_key = caller.account_id.to_string();
    state.throttles().failed_sign_ins.take(&name_key)?;
    check_own_password(&state, &caller, &request.password).await?;
    state.throttles().failed_sign_ins.give_back(&name_key);
    let mut tx = state.pool().begin().await?;
    sqlx::query(
        "UPDATE accounts SET deleted_at = now(), password_hash = NULL, \
                display_name = 'deleted-' || id::text \
         WHERE id = $1",
    )
    .bind(caller.account_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE devices SET revoked_at = now(), name = 'deleted' \
         WHERE account_id = $1 AND revoked_at IS NULL",
    )
    .bind(caller.account_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(account = %caller.account_id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn new_device(
    tx: &mut sqlx::PgConnection,
    state: &AppState,
    account_id: Uuid,
    role: AccountRole,
    name: &str,
) -> Result<DeviceSession> {
    let token = new_token();
    let device_id = Uuid::now_v7();
    let lifetime_s = state.config().token_lifetime.as_secs_f64();
    let expires_at_ms: i64 = sqlx::query_scalar(
        "INSERT INTO devices (id, account_id, token_sha256, name, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) \
         RETURNING (extract(epoch FROM expires_at) * 1000)::bigint",
    )
    .bind(device_id)
    .bind(account_id)
    .bind(token_hash(&token).as_slice())
    .bind(name)
    .bind(lifetime_s)
    .fetch_one(&mut *tx)
    .await?;
    Ok(DeviceSession {
        account_id,
        device_id,
        role,
        token,
        expires_at_ms,
    })
}

/// `GET /v1/devices`: the caller's devices.
#[utoipa::path(
    get,
    path = "/v1/devices",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (
            status = 200,
            description = "The caller's devices, oldest first, revoked ones included",
            body = Vec<DeviceInfo>,
        ),
        TokenRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn list_devices(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DeviceInfo>>> {
    let rows: Vec<(Uuid, String, i64, i64, bool)> = sqlx::query_as(
        "SELECT id, name, (extract(epoch FROM created_at) * 1000)::bigint, \
                (extract(epoch FROM expires_at) * 1000)::bigint, revoked_at IS NOT NULL \
         FROM devices WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(caller.account_id)
    .fetch_all(state.pool())
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(
                |(id, name, created_at_ms, expires_at_ms, revoked)| DeviceInfo {
                    id,
                    name,
                    created_at_ms,
                    expires_at_ms,
                    revoked,
                    current: id == caller.device_id,
                },
            )
            .collect(),
    ))
}

/// `DELETE /v1/devices/{id}`: revokes a device's token. One's own devices, or any as an admin.
#[utoipa::path(
    delete,
    path = "/v1/devices/{id}",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "The device")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked (or already so)"),
        IdRefused,
        (
            status = 404,
            description = "`not_found`: no such device, or another account's (unless the caller is \
                an admin)",
            body = ErrorBody,
        ),
        TokenRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn revoke_device(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(device_id): IdPath,
) -> Result<StatusCode> {
    let owner: Option<Uuid> = sqlx::query_scalar("SELECT account_id FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(state.pool())
        .await?;
    match owner {
        None => return Err(Error::NotFound),
        Some(owner) if owner != caller.account_id && caller.role != AccountRole::Admin => {
            // Someone else's device: as if it did not exist, so ids cannot be probed.
            return Err(Error::NotFound);
        }
        Some(_) => {}
    }
    sqlx::query("UPDATE devices SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(device_id)
        .execute(state.pool())
        .await?;
    tracing::info!(device = %device_id, by = %caller.account_id, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/accounts/{id}/role`: admins change roles.
#[utoipa::path(
    put,
    path = "/v1/accounts/{id}/role",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "The account")),
    request_body = SetRoleRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (
            status = 400,
            description = "`invalid_id`, or not a `SetRoleRequest` (`malformed_json`, \
                `invalid_utf8`, `invalid_body`)",
            body = ErrorBody,
        ),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = ErrorBody),
        (status = 404, description = "`not_found`: no such account", body = ErrorBody),
        TokenRefused,
        BodyRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(account_id): IdPath,
    JsonBody(request): JsonBody<SetRoleRequest>,
) -> Result<StatusCode> {
    if caller.role != AccountRole::Admin {
        return Err(Error::Forbidden);
    }
    set_account_role(state.pool(), account_id, request.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives an account a role; the command line uses it to appoint the first admin.
pub async fn set_account_role(
    pool: &sqlx::PgPool,
    account_id: Uuid,
    role: AccountRole,
) -> Result<()> {
    let updated = sqlx::query("UPDATE accounts SET role = $2 WHERE id = $1")
        .bind(account_id)
        .bind(role.as_str())
        .execute(pool)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(Error::NotFound);
    }
    tracing::info!(account = %account_id, role = role.as_str(), "role changed");
    Ok(())
}

/// The id of the account with this display name (any case).
pub async fn account_by_name(pool: &sqlx::PgPool, display_name: &str) -> Result<Uuid> {
    sqlx::query_scalar("SELECT id FROM accounts WHERE lower(display_name) = lower($1)")
        .bind(display_name.trim())
        .fetch_optional(pool)
        .await?
        .ok_or(Error::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed_to_32_bytes() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 67);
        assert!(a.starts_with("oa_"));
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[tokio::test]
    async fn passwords_verify_and_wrong_ones_do_not() {
        let hash = hash_password_in(None, "correct horse".into(), PasswordCost::insecure_fast())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password_in(None, "correct horse".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password_in(None, "wrong horse".into(), hash)
                .await
                .unwrap()
        );
    }

    #[test]
    fn names_that_spoof_others_are_refused() {
        for spoof in [
            "admin\u{202E}nimda",
            "Ali\u{200B}ce",
            "\u{2066}Bob\u{2069}",
            "Bob\u{FEFF}",
            "Carol\u{061C}",
        ] {
            let error = check_name("a display name", spoof, 100).unwrap_err();
            assert!(
                error.to_string().contains("invisible"),
                "{spoof:?}: {error}"
            );
        }
        for fine in ["Zoë", "محمد", "李小龙", "Ana-María O'Neil", "👩‍💻 dev"] {
            // The zero-width joiner inside an emoji sequence is refused too: a name is text.
            if fine.contains('\u{200D}') {
                continue;
            }
            assert_eq!(check_name("a display name", fine, 100).unwrap(), fine);
        }
    }
}
