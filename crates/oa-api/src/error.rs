//! Errors as OpenAI sends them — `{"error":{"message","type","param","code"}}` with the status
//! that goes with them — so that clients raise their usual exceptions.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in words the caller can act on.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`…).
    pub kind: &'static str,
    /// The request field at fault.
    pub param: Option<String>,
    /// A stable code (`model_not_found`, `invalid_api_key`…).
    pub code: Option<&'static str>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    /// A request that is wrong: 400, naming the field.
    pub fn invalid(param: impl Into<Option<String>>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.into(),
            code: None,
        }
    }

    /// The same with a stable code.
    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    /// Another status.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// A missing or wrong key: 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
            kind: "authentication_error",
            param: None,
            code: Some("invalid_api_key"),
        }
    }

    /// A request the server will not serve (a foreign Host or Origin): 403.
    pub fn forbidden(message: impl Into<String>, code: &'static str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
            kind: "permission_error",
            param: None,
            code: Some(code),
        }
    }

    /// A failure of the server or the model: 500 (or `status`).
    pub fn server(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind: "server_error",
            param: None,
            code: None,
        }
    }

    /// The body, as JSON text (also sent as an event when a stream fails midway).
    pub fn body(&self) -> String {
        serde_json::to_string(&Body {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        })
        .unwrap_or_else(|_| r#"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response()
    }
}

impl From<oa_app::Error> for ApiError {
    fn from(e: oa_app::Error) -> ApiError {
        match e {
            oa_app::Error::ApiModel(refusal) => {
                let (status, code) = match refusal {
                    oa_app::ModelRefusal::Unknown { .. } => {
                        (StatusCode::NOT_FOUND, "model_not_found")
                    }
                    oa_app::ModelRefusal::TooLarge { .. } => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "model_too_large")
                    }
                    oa_app::ModelRefusal::Unusable { .. } => {
                        (StatusCode::SERVICE_UNAVAILABLE, "model_unusable")
                    }
                };
                ApiError::invalid(Some("model".to_owned()), refusal.to_string())
                    .with_status(status)
                    .with_code(code)
            }
            oa_app::Error::ModelLoading => {
                ApiError::server(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            oa_app::Error::Engine(e) => engine(e),
            other => {
                let app: oa_types::AppError = other.into();
                ApiError::server(StatusCode::INTERNAL_SERVER_ERROR, app.message)
            }
        }
    }
}

/// An engine failure: the caller's fault (400) or the server's (500).
pub fn engine(e: oa_engine::EngineError) -> ApiError {
    use oa_engine::EngineError as E;
    match e {
        E::InvalidRequest(m) => ApiError::invalid(None, m),
        e @ E::ContextOverflow { .. } => {
            ApiError::invalid(Some("messages".to_owned()), e.to_string())
                .with_code("context_length_exceeded")
        }
        e => ApiError::server(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
