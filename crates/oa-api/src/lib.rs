//! The local OpenAI-compatible API: programs on this computer (or, when the person allows it,
//! on the network) use the app's model as they would OpenAI's.
//!
//! It is a third caller of the app's use cases, beside the desktop shell and the CLI: models
//! come from [`oa_app::App::api`], and answers run on the app's one engine thread, queued with
//! its own chats. Routes: `GET /v1/models`, `POST /v1/chat/completions` (streaming, tools,
//! `response_format`, logprobs), `POST /v1/completions`; `/v1/embeddings` answers 404 until an
//! embedding model exists. A guard (`guard.rs`) refuses foreign Hosts and Origins and checks
//! the key; every body and every wait is bounded (`server.rs`).

mod chat;
mod completions;
mod error;
mod generate;
mod guard;
mod history;
mod server;
pub mod wire;

pub use error::ApiError;
pub use server::{ApiServer, MAX_BODY_BYTES, MAX_WAITING, ServeOptions, router, serve};
