//! `/openapi.json` against the server that serves it: every operation it describes is served and
//! every method it does not describe is refused, and real requests to every route, and the
//! answers they get, fit the document's schemas of that route and status. The schemas are
//! checked closed (no property the document does not name), so a body that gained, lost or
//! renamed a field without the document following fails here.

use std::collections::BTreeSet;
use std::sync::Mutex;

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use oa_server::testing::TestServer;
use oa_types::{
    AccountRole, ContributionKind, DeviceSession, INGEST_VERSION, IngestRequest, SubmittedEvent,
    Uuid,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{
    PASSWORD, correction_event, event, http, labels_event, message_event, new_prompt,
    ranking_event, rating_event, reaction_event, retraction_event, synthetic,
};

/// A client that checks each exchange against the document as it goes.
struct Api {
    base: String,
    http: reqwest::Client,
    /// The document as served, with every object schema closed.
    document: Value,
    /// Every operation (method, path template) that answered with success.
    succeeded: Mutex<BTreeSet<(String, String)>>,
}

/// One request: the route's path template as the document names it, and the path sent.
struct Call<'a> {
    method: Method,
    route: &'a str,
    path: String,
    token: Option<&'a str>,
    body: Option<Value>,
}

impl<'a> Call<'a> {
    fn new(method: Method, route: &'a str) -> Self {
        Call {
            method,
            route,
            path: route.to_owned(),
            token: None,
            body: None,
        }
    }

    fn get(route: &'a str) -> Self {
        Call::new(Method::GET, route)
    }

    fn post(route: &'a str, body: Value) -> Self {
        Call::new(Method::POST, route).body(body)
    }

    /// The path with `{id}` filled in (or a query string added).
    fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    fn token(mut self, session: &'a DeviceSession) -> Self {
        self.token = Some(&session.token);
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

impl Api {
    /// Reads the document from the server and checks that it is the one the library generates.
    async fn new(server: &TestServer) -> Result<Api> {
        let base = server.base_url();
        let http = http();
        let response = http.get(format!("{base}/openapi.json")).send().await?;
        ensure!(response.status() == StatusCode::OK, "{}", response.status());
        ensure!(
            response.headers()["content-type"] == "application/json",
            "{:?}",
            response.headers()
        );
        let mut document: Value = response.json().await?;
        ensure!(document == serde_json::to_value(oa_server::openapi_document())?);
        ensure!(document["openapi"] == "3.1.0", "{}", document["openapi"]);
        close_objects(&mut document["components"]["schemas"]);
        Ok(Api {
            base,
            http,
            document,
            succeeded: Mutex::default(),
        })
    }

    /// The document's operation for a method and path template.
    fn operation(&self, method: &Method, route: &str) -> Result<&Value> {
        let operation = &self.document["paths"][route][method.as_str().to_lowercase()];
        ensure!(
            operation.is_object(),
            "{method} {route} is not in the document"
        );
        Ok(operation)
    }

    /// Checks `instance` against `schema`, whose references point into the document.
    fn check(&self, schema: &Value, instance: &Value, what: &str) -> Result<()> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.document["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .map_err(|error| anyhow!("{what}: the schema does not compile: {error}"))?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        ensure!(
            errors.is_empty(),
            "{what} does not fit the document:\n{}\n{instance:#}",
            errors.join("\n")
        );
        Ok(())
    }

    /// Sends the request and checks it, and the answer, against the document; returns the
    /// status and the JSON answer (`null` when empty).
    async fn call(&self, call: Call<'_>) -> Result<(StatusCode, Value)> {
        let operation = self.operation(&call.method, call.route)?;
        let what = format!("{} {}", call.method, call.path);
        let mut request = self
            .http
            .request(call.method.clone(), format!("{}{}", self.base, call.path));
        if let Some(token) = call.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| what.clone())?;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        let bytes = response.bytes().await?;

        let documented = &operation["responses"][status.as_str()];
        ensure!(
            documented.is_object(),
            "{what} answered {status}, which the document does not list: {}",
            String::from_utf8_lossy(&bytes)
        );
        let answer = match content_type {
            None => {
                ensure!(
                    bytes.is_empty() && documented.get("content").is_none(),
                    "{what} {status}: a body without a type, or no body where one is documented"
                );
                Value::Null
            }
            Some(content_type) => {
                let essence = content_type.split(';').next().unwrap_or_default().trim();
                let media = &documented["content"][essence];
                ensure!(
                    media.is_object(),
                    "{what} {status} answered {content_type}, the document says {}",
                    documented["content"]
                );
                if essence == "application/json" {
                    let answer: Value = serde_json::from_slice(&bytes)
                        .with_context(|| format!("{what} {status}: not JSON"))?;
                    self.check(
                        &media["schema"],
                        &answer,
                        &format!("the answer {status} to {what}"),
                    )?;
                    answer
                } else {
                    Value::String(String::from_utf8(bytes.to_vec())?)
                }
            }
        };

        if status.is_success() {
            // Only a request the server took is held to the request schema: the tests of
            // refused bodies send broken ones on purpose.
            match (&call.body, operation.get("requestBody")) {
                (Some(body), Some(documented)) => {
                    let schema = &documented["content"]["application/json"]["schema"];
                    self.check(schema, body, &format!("the request {what}"))?;
                    if let Some(events) = body.get("events").and_then(Value::as_array) {
                        self.check_payloads(events)?;
                    }
                }
                (None, None) => {}
                (Some(_), None) => bail!("{what} took a body the document does not describe"),
                (None, Some(_)) => bail!("{what} took no body, the document requires one"),
            }
            let security = operation.get("security").is_some();
            ensure!(
                security == call.token.is_some(),
                "{what}: the document's security ({security}) is not what the server asked for"
            );
            self.succeeded
                .lock()
                .expect("no test thread panicked holding it")
                .insert((call.method.as_str().to_lowercase(), call.route.to_owned()));
        }
        Ok((status, answer))
    }

    /// Sends the request and expects `status`.
    async fn expect(&self, status: StatusCode, call: Call<'_>) -> Result<Value> {
        let what = format!("{} {}", call.method, call.path);
        let (got, answer) = self.call(call).await?;
        ensure!(got == status, "{what}: {got} {answer}, expected {status}");
        Ok(answer)
    }

    /// Each event's payload is JSON text of the shape `EventPayload` describes.
    fn check_payloads(&self, events: &[Value]) -> Result<()> {
        let schema = json!({ "$ref": "#/components/schemas/EventPayload" });
        for event in events {
            let text = event["payload"].as_str().context("a payload is text")?;
            let payload: Value = serde_json::from_str(text)?;
            self.check(&schema, &payload, &format!("the {} payload", event["kind"]))?;
        }
        Ok(())
    }

    /// Registers `name` and returns its first device.
    async fn register(&self, name: &str) -> Result<DeviceSession> {
        let answer = self
            .expect(
                StatusCode::CREATED,
                Call::post(
                    "/v1/accounts",
                    json!({ "display_name": name, "password": PASSWORD, "device_name": "laptop" }),
                ),
            )
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    /// Ingests events and returns the per-event results.
    async fn ingest(&self, session: &DeviceSession, events: &[SubmittedEvent]) -> Result<Value> {
        let request = IngestRequest {
            version: INGEST_VERSION,
            events: events.to_vec(),
        };
        let answer = self
            .expect(
                StatusCode::OK,
                Call::post("/v1/events", serde_json::to_value(&request)?).token(session),
            )
            .await?;
        Ok(answer["results"].clone())
    }
}

/// Makes every object schema that names its properties refuse any other: a body with a field
/// the document does not have then fails, as one without a required field does.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Every route, each answering with success and with the errors a client meets most, through
/// the document's eyes.
#[tokio::test]
async fn every_route_serves_what_the_openapi_document_says() -> Result<()> {
    let server = TestServer::start().await?;
    let api = Api::new(&server).await?;
    let unknown = Uuid::now_v7();

    // Service.
    api.expect(StatusCode::OK, Call::get("/healthz")).await?;
    api.expect(StatusCode::OK, Call::get("/metrics")).await?;
    api.expect(StatusCode::OK, Call::get("/openapi.json"))
        .await?;

    // Accounts and devices.
    let alice = api.register("Alice").await?;
    let bob = api.register("Bob").await?;
    let admin = api.register("Admin").await?;
    oa_server::set_account_role(server.pool(), admin.account_id, AccountRole::Admin).await?;
    let taken = json!({ "display_name": "alice", "password": PASSWORD, "device_name": "phone" });
    api.expect(StatusCode::CONFLICT, Call::post("/v1/accounts", taken))
        .await?;
    let weak = json!({ "display_name": "Carol", "password": "short", "device_name": "phone" });
    api.expect(StatusCode::BAD_REQUEST, Call::post("/v1/accounts", weak))
        .await?;
    let sign_in = json!({ "display_name": "Alice", "password": PASSWORD, "device_name": "phone" });
    let phone: DeviceSession = serde_json::from_value(
        api.expect(StatusCode::CREATED, Call::post("/v1/sessions", sign_in))
            .await?,
    )?;
    let wrong =
        json!({ "display_name": "Alice", "password": "not the password", "device_name": "x" });
    api.expect(StatusCode::UNAUTHORIZED, Call::post("/v1/sessions", wrong))
        .await?;
    let devices = api
        .expect(StatusCode::OK, Call::get("/v1/devices").token(&alice))
        .await?;
    ensure!(devices.as_array().map(Vec::len) == Some(2), "{devices}");
    api.expect(StatusCode::UNAUTHORIZED, Call::get("/v1/devices"))
        .await?;
    let device = |id: &dyn std::fmt::Display| {
        Call::new(Method::DELETE, "/v1/devices/{id}").at(format!("/v1/devices/{id}"))
    };
    api.expect(
        StatusCode::NO_CONTENT,
        device(&phone.device_id).token(&alice),
    )
    .await?;
    api.expect(StatusCode::NOT_FOUND, device(&unknown).token(&alice))
        .await?;
    api.expect(StatusCode::BAD_REQUEST, device(&"not-a-uuid").token(&alice))
        .await?;
    api.expect(
        StatusCode::UNAUTHORIZED,
        Call::get("/v1/devices").token(&phone),
    )
    .await?;

    // Contributions of every kind, their payloads checked against `EventPayload`.
    let prompt = new_prompt("How do tides work, and why are there two a day?");
    let first = synthetic(
        prompt.conversation_id,
        prompt.id,
        "The Moon's gravity pulls the oceans.",
    );
    let second = synthetic(
        prompt.conversation_id,
        prompt.id,
        "Tides come from the Moon and the Sun.",
    );
    let reaction = reaction_event(&first, "+1");
    let events = [
        message_event(&prompt),
        message_event(&first),
        message_event(&second),
        rating_event(&first, "+1", &["clear"]),
        labels_event(&first, json!({ "spam": 0.0, "quality": 0.75 })),
        reaction.clone(),
        ranking_event(&prompt, &[second.id, first.id]),
        correction_event(
            prompt.conversation_id,
            prompt.id,
            Some(first.id),
            "Mostly the Moon: its pull differs across the Earth, which makes two bulges.",
        ),
        retraction_event(&reaction),
        event(
            ContributionKind::Ranking,
            prompt.id,
            prompt.conversation_id,
            json!({ "message_id": prompt.id, "ranking": { "type": "not_rankable" } }),
        ),
    ];
    let kinds: BTreeSet<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    ensure!(kinds.len() == 7, "every kind is sent: {kinds:?}");
    let results = api.ingest(&alice, &events).await?;
    ensure!(results[0]["status"] == "accepted", "{results}");
    let old = json!({ "version": INGEST_VERSION + 1, "events": [] });
    api.expect(
        StatusCode::BAD_REQUEST,
        Call::post("/v1/events", old).token(&alice),
    )
    .await?;
    let not_json = api
        .http
        .post(format!("{}/v1/events", api.base))
        .bearer_auth(&alice.token)
        .body("{}")
        .send()
        .await?;
    ensure!(not_json.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE);
    ensure!(
        api.operation(&Method::POST, "/v1/events")?["responses"]["415"].is_object(),
        "415 is documented"
    );

    // Trees.
    let tree =
        |id: &dyn std::fmt::Display| Call::get("/v1/trees/{id}").at(format!("/v1/trees/{id}"));
    let shown = api
        .expect(StatusCode::OK, tree(&prompt.id).token(&bob))
        .await?;
    ensure!(
        shown["messages"].as_array().map(Vec::len) >= Some(3),
        "{shown}"
    );
    api.expect(StatusCode::NOT_FOUND, tree(&unknown).token(&bob))
        .await?;
    let halted = new_prompt("Which rivers flow north?");
    api.ingest(&alice, &[message_event(&halted)]).await?;
    let halt = |id: &dyn std::fmt::Display| {
        Call::new(Method::POST, "/v1/trees/{id}/halt").at(format!("/v1/trees/{id}/halt"))
    };
    api.expect(StatusCode::FORBIDDEN, halt(&halted.id).token(&bob))
        .await?;
    api.expect(StatusCode::NO_CONTENT, halt(&halted.id).token(&admin))
        .await?;

    // Tasks.
    let tasks = api
        .expect(
            StatusCode::OK,
            Call::post("/v1/tasks/lease", json!({ "count": 5 })).token(&bob),
        )
        .await?;
    let task = tasks["tasks"][0]["id"]
        .as_str()
        .with_context(|| format!("Bob gets a task: {tasks}"))?
        .to_owned();
    let kinds_only = json!({ "count": 1, "kinds": ["rank_replies", "label_message"] });
    api.expect(
        StatusCode::OK,
        Call::post("/v1/tasks/lease", kinds_only).token(&admin),
    )
    .await?;
    api.expect(
        StatusCode::BAD_REQUEST,
        Call::post("/v1/tasks/lease", json!({ "count": 0 })).token(&bob),
    )
    .await?;
    api.expect(StatusCode::OK, Call::get("/v1/tasks").token(&bob))
        .await?;
    let skip = |id: &dyn std::fmt::Display| {
        Call::new(Method::POST, "/v1/tasks/{id}/skip").at(format!("/v1/tasks/{id}/skip"))
    };
    api.expect(StatusCode::FORBIDDEN, skip(&task).token(&alice))
        .await?;
    api.expect(StatusCode::NO_CONTENT, skip(&task).token(&bob))
        .await?;
    api.expect(StatusCode::CONFLICT, skip(&task).token(&bob))
        .await?;
    api.expect(StatusCode::NOT_FOUND, skip(&unknown).token(&bob))
        .await?;

    // Scores.
    for query in ["", "?window=week", "?window=day"] {
        api.expect(
            StatusCode::OK,
            Call::get("/v1/leaderboard")
                .at(format!("/v1/leaderboard{query}"))
                .token(&alice),
        )
        .await?;
    }
    api.expect(
        StatusCode::BAD_REQUEST,
        Call::get("/v1/leaderboard")
            .at("/v1/leaderboard?window=year")
            .token(&alice),
    )
    .await?;
    api.expect(StatusCode::OK, Call::get("/v1/me/stats").token(&alice))
        .await?;

    // Roles, passwords, deletion.
    let role = |id: &dyn std::fmt::Display, role: &str| {
        Call::new(Method::PUT, "/v1/accounts/{id}/role")
            .at(format!("/v1/accounts/{id}/role"))
            .body(json!({ "role": role }))
    };
    api.expect(
        StatusCode::NO_CONTENT,
        role(&bob.account_id, "moderator").token(&admin),
    )
    .await?;
    api.expect(
        StatusCode::FORBIDDEN,
        role(&alice.account_id, "admin").token(&bob),
    )
    .await?;
    api.expect(StatusCode::NOT_FOUND, role(&unknown, "admin").token(&admin))
        .await?;
    let password = |current: &str| {
        Call::new(Method::PUT, "/v1/accounts/me/password")
            .body(json!({ "current_password": current, "new_password": "a longer password now" }))
    };
    api.expect(
        StatusCode::UNAUTHORIZED,
        password("not the password").token(&alice),
    )
    .await?;
    api.expect(StatusCode::NO_CONTENT, password(PASSWORD).token(&alice))
        .await?;
    let delete = Call::new(Method::DELETE, "/v1/accounts/me").body(json!({ "password": PASSWORD }));
    api.expect(StatusCode::NO_CONTENT, delete.token(&bob))
        .await?;
    api.expect(
        StatusCode::UNAUTHORIZED,
        Call::get("/v1/me/stats").token(&bob),
    )
    .await?;

    // Every operation of the document was served with success.
    let succeeded = api
        .succeeded
        .lock()
        .expect("no test thread panicked")
        .clone();
    let mut documented = BTreeSet::new();
    for (path, item) in api.document["paths"].as_object().context("paths")? {
        for method in item.as_object().context("a path item")?.keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let missing: Vec<_> = documented.difference(&succeeded).collect();
    ensure!(
        missing.is_empty(),
        "documented, never answered with success: {missing:?}"
    );
    Ok(())
}

/// A method the document does not give a path is refused (`405`), and every path it has is
/// served (not the `404` of unknown paths): the router holds the document's operations and no
/// others on those paths.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_methods() -> Result<()> {
    let server = TestServer::start().await?;
    let document = serde_json::to_value(oa_server::openapi_document())?;
    let http = http();
    let paths = document["paths"].as_object().context("paths")?;
    ensure!(!paths.is_empty(), "the document has no paths");
    for (path, item) in paths {
        let concrete = path.replace("{id}", &Uuid::now_v7().to_string());
        for method in ["get", "post", "put", "delete", "patch"] {
            let request = http.request(
                Method::from_bytes(method.to_uppercase().as_bytes())?,
                format!("{}{concrete}", server.base_url()),
            );
            let status = request.send().await?.status();
            if item.get(method).is_some() {
                // Without a token or a body, a served route answers 2xx, 400, 401 or 415.
                ensure!(
                    status != StatusCode::METHOD_NOT_ALLOWED && status != StatusCode::NOT_FOUND,
                    "{method} {path} is documented, the server answers {status}"
                );
            } else {
                ensure!(
                    status == StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is not documented, the server answers {status}"
                );
            }
        }
    }
    Ok(())
}
