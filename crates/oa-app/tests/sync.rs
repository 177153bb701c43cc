//! Sharing with the dataset server: the real app's store and the real `oa-server` on loopback
//! with its own PostgreSQL database (`oa_server::testing`). What the server holds is read from
//! its database, not taken from the client's word; that includes what a redaction made in
//! Review & Share while a round runs lets leave.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use oa_app::{App, AppConfig, SyncReport};
use oa_server::testing::{Fault, FaultProxy, TestServer, model_provenance};
use oa_store::{Store, StoreError};
use oa_sync::ServerClient;
use oa_types::{ConsentState, RegisterRequest, ReviewGroup, ReviewItem, SubmittedEvent, Uuid};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_shared_events_reach_the_server_once_even_when_an_answer_was_lost() -> Result<()> {
    let server = TestServer::start().await?;
    let client = ServerClient::new(&server.base_url())?;
    let session = client
        .register(&RegisterRequest {
            display_name: "Carol".into(),
            password: "a long enough passphrase".into(),
            device_name: "laptop".into(),
        })
        .await?;

    // Three conversations on the desktop: two shared, one kept private.
    let dir = tempfile::tempdir()?;
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: dir.path().join("no-model.gguf"),
    };
    let secret = "My private diary entry about the surprise party for Dave.";
    {
        std::fs::create_dir_all(&config.data_dir)?;
        let mut store = Store::open(&config.database_path())?;
        for question in [
            "Why do cats purr when they are happy?",
            "How do airplanes stay up in the air?",
        ] {
            let prompt = store.add_prompt(None, question)?;
            store.add_reply(&prompt, "Here is a short answer.", Some(model_provenance()))?;
            for event in store.events(ConsentState::Private)? {
                store.share_event(event.id)?;
            }
        }
        let private = store.add_prompt(None, secret)?;
        store.add_reply(&private, "That sounds lovely.", Some(model_provenance()))?;

        // A round before this one sent the first event, but its answer never came back.
        let first = store.events(ConsentState::Queued)?.remove(0);
        store.mark_events_sent(&[first.id])?;
        client
            .ingest(&session.token, &[SubmittedEvent::from(&first)])
            .await?;
    }

    let app = App::open(config.clone())?;
    let report = app.sharing().sync_now(&client, &session.token).await?;
    assert_eq!(
        report,
        SyncReport {
            batches: 1,
            accepted: 4,
            rejected: 0
        }
    );
    // Nothing left to send: a second round sends nothing.
    assert_eq!(
        app.sharing().sync_now(&client, &session.token).await?,
        SyncReport::default()
    );
    drop(app);

    let store = Store::open(&config.database_path())?;
    assert_eq!(store.events(ConsentState::Accepted)?.len(), 4);
    assert_eq!(store.events(ConsentState::Private)?.len(), 2);
    assert!(store.events(ConsentState::Queued)?.is_empty());
    assert!(store.events(ConsentState::Sent)?.is_empty());

    let (events, messages): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM contribution_events), (SELECT count(*) FROM messages)",
    )
    .fetch_one(server.pool())
    .await?;
    assert_eq!((events, messages), (4, 4), "each shared event exactly once");
    let leaked: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE text = $1")
        .bind(secret)
        .fetch_one(server.pool())
        .await?;
    assert_eq!(leaked, 0, "the private conversation never left the machine");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_loses_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: dir.path().join("no-model.gguf"),
    };
    {
        let mut store = Store::open(&config.database_path())?;
        let prompt = store.add_prompt(None, "What is the tallest mountain on Earth?")?;
        for event in store.events(ConsentState::Private)? {
            store.share_event(event.id)?;
        }
        assert_eq!(prompt.text, "What is the tallest mountain on Earth?");
    }
    // Nothing listens on this port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    drop(listener);
    let app = App::open(config.clone())?;
    let error = app
        .sharing()
        .sync_now(&ServerClient::new(&url)?, "token")
        .await
        .expect_err("nothing listens there");
    let shown = oa_types::AppError::from(error);
    assert_eq!(shown.code, oa_types::ErrorCode::Sync);
    assert!(shown.message.contains("stay queued"), "{}", shown.message);
    drop(app);
    // The event went out as far as "sent" (the server may have it) and goes again next time.
    let store = Store::open(&config.database_path())?;
    assert_eq!(store.events(ConsentState::Sent)?.len(), 1);
    Ok(())
}

/// Waits until the app's sync status satisfies `done`, for at most `secs` seconds.
async fn wait_for_status(
    app: &App,
    secs: u64,
    done: impl Fn(&oa_types::SyncStatus) -> bool,
) -> Result<oa_types::SyncStatus> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let status = app.sharing().status().await?;
        if done(&status) {
            return Ok(status);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "sync status never got there: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_sends_what_is_shared_once_signed_in_and_retries_after_the_network_drops()
-> Result<()> {
    let server = TestServer::start().await?;
    let switch = FaultProxy::start(server.addr()).await?;
    let dir = tempfile::tempdir()?;
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: dir.path().join("no-model.gguf"),
    };
    let mut conversations = Vec::new();
    {
        let mut store = Store::open(&config.database_path())?;
        for question in ["What makes the sky blue?", "Why is the sea salty?"] {
            let prompt = store.add_prompt(None, question)?;
            store.add_reply(&prompt, "A short answer.", Some(model_provenance()))?;
            conversations.push(prompt.conversation_id);
        }
    }
    let app = std::sync::Arc::new(App::open(config.clone())?);
    tokio::spawn(app.sharing().run_agent());

    // Shared before any server is set: it waits, nothing is sent.
    app.sharing().share_conversation(conversations[0]).await?;
    let status = wait_for_status(&app, 5, |s| s.waiting == 2).await?;
    assert!(!status.linked && status.online.is_none(), "{status:?}");

    // Signing in while the network is down says so and keeps nothing.
    switch.set_up(false);
    let link = |create| oa_types::LinkAccount {
        server_url: switch.url(),
        display_name: "Dana".into(),
        password: "a long enough passphrase".into(),
        create,
        device_name: "Dana's kitchen laptop".into(),
    };
    let error = oa_types::AppError::from(app.account().link(link(true)).await.unwrap_err());
    assert!(error.message.contains("reach"), "{}", error.message);
    assert_eq!(app.account().status()?.display_name, None);

    // Online, the agent sends what waits without being asked.
    switch.set_up(true);
    let account = app.account().link(link(true)).await?;
    assert_eq!(account.display_name.as_deref(), Some("Dana"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("account.json"))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is for its owner only");
    }
    let status = wait_for_status(&app, 20, |s| s.waiting == 0).await?;
    assert_eq!(status.online, Some(true));
    assert!(status.last_sync_ms.is_some() && status.last_error.is_none());
    // The server knows the device by the name Dana chose, not by the computer's host name.
    let devices: Vec<String> = sqlx::query_scalar("SELECT name FROM devices")
        .fetch_all(server.pool())
        .await?;
    assert_eq!(devices, ["Dana's kitchen laptop"]);

    // The network drops: what is shared now waits, the failure is shown with a retry time, and
    // it goes once the network is back, without anyone asking.
    switch.set_up(false);
    app.sharing().share_conversation(conversations[1]).await?;
    let status = wait_for_status(&app, 20, |s| s.online == Some(false)).await?;
    assert!(
        status.last_error.is_some() && status.retry_at_ms.is_some(),
        "{status:?}"
    );
    assert_eq!(status.waiting, 2);
    switch.set_up(true);
    wait_for_status(&app, 30, |s| s.waiting == 0 && s.online == Some(true)).await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM contribution_events")
        .fetch_one(server.pool())
        .await?;
    assert_eq!(events, 4, "each shared event exactly once");

    // Logging out revokes the token on the server and forgets it here.
    let token = {
        let text = std::fs::read_to_string(dir.path().join("account.json"))?;
        let value: serde_json::Value = serde_json::from_str(&text)?;
        value["session"]["token"].as_str().unwrap().to_owned()
    };
    let after = app.account().log_out().await?;
    assert_eq!(after.display_name, None);
    assert_eq!(after.server_url.as_deref(), Some(switch.url().as_str()));
    assert!(!std::fs::read_to_string(dir.path().join("account.json"))?.contains(&token));
    let refused = ServerClient::new(&server.base_url())?
        .ingest(&token, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, oa_sync::Error::Unauthorized { .. }),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_what_the_server_holds_sends_a_retraction_it_honours() -> Result<()> {
    let server = TestServer::start().await?;
    let dir = tempfile::tempdir()?;
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: dir.path().join("no-model.gguf"),
    };
    let conversation = {
        let mut store = Store::open(&config.database_path())?;
        let prompt = store.add_prompt(None, "How long do elephants live?")?;
        store.add_reply(&prompt, "About seventy years.", Some(model_provenance()))?;
        prompt.conversation_id
    };
    let app = std::sync::Arc::new(App::open(config.clone())?);
    tokio::spawn(app.sharing().run_agent());
    app.sharing().share_conversation(conversation).await?;
    app.account()
        .link(oa_types::LinkAccount {
            server_url: server.base_url(),
            display_name: "Finn".into(),
            password: "a long enough passphrase".into(),
            create: true,
            device_name: String::new(),
        })
        .await?;
    wait_for_status(&app, 20, |s| s.waiting == 0 && s.last_sync_ms.is_some()).await?;

    // A queued event cannot be withdrawn (it is unshared instead); an accepted one can.
    let groups = app.sharing().withdraw_conversation(conversation).await?;
    let kinds: Vec<_> = groups
        .iter()
        .flat_map(|g| &g.items)
        .map(|i| (i.event.kind, i.event.state))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (oa_types::ContributionKind::Retraction, ConsentState::Queued),
            (oa_types::ContributionKind::Retraction, ConsentState::Queued)
        ],
        "the accepted events leave the outbox, a retraction for each waits"
    );
    wait_for_status(&app, 20, |s| s.waiting == 0).await?;
    let retracted: i64 = sqlx::query_scalar("SELECT count(*) FROM retractions")
        .fetch_one(server.pool())
        .await?;
    assert_eq!(retracted, 2, "the server recorded both withdrawals");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_is_sent_again_once_the_person_fixed_why() -> Result<()> {
    let server = TestServer::start().await?;
    let client = ServerClient::new(&server.base_url())?;
    let session = client
        .register(&RegisterRequest {
            display_name: "Jo".into(),
            password: "a long enough passphrase".into(),
            device_name: "laptop".into(),
        })
        .await?;
    let dir = tempfile::tempdir()?;
    let config = AppConfig::new(dir.path().to_owned(), None);
    // Only the vote is shared, not the conversation it is about.
    let (vote, conversation) = {
        let mut store = Store::open(&config.database_path())?;
        let prompt = store.add_prompt(None, "What is the speed of sound in air?")?;
        let reply = store.add_reply(&prompt, "About 343 m/s.", Some(model_provenance()))?;
        let vote = store.rate(
            reply.id,
            &oa_types::Thumbs {
                vote: oa_types::Vote::Up,
                reasons: Vec::new(),
                comment: None,
            },
        )?;
        store.share_event(vote.id)?;
        (vote.id, prompt.conversation_id)
    };
    let app = App::open_without_model(config.clone());
    let report = app.sharing().sync_now(&client, &session.token).await?;
    assert_eq!((report.accepted, report.rejected), (0, 1));
    let refused = app.sharing().status().await?;
    assert_eq!((refused.rejected, refused.waiting), (1, 0));
    let reason = Store::open(&config.database_path())?
        .event(vote)?
        .rejection_reason
        .unwrap_or_default();
    assert!(
        reason.contains("not on the server") || reason.contains("parent"),
        "{reason}"
    );

    // Sharing the conversation and sending the vote again: everything is accepted.
    app.sharing().share_conversation(conversation).await?;
    app.sharing().share_event(vote).await?;
    let report = app.sharing().sync_now(&client, &session.token).await?;
    assert_eq!((report.accepted, report.rejected), (3, 0));
    let status = app.sharing().status().await?;
    assert_eq!((status.rejected, status.waiting), (0, 0));
    let votes: i64 = sqlx::query_scalar("SELECT count(*) FROM contribution_events WHERE id = $1")
        .bind(vote)
        .fetch_one(server.pool())
        .await?;
    assert_eq!(votes, 1);
    Ok(())
}

/// A person signed up on `server` (their token), and their desktop's data in `dir`: one private
/// conversation per text, each a single prompt. Returns the token and, per text, the
/// conversation and the prompt's contribution event.
async fn person_with_prompts(
    server: &TestServer,
    dir: &Path,
    texts: &[String],
) -> Result<(AppConfig, String, Vec<(Uuid, Uuid)>)> {
    let session = ServerClient::new(&server.base_url())?
        .register(&RegisterRequest {
            display_name: "Mira".into(),
            password: "a long enough passphrase".into(),
            device_name: "laptop".into(),
        })
        .await?;
    let config = AppConfig::new(dir.to_owned(), None);
    let mut store = Store::open(&config.database_path())?;
    let mut prompts = Vec::new();
    for text in texts {
        let prompt = store.add_prompt(None, text)?;
        let event = store
            .events(ConsentState::Private)?
            .into_iter()
            .find(|e| e.subject_id == prompt.id)
            .context("every prompt is recorded as a private event")?;
        prompts.push((prompt.conversation_id, event.id));
    }
    Ok((config, session.token, prompts))
}

/// The item of event `id` in the review queue.
fn review_item(groups: &[ReviewGroup], id: Uuid) -> Result<&ReviewItem> {
    groups
        .iter()
        .flat_map(|g| &g.items)
        .find(|i| i.event.id == id)
        .context("the event is in the review queue")
}

/// The payload the server stored for event `id` and the text of the message it made, read
/// from the server's database; `None` when the server has no such event.
async fn held_by_server(
    server: &TestServer,
    id: Uuid,
) -> Result<Option<(serde_json::Value, String)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT e.payload::text, m.text FROM contribution_events e \
         JOIN messages m ON m.event_id = e.id WHERE e.id = $1",
    )
    .bind(id)
    .fetch_optional(server.pool())
    .await?;
    row.map(|(payload, text)| Ok((serde_json::from_str(&payload)?, text)))
        .transpose()
}

/// How many of the server's stored events and messages contain `text` anywhere.
async fn server_rows_containing(server: &TestServer, text: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM contribution_events WHERE strpos(payload::text, $1) > 0) \
              + (SELECT count(*) FROM messages WHERE strpos(text, $1) > 0)",
    )
    .bind(text)
    .fetch_one(server.pool())
    .await?)
}

/// The state event `id` was in when its redaction was refused because it had already left;
/// `None` when `error` is anything else.
fn refused_as_sent(error: &oa_app::Error, id: Uuid) -> Option<ConsentState> {
    match error {
        oa_app::Error::Store(StoreError::AlreadySent { event, state }) if *event == id => {
            Some(*state)
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redaction_while_the_batch_is_on_its_way_is_refused_and_what_left_is_what_is_shown()
-> Result<()> {
    let server = TestServer::start().await?;
    let proxy = FaultProxy::start(server.addr()).await?;
    let dir = tempfile::tempdir()?;
    let phone = "+31 6 1234 5678";
    let text = format!("Could you call me back on {phone} about the flat?");
    let (config, token, prompts) = person_with_prompts(&server, dir.path(), &[text]).await?;
    let (conversation, id) = prompts[0];
    let app = Arc::new(App::open_without_model(config));
    app.sharing().share_conversation(conversation).await?;
    let queued = app.sharing().review_queue().await?;
    let found = &review_item(&queued, id)?.findings;
    assert!(found.iter().any(|f| f.kind == "phone"), "{found:?}");

    // The round claims the batch and its request is held on the way to the server.
    proxy.inject([Fault::StallRequest]);
    let round = tokio::spawn({
        let app = app.clone();
        let client = ServerClient::new(&proxy.url())?;
        async move { app.sharing().sync_now(&client, &token).await }
    });
    tokio::time::timeout(Duration::from_secs(20), proxy.stalled())
        .await
        .context("the round's request reaches the proxy")?;

    // Redacting now is too late, and the person is told so.
    let refused = app.sharing().redact_event(id).await.unwrap_err();
    assert_eq!(
        refused_as_sent(&refused, id),
        Some(ConsentState::Sent),
        "{refused:?}"
    );
    let shown = oa_types::AppError::from(refused);
    assert_eq!(shown.code, oa_types::ErrorCode::InvalidRequest);
    assert!(shown.message.contains("already sent"), "{}", shown.message);
    // Review & Share shows it as sent, with the bytes that are on their way.
    let groups = app.sharing().review_queue().await?;
    let item = review_item(&groups, id)?;
    assert_eq!(item.event.state, ConsentState::Sent);
    assert!(!item.event.redacted);
    let sent = item.event.payload.clone();
    assert!(
        sent.contains(phone) && item.payload_json.contains(phone),
        "{sent}"
    );
    assert!(held_by_server(&server, id).await?.is_none(), "still held");

    proxy.release();
    let report = round.await??;
    assert_eq!((report.accepted, report.rejected), (1, 0));
    // The server holds exactly what the app showed as sent.
    let (payload, message) = held_by_server(&server, id)
        .await?
        .context("the server holds the event")?;
    let sent: serde_json::Value = serde_json::from_str(&sent)?;
    assert_eq!(payload, sent);
    assert_eq!(Some(message.as_str()), sent["text"].as_str());
    let answered = app.sharing().review_queue().await?;
    let item = review_item(&answered, id)?;
    assert_eq!(item.event.state, ConsentState::Accepted);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&item.event.payload)?,
        payload
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redaction_before_the_round_is_all_that_ever_reaches_the_server() -> Result<()> {
    let server = TestServer::start().await?;
    let dir = tempfile::tempdir()?;
    let phone = "+31 6 8765 4321";
    let text = format!("My landlord never answers on {phone}, what can I do?");
    let (config, token, prompts) = person_with_prompts(&server, dir.path(), &[text]).await?;
    let (conversation, id) = prompts[0];
    let app = App::open_without_model(config);
    app.sharing().share_conversation(conversation).await?;

    let groups = app.sharing().redact_event(id).await?;
    let item = review_item(&groups, id)?;
    assert!(item.event.redacted && item.findings.is_empty(), "{item:?}");
    let redacted = item.event.payload.clone();
    assert!(
        redacted.contains("[phone]") && !redacted.contains(phone),
        "{redacted}"
    );

    let client = ServerClient::new(&server.base_url())?;
    let report = app.sharing().sync_now(&client, &token).await?;
    assert_eq!((report.accepted, report.rejected), (1, 0));
    let (payload, message) = held_by_server(&server, id)
        .await?
        .context("the server holds the event")?;
    assert_eq!(
        payload,
        serde_json::from_str::<serde_json::Value>(&redacted)?
    );
    assert_eq!(
        message,
        "My landlord never answers on [phone], what can I do?"
    );
    for leaked in [phone, "8765 4321", "4321"] {
        assert_eq!(
            server_rows_containing(&server, leaked).await?,
            0,
            "{leaked:?} never left the machine"
        );
    }
    // The local conversation keeps what the person wrote.
    let kept = app.chat().open(conversation).await?;
    assert!(kept.messages[0].text.contains(phone));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redaction_racing_a_round_is_either_in_what_leaves_or_refused_as_sent() -> Result<()> {
    const ROUNDS: usize = 32;
    const STEP: Duration = Duration::from_micros(5);
    let server = TestServer::start().await?;
    let dir = tempfile::tempdir()?;
    let phones: Vec<String> = (0..ROUNDS)
        .map(|round| format!("+31 6 2{round:02}5 7{round:02}3"))
        .collect();
    let texts: Vec<String> = phones
        .iter()
        .enumerate()
        .map(|(round, phone)| format!("Question {round}: my neighbour rings me on {phone}, why?"))
        .collect();
    let (config, token, prompts) = person_with_prompts(&server, dir.path(), &texts).await?;
    let app = Arc::new(App::open_without_model(config));
    let client = ServerClient::new(&server.base_url())?;
    let (mut redacted, mut refused) = (0, 0);
    for (round, (&(conversation, id), phone)) in prompts.iter().zip(&phones).enumerate() {
        app.sharing().share_conversation(conversation).await?;
        let found = app.sharing().review_queue().await?;
        let found = &review_item(&found, id)?.findings;
        assert!(found.iter().any(|f| f.kind == "phone"), "{found:?}");

        // The person redacts on another thread while the round runs, a little later each time,
        // so that some round lands in any gap the round might have between read and send (one
        // that read its batch and marked it sent in two store calls fails here every run).
        let redaction = tokio::spawn({
            let app = app.clone();
            let pause = STEP * round as u32;
            async move {
                // A spin: a sleep's own delay is longer than the whole round's store work.
                let start = std::time::Instant::now();
                let waited = tokio::task::spawn_blocking(move || {
                    while start.elapsed() < pause {
                        std::hint::spin_loop();
                    }
                });
                waited.await.expect("waiting does not panic");
                app.sharing().redact_event(id).await
            }
        });
        let report = app.sharing().sync_now(&client, &token).await?;
        assert_eq!((report.accepted, report.rejected), (1, 0), "round {round}");
        let outcome = redaction.await?;

        let groups = app.sharing().review_queue().await?;
        let item = review_item(&groups, id)?;
        let (payload, message) = held_by_server(&server, id)
            .await?
            .context("the server holds the event")?;
        // Whatever the order, the app shows what the server holds.
        assert_eq!(item.event.state, ConsentState::Accepted, "round {round}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&item.event.payload)?,
            payload,
            "round {round}"
        );
        assert_eq!(Some(message.as_str()), payload["text"].as_str());
        match outcome {
            // Done: then it was done before the claim, and only the redacted text left.
            Ok(_) => {
                redacted += 1;
                assert!(item.event.redacted, "round {round}");
                assert!(message.contains("[phone]"), "round {round}: {message}");
                assert_eq!(
                    server_rows_containing(&server, phone).await?,
                    0,
                    "round {round}"
                );
            }
            // Refused: the person was told it had already left (on its way, or even answered
            // when the redaction came late), as it had.
            Err(error) if refused_as_sent(&error, id).is_some() => {
                refused += 1;
                assert!(!item.event.redacted, "round {round}");
                assert!(message.contains(phone.as_str()), "round {round}: {message}");
            }
            Err(error) => anyhow::bail!("round {round}: the redaction failed otherwise: {error}"),
        }
    }
    eprintln!("{redacted} redactions were in time, {refused} were refused as sent");
    Ok(())
}
