//! The shell's commands: one thin adapter per line of `oa_types::app_commands!`, generated here,
//! each calling the `oa-app` use case its line names.
//!
//! Every command answers `Result<_, oa_types::AppError>`; a failure reaches the UI as
//! `{ code, message }` with a message written for the user. The few use cases that need the
//! shell itself (a reply's channel, the open-file dialog, the start-up clock, the local API's
//! server) live in the modules below.

mod api;
mod dialogs;
mod reply;

use std::sync::Arc;

use oa_app::App;
use oa_types::AppError;
use tauri::State;
use tauri::ipc::{Channel, Invoke};

use crate::started;

pub(crate) use api::ApiHost;

/// Most search hits the UI shows at once.
const SEARCH_LIMIT: usize = 50;

/// Turns the command table into `#[tauri::command]` adapters and [`handler`], the list Tauri
/// dispatches through.
macro_rules! shell_commands {
    (
        [$app:ident, $caller:ident, $on_event:ident]
        $(
            $(#[$doc:meta])*
            $name:ident($($arg:ident: $ty:ty),* $(,)? $(; stream $event:ty)?) -> $answer:ty
                => $use_case:expr;
        )*
    ) => {
        $(
            $(#[$doc])*
            #[tauri::command]
            #[allow(clippy::unit_arg)]
            pub(crate) async fn $name(
                $app: State<'_, Arc<App>>,
                $caller: tauri::Window,
                $($arg: $ty,)*
                $($on_event: Channel<$event>,)?
            ) -> Result<$answer, AppError> {
                let _ = (&$app, &$caller);
                Ok($use_case)
            }
        )*

        /// Dispatches the UI's calls to the commands above.
        pub(crate) fn handler() -> impl Fn(Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }
    };
}

oa_types::app_commands!(shell_commands);
