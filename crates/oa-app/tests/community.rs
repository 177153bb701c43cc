//! Work from the dataset server done on the desktop: tasks leased, done offline and sent when
//! back online; the leaderboard and the person's standing, kept for offline viewing. The real
//! app and the real `oa-server` on its own PostgreSQL database, with a proxy to cut the network.

use std::time::Duration;

use anyhow::Result;
use oa_app::{App, AppConfig};
use oa_server::testing::{FaultProxy, TestServer, load_config};
use oa_sync::ServerClient;
use oa_types::{
    ContributionKind, Labels, LeaderboardWindow, Message, RegisterRequest, Role, SubmittedEvent,
    TaskAnswer, TaskKind, TextLabel, Uuid,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_tasks_are_done_offline_and_their_results_sent_when_back_online() -> Result<()> {
    // No first-prompt tasks: the only work is reviewing Kim's prompt.
    let server = TestServer::start_with(oa_server::Config {
        lease_duration: Duration::from_secs(2),
        tree: oa_server::TreePolicy {
            max_active_trees: 0,
            ..oa_server::TreePolicy::default()
        },
        ..load_config()
    })
    .await?;
    let proxy = FaultProxy::start(server.addr()).await?;

    // Someone else's prompt waits for reviews on the server.
    let kim = ServerClient::new(&server.base_url())?
        .register(&RegisterRequest {
            display_name: "Kim".into(),
            password: "a long enough passphrase".into(),
            device_name: "laptop".into(),
        })
        .await?;
    let prompt = Message {
        id: Uuid::now_v7(),
        conversation_id: Uuid::now_v7(),
        parent_id: None,
        role: Role::Prompter,
        text: "How do bees find their way back to the hive?".into(),
        created_at_ms: 1_764_000_000_000,
        provenance: None,
        corrects: None,
    };
    ServerClient::new(&server.base_url())?
        .ingest(
            &kim.token,
            &[SubmittedEvent {
                id: Uuid::now_v7(),
                kind: ContributionKind::Message,
                subject_id: prompt.id,
                conversation_id: prompt.conversation_id,
                created_at_ms: prompt.created_at_ms,
                payload: serde_json::to_string(&prompt)?,
                task_id: None,
            }],
        )
        .await?;

    let dir = tempfile::tempdir()?;
    let app = App::open_without_model(AppConfig::new(dir.path().to_owned(), None));
    let not_yet = oa_types::AppError::from(app.tasks().lease(5, 0).await.unwrap_err());
    assert!(not_yet.message.contains("sign in"), "{}", not_yet.message);
    app.account()
        .link(oa_types::LinkAccount {
            server_url: proxy.url(),
            display_name: "Lee".into(),
            password: "a long enough passphrase".into(),
            create: true,
            device_name: String::new(),
        })
        .await?;

    // Leased: the review of Kim's prompt comes first in the queue, with its context.
    let queue = app.tasks().lease(5, 0).await?;
    assert_eq!(queue.tasks.iter().filter(|t| t.lease.is_some()).count(), 1);
    let task = queue.tasks[0].clone();
    let lease = task.lease.expect("a leased task");
    assert_eq!(task.kind, TaskKind::LabelMessage);
    assert!(lease.review && !lease.expired);
    assert_eq!(
        task.context.last().map(|m| m.text.as_str()),
        Some(prompt.text.as_str())
    );
    let fresh = app.account().standing(LeaderboardWindow::All).await?;
    assert_eq!(fresh.stats.display_name, "Lee");
    assert!(fresh.stale_because.is_none());

    // Offline, and the lease runs out: it is shown as expired, not dropped.
    proxy.set_up(false);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let queue = app.tasks().queue(0).await?;
    let shown = queue
        .tasks
        .iter()
        .find(|t| t.key == task.key)
        .expect("still in the queue");
    assert!(shown.lease.is_some_and(|l| l.expired));

    // An answer that does not fit is refused; the right one is kept and queued.
    let wrong = app
        .tasks()
        .complete_leased(
            lease.task_id,
            TaskAnswer::LabelMessage {
                message_id: Uuid::now_v7(),
                labels: Labels([(TextLabel::Spam, 0.0)].into()),
            },
            0,
        )
        .await
        .unwrap_err();
    let wrong = oa_types::AppError::from(wrong);
    assert!(wrong.message.contains("does not fit"), "{}", wrong.message);
    let queue = app
        .tasks()
        .complete_leased(
            lease.task_id,
            TaskAnswer::LabelMessage {
                message_id: prompt.id,
                labels: Labels([(TextLabel::Spam, 0.0), (TextLabel::Quality, 0.75)].into()),
            },
            0,
        )
        .await?;
    assert!(queue.tasks.iter().all(|t| t.key != task.key));
    assert_eq!(queue.progress.done_today, 1);
    assert_eq!(app.sharing().status().await?.waiting, 1);

    // The standing kept from before is shown offline, marked as such.
    let kept = app.account().standing(LeaderboardWindow::All).await?;
    assert!(kept.stale_because.is_some());
    assert_eq!(kept.fetched_at_ms, fresh.fetched_at_ms);
    assert!(
        app.account()
            .standing(LeaderboardWindow::Day)
            .await
            .is_err(),
        "nothing kept for it"
    );

    // Back online, the result goes, late but still needed, and completes the task.
    proxy.set_up(true);
    let report = app.sharing().sync_once().await?;
    assert_eq!((report.accepted, report.rejected), (1, 0));
    let (completed, labels): (bool, i64) = sqlx::query_as(
        "SELECT (SELECT completed_at IS NOT NULL FROM tasks WHERE id = $1),
                (SELECT count(*) FROM labels WHERE message_id = $2)",
    )
    .bind(lease.task_id)
    .bind(prompt.id)
    .fetch_one(server.pool())
    .await?;
    assert!(completed, "the server counts the task as done");
    assert_eq!(labels, 1);
    Ok(())
}
