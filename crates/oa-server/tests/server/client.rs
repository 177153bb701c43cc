//! A small HTTP client for the tests: signs up contributors and speaks the wire types.

use std::time::Duration;

use anyhow::{Context as _, Result};
use oa_server::testing::TestServer;
use oa_types::{
    ContributionKind, DeviceSession, EventResult, INGEST_VERSION, IngestRequest, IngestResponse,
    Message, Role, SubmittedEvent, Uuid,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One signed-in device of one contributor.
#[derive(Debug, Clone)]
pub struct Contributor {
    pub base: String,
    pub http: reqwest::Client,
    pub session: DeviceSession,
    pub name: String,
}

pub fn http() -> reqwest::Client {
    oa_server::testing::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a plain HTTP client builds")
}

pub const PASSWORD: &str = "correct horse battery";

/// The test configuration with the given tree policy (and cheap password hashing).
pub fn config_with(tree: oa_server::TreePolicy) -> oa_server::Config {
    oa_server::Config {
        tree,
        ..oa_server::testing::test_config()
    }
}

/// Registers `name` and returns its first device.
pub async fn register(server: &TestServer, name: &str) -> Result<Contributor> {
    let http = http();
    let response = http
        .post(format!("{}/v1/accounts", server.base_url()))
        .json(&json!({ "display_name": name, "password": PASSWORD, "device_name": "laptop" }))
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == StatusCode::CREATED,
        "register {name}: {} {}",
        response.status(),
        response.text().await.unwrap_or_default()
    );
    let session: DeviceSession = response.json().await?;
    Ok(Contributor {
        base: server.base_url(),
        http,
        session,
        name: name.to_owned(),
    })
}

impl Contributor {
    pub fn account(&self) -> Uuid {
        self.session.account_id
    }

    /// A request with this device's token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.session.token)
    }

    /// Sends a request and returns the status and the JSON body (`null` when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .with_context(|| format!("not JSON: {}", String::from_utf8_lossy(&bytes)))?
        };
        Ok((status, json))
    }

    /// Ingests events and returns the per-event results, failing on anything but `200`.
    pub async fn ingest(&self, events: &[SubmittedEvent]) -> Result<Vec<EventResult>> {
        let request = IngestRequest {
            version: INGEST_VERSION,
            events: events.to_vec(),
        };
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1/events",
                Some(serde_json::to_value(&request)?),
            )
            .await?;
        anyhow::ensure!(status == StatusCode::OK, "ingest: {status} {body}");
        let response: IngestResponse = serde_json::from_value(body)?;
        anyhow::ensure!(response.results.len() == events.len());
        Ok(response.results)
    }

    /// Ingests and expects every event accepted.
    pub async fn ingest_ok(&self, events: &[SubmittedEvent]) -> Result<()> {
        for result in self.ingest(events).await? {
            anyhow::ensure!(
                result.status == oa_types::EventStatus::Accepted,
                "{} by {}: {result:?}",
                result.id,
                self.name
            );
        }
        Ok(())
    }
}

pub fn event(
    kind: ContributionKind,
    subject: Uuid,
    conversation: Uuid,
    payload: Value,
) -> SubmittedEvent {
    SubmittedEvent {
        id: Uuid::now_v7(),
        kind,
        subject_id: subject,
        conversation_id: conversation,
        created_at_ms: 1_764_000_000_000,
        payload: payload.to_string(),
        task_id: None,
    }
}

pub fn message(conversation: Uuid, parent: Option<Uuid>, role: Role, text: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        conversation_id: conversation,
        parent_id: parent,
        role,
        text: text.to_owned(),
        created_at_ms: 1_764_000_000_000,
        provenance: None,
        corrects: None,
    }
}

/// The first prompt of a new conversation.
pub fn new_prompt(text: &str) -> Message {
    message(Uuid::now_v7(), None, Role::Prompter, text)
}

pub fn synthetic(conversation: Uuid, parent: Uuid, text: &str) -> Message {
    Message {
        provenance: Some(oa_server::testing::model_provenance()),
        ..message(conversation, Some(parent), Role::Assistant, text)
    }
}

pub fn message_event(message: &Message) -> SubmittedEvent {
    event(
        ContributionKind::Message,
        message.id,
        message.conversation_id,
        serde_json::to_value(message).expect("a message serialises"),
    )
}

/// A reply written in the model's place, beside the reply `corrects` names (if any).
pub fn correction_event(
    conversation: Uuid,
    parent: Uuid,
    corrects: Option<Uuid>,
    text: &str,
) -> SubmittedEvent {
    let written = Message {
        corrects,
        ..message(conversation, Some(parent), Role::Assistant, text)
    };
    event(
        ContributionKind::Correction,
        written.id,
        conversation,
        serde_json::to_value(&written).expect("a message serialises"),
    )
}

pub fn labels_event(message: &Message, labels: Value) -> SubmittedEvent {
    event(
        ContributionKind::Labels,
        message.id,
        message.conversation_id,
        json!({ "message_id": message.id, "labels": labels }),
    )
}

/// A thumbs vote (`+1` or `-1`) with reasons.
pub fn rating_event(message: &Message, vote: &str, reasons: &[&str]) -> SubmittedEvent {
    event(
        ContributionKind::Rating,
        message.id,
        message.conversation_id,
        json!({ "message_id": message.id, "thumbs": { "vote": vote, "reasons": reasons } }),
    )
}

/// An emoji reaction turned on.
pub fn reaction_event(message: &Message, emoji: &str) -> SubmittedEvent {
    event(
        ContributionKind::Reaction,
        message.id,
        message.conversation_id,
        json!({ "message_id": message.id, "emoji": emoji, "op": "add" }),
    )
}

pub fn ranking_event(parent: &Message, order: &[Uuid]) -> SubmittedEvent {
    event(
        ContributionKind::Ranking,
        parent.id,
        parent.conversation_id,
        json!({ "message_id": parent.id, "ranking": { "type": "ranked", "ranking": order } }),
    )
}

pub fn retraction_event(of: &SubmittedEvent) -> SubmittedEvent {
    event(
        ContributionKind::Retraction,
        of.subject_id,
        of.conversation_id,
        json!({ "retracts": of.id, "kind": of.kind.as_str() }),
    )
}
