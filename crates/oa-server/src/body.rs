//! [`JsonBody`]: the request body of every `POST`/`PUT`, read under the size limit and parsed into
//! a typed value, with a typed error for each way it can be wrong.
//!
//! axum's own `Json` extractor answers with plain-text errors; ours answers with the server's
//! `{code, message}` body, so a client can tell an oversized body (`413 payload_too_large`) from
//! broken JSON (`400 malformed_json`), text that is not UTF-8 (`400 invalid_utf8`) and valid JSON
//! of the wrong shape (`400 invalid_body`).

use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use crate::{AppState, Error};

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config().limits.max_body_bytes;
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(Error::UnsupportedMediaType);
        }
        // A declared length over the limit is refused before a byte is read.
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(Error::PayloadTooLarge { limit });
        }
        let bytes = read_limited(request, limit).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// Reads the body, stopping as soon as it grows past `limit` (a chunked body declares no length).
async fn read_limited(request: Request, limit: usize) -> Result<Vec<u8>, Error> {
    let mut stream = request.into_body().into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| Error::bad_request("body_unreadable", "the body broke off"))?;
        if bytes.len() + chunk.len() > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Parses a JSON body, naming what is wrong with it.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        Error::bad_request(
            "invalid_utf8",
            format!(
                "the body is not UTF-8 (bad byte at offset {})",
                error.valid_up_to()
            ),
        )
    })?;
    serde_json::from_str(text).map_err(|error| {
        use serde_json::error::Category;
        let code = match error.classify() {
            Category::Data => "invalid_body",
            Category::Syntax | Category::Eof | Category::Io => "malformed_json",
        };
        // serde_json's message names the field and the line, never server internals.
        Error::bad_request(code, error.to_string())
    })
}

/// A UUID from the request path (`/v1/devices/{id}`), refused with `400 invalid_id` when it is not
/// one, instead of axum's plain-text rejection.
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub oa_types::Uuid);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IdPath {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<oa_types::Uuid>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| IdPath(id))
            .map_err(|_| Error::bad_request("invalid_id", "the id in the path is not a UUID"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        count: u32,
    }

    fn code(result: Result<Shape, Error>) -> &'static str {
        result.map(|_| "ok").unwrap_or_else(|error| error.code())
    }

    #[test]
    fn each_kind_of_bad_body_has_its_code() {
        assert_eq!(code(parse(br#"{"count": 3}"#)), "ok");
        assert_eq!(code(parse(br#"{"count": 3"#)), "malformed_json");
        assert_eq!(code(parse(b"{\"count\": \xff}")), "invalid_utf8");
        assert_eq!(code(parse(br#"{"count": "three"}"#)), "invalid_body");
        assert_eq!(code(parse(br#"{}"#)), "invalid_body");
    }
}
