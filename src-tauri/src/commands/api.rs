//! The local API as the app serves it: the running server and the claim on the data folder,
//! started at launch when the settings say so, restarted as the person changes them, and
//! stopped when the app quits. A server that cannot start (the port is taken, another program
//! serves the folder) is a problem shown in Settings, never a failure of the app.

use std::sync::Arc;

use oa_api::{ApiServer, ServeOptions};
use oa_app::{ApiClaim, App};
use oa_types::{ApiSettings, ApiStatus, AppError};
use tauri::Manager;
use tokio::sync::Mutex;

/// The shell's hold on the local API; one per app, kept in Tauri's state.
#[derive(Clone, Default)]
pub(crate) struct ApiHost {
    hosted: Arc<Mutex<Hosted>>,
}

/// What runs now.
#[derive(Default)]
struct Hosted {
    /// The server, with the settings it was started with.
    server: Option<(ApiServer, ApiSettings)>,
    /// The right to serve this data folder, held while the server runs.
    claim: Option<ApiClaim>,
    /// Why the API does not serve although it is on.
    problem: Option<String>,
}

impl ApiHost {
    /// Serves the API when the kept settings have it on; called once at start-up.
    pub(crate) async fn start(&self, app: Arc<App>) {
        match app.api().settings().await {
            Ok(settings) if settings.enabled => {
                self.hosted.lock().await.apply(&app, &settings).await;
            }
            Ok(_) => {}
            Err(e) => {
                let message = AppError::from(e).message;
                tracing::warn!(error = %message, "the local API's settings could not be read");
                self.hosted.lock().await.problem = Some(message);
            }
        }
    }

    /// Stops serving and gives the data folder's claim back; for the app's exit.
    pub(crate) async fn stop(&self) {
        self.hosted.lock().await.stop().await;
    }

    async fn status(&self, app: &App) -> Result<ApiStatus, AppError> {
        let settings = app.api().settings().await?;
        Ok(self.hosted.lock().await.status(settings))
    }

    async fn keep(&self, app: &Arc<App>, settings: ApiSettings) -> Result<ApiStatus, AppError> {
        let mut hosted = self.hosted.lock().await;
        hosted.apply(app, &settings).await;
        Ok(hosted.status(settings))
    }
}

impl Hosted {
    /// Brings what runs in line with `settings`: stops, starts or restarts the server. Only a
    /// change the server reads restarts it (keeping the history is read per answer).
    async fn apply(&mut self, app: &Arc<App>, settings: &ApiSettings) {
        if !settings.enabled {
            self.stop().await;
            return;
        }
        if let Some((_, serving)) = &self.server
            && same_server(serving, settings)
        {
            return;
        }
        if let Some((server, _)) = self.server.take() {
            server.stop().await;
        }
        let claim = match self.claim.take() {
            Some(claim) => claim,
            None => match app.api().claim() {
                Ok(claim) => claim,
                Err(problem) => return self.failed(problem),
            },
        };
        match oa_api::serve(app.clone(), ServeOptions::from_settings(settings)).await {
            Ok(server) => {
                claim.announce(&server.url());
                self.claim = Some(claim);
                self.server = Some((server, settings.clone()));
                self.problem = None;
            }
            // The claim goes back with the failure: another program may serve the folder.
            Err(problem) => self.failed(problem),
        }
    }

    fn failed(&mut self, problem: String) {
        tracing::warn!(%problem, "the local API cannot serve");
        self.problem = Some(problem);
    }

    async fn stop(&mut self) {
        if let Some((server, _)) = self.server.take() {
            server.stop().await;
        }
        self.claim = None;
        self.problem = None;
    }

    fn status(&self, settings: ApiSettings) -> ApiStatus {
        let listening = self.server.as_ref().map(|(server, _)| server.url());
        let problem = if settings.enabled && listening.is_none() {
            self.problem.clone()
        } else {
            None
        };
        ApiStatus {
            settings,
            listening,
            problem,
        }
    }
}

/// Whether a server started with `serving` also serves `wanted` as it asks.
fn same_server(serving: &ApiSettings, wanted: &ApiSettings) -> bool {
    ApiSettings {
        keep_history: wanted.keep_history,
        ..serving.clone()
    } == *wanted
}

fn host(caller: &tauri::Window) -> ApiHost {
    caller.state::<ApiHost>().inner().clone()
}

/// Where the local API stands.
pub(super) async fn status(app: &App, caller: &tauri::Window) -> Result<ApiStatus, AppError> {
    host(caller).status(app).await
}

/// Keeps the API's settings, then serves as they say.
pub(super) async fn set_settings(
    app: &Arc<App>,
    caller: &tauri::Window,
    settings: ApiSettings,
) -> Result<ApiStatus, AppError> {
    let settings = app.api().set_settings(settings).await?;
    host(caller).keep(app, settings).await
}

/// Replaces the key and restarts the server, so that the old key is refused from now on.
pub(super) async fn regenerate_key(
    app: &Arc<App>,
    caller: &tauri::Window,
) -> Result<ApiStatus, AppError> {
    let settings = app.api().regenerate_key().await?;
    host(caller).keep(app, settings).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_server_reads_restarts_it() {
        let on = ApiSettings {
            enabled: true,
            key: "oa-sk-1".into(),
            ..ApiSettings::default()
        };
        let keeping = ApiSettings {
            keep_history: true,
            ..on.clone()
        };
        assert!(same_server(&on, &keeping));
        for changed in [
            ApiSettings {
                port: 5000,
                ..on.clone()
            },
            ApiSettings {
                key: "oa-sk-2".into(),
                ..on.clone()
            },
            ApiSettings {
                beyond_loopback: true,
                ..on.clone()
            },
            ApiSettings {
                allowed_origins: vec!["http://localhost:3000".into()],
                ..on.clone()
            },
        ] {
            assert!(!same_server(&on, &changed), "{changed:?}");
        }
    }
}
