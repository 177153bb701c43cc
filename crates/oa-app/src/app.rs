//! The application root that callers hold: it opens the app's data and the model, and hands
//! out the areas of use cases (chat, feedback, sharing, account, tasks, models, settings). Each
//! area is a small `Copy` view of the state they share; its methods take it by value, so the
//! futures they return borrow the app, never the view (`app.chat().send(..)` may be kept and
//! polled later, in a `select!` say).

use std::path::Path;
use std::sync::Arc;

use crate::account::Account;
use crate::api::Api;
use crate::chat::Chat;
use crate::config::AppConfig;
use crate::feedback::Feedback;
use crate::models::Models;
use crate::settings::Settings;
use crate::sharing::Sharing;
use crate::state::State;
use crate::tasks::Tasks;

/// The running application. Cheap to share behind an `Arc`; its use cases live in its areas.
pub struct App {
    state: Arc<State>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.state.config)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Opens the local database and starts loading the model in the background; the model's
    /// state is reported by [`Models::status`]. The model is the one the person last chose in
    /// the app, while its file exists, else the configured one. A database that cannot be
    /// opened does not stop the app: [`App::storage_error`] says why, and the use cases that
    /// need it fail with that message until it opens.
    pub fn open(config: AppConfig) -> crate::Result<App> {
        let app = App::open_without_model(config);
        app.state.start_loading(app.state.model_path(), false)?;
        Ok(app)
    }

    /// Opens the app's data without loading a model, for work that never chats (sending
    /// contributions, accounts): chatting answers that no model was loaded.
    pub fn open_without_model(config: AppConfig) -> App {
        App {
            state: Arc::new(State::open(config)),
        }
    }

    /// The inference thread count chosen under Settings, read from `data_dir`'s database;
    /// `None` when it is left to the default or cannot be read. A program reads it before it
    /// starts any thread (and before it opens the app) and hands it to the compute pool through
    /// `CANDLE_NUM_THREADS`.
    pub fn startup_threads(data_dir: &Path) -> Option<u32> {
        crate::settings::startup_threads(data_dir)
    }

    /// The configuration the app was opened with.
    pub fn config(&self) -> &AppConfig {
        &self.state.config
    }

    /// Why the local database cannot be used right now, or `None` when it can. Tries to open it
    /// again when it could not be opened before.
    pub async fn storage_error(&self) -> Option<oa_types::AppError> {
        self.state
            .with_store(|_| Ok(()))
            .await
            .err()
            .map(Into::into)
    }

    /// Conversations, replies and how they are generated.
    pub fn chat(&self) -> Chat<'_> {
        Chat::new(&self.state)
    }

    /// Thumbs, labels, corrections and rankings of replies.
    pub fn feedback(&self) -> Feedback<'_> {
        Feedback::new(&self.state)
    }

    /// Review & Share: the outbox, consent per item, and the agent that sends what was shared.
    pub fn sharing(&self) -> Sharing<'_> {
        Sharing::new(&self.state)
    }

    /// The link to a dataset server, and the person's standing there.
    pub fn account(&self) -> Account<'_> {
        Account::new(&self.state)
    }

    /// The Contribute queue: tasks made from the person's history and tasks leased from the
    /// server.
    pub fn tasks(&self) -> Tasks<'_> {
        Tasks::new(&self.state)
    }

    /// The model in use, the models installed and the catalog's downloads.
    pub fn models(&self) -> Models<'_> {
        Models::new(&self.state)
    }

    /// The local OpenAI-compatible API: its settings, the models it offers, and the history
    /// of what programs asked.
    pub fn api(&self) -> Api<'_> {
        Api::new(&self.state)
    }

    /// The app's settings and the devices models can run on.
    pub fn settings(&self) -> Settings<'_> {
        Settings::new(&self.state)
    }
}
