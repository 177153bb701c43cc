//! A reply streamed to the UI: the channel carries the stored prompt and the tokens, and the
//! command answers with the stored reply.

use std::time::Instant;

use oa_app::App;
use oa_types::{AppError, ChatEvent, Message, Regenerate, SendMessage};
use tauri::ipc::Channel;

/// Sends a prompt (or an edited version of one) and streams its reply.
pub(super) async fn send(
    app: &App,
    request: SendMessage,
    channel: Channel<ChatEvent>,
) -> Result<Message, AppError> {
    let mut stream = ReplyStream::new(channel);
    let reply = app
        .chat()
        .send(request, |event| stream.forward(event))
        .await;
    stream.answered(reply)
}

/// Answers a prompt again and streams the reply.
pub(super) async fn regenerate(
    app: &App,
    request: Regenerate,
    channel: Channel<ChatEvent>,
) -> Result<Message, AppError> {
    let mut stream = ReplyStream::new(channel);
    let reply = app
        .chat()
        .regenerate(request, |event| stream.forward(event))
        .await;
    stream.answered(reply)
}

/// The channel a reply streams through. It carries the stored prompt and the tokens; the end
/// (the stored reply or the error) is the command's own answer, so the UI needs no event to
/// know that a reply is complete.
struct ReplyStream {
    channel: Channel<ChatEvent>,
    /// When the last token went out, to log how long storing the reply took after it.
    last_token: Option<Instant>,
    /// When the app reported the reply stored, to log how long the answer took after it.
    stored: Option<Instant>,
}

impl ReplyStream {
    fn new(channel: Channel<ChatEvent>) -> Self {
        ReplyStream {
            channel,
            last_token: None,
            stored: None,
        }
    }

    /// Passes an event on; `false` once the UI no longer listens.
    fn forward(&mut self, event: ChatEvent) -> bool {
        match event {
            ChatEvent::Finished { .. } => {
                self.stored = Some(Instant::now());
                true
            }
            ChatEvent::Failed { .. } => true,
            ChatEvent::Token(_) => {
                self.last_token = Some(Instant::now());
                self.channel.send(event).is_ok()
            }
            ChatEvent::Started { .. } => self.channel.send(event).is_ok(),
        }
    }

    /// The command's answer; logs the time to it from the last token (the engine's last step
    /// and the store's write included) and from the reply being stored (the app's
    /// `reply stored after the engine finished` line gives the time before that).
    fn answered(self, reply: oa_app::Result<Message>) -> Result<Message, AppError> {
        let ms = |at: Option<Instant>| at.map(|at| at.elapsed().as_secs_f64() * 1000.0);
        if let (Ok(reply), Some(last)) = (&reply, ms(self.last_token)) {
            tracing::info!(
                ms = format_args!("{last:.1}"),
                after_stored_ms = format_args!("{:.2}", ms(self.stored).unwrap_or(0.0)),
                reply = %reply.id,
                "reply stored"
            );
        }
        Ok(reply?)
    }
}
