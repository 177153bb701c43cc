//! Every call from the UI into the desktop app goes through this module.
//!
//! The app exposes its commands through `window.__TAURI__.core` (`withGlobalTauri` is on), so no
//! JavaScript package is bundled: `invoke` sends a command and `Channel` carries the stream of a
//! reply back. Values cross the boundary as plain JS objects in the wire format of `oa-types`, and
//! every failure, whatever its origin, comes back as an [`AppError`] whose message the UI can show.

use oa_types::{AppError, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `window.__TAURI__.core.invoke(cmd, args)`: a promise of the command's value that rejects
    /// with its error (an `AppError` object for this app's commands). Declared as returning the
    /// promise, not as `async`, so that a synchronous throw (no bridge) is an `Err` too.
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    fn tauri_invoke_promise(cmd: &str, args: JsValue) -> Result<js_sys::Promise, JsValue>;

    /// `window.__TAURI__.core.Channel`: the app pushes messages into it while a command runs.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"])]
    type Channel;

    #[wasm_bindgen(catch, constructor, js_namespace = ["window", "__TAURI__", "core"])]
    fn new() -> Result<Channel, JsValue>;

    #[wasm_bindgen(method, setter)]
    fn set_onmessage(this: &Channel, handler: &JsValue);

    /// `window.__TAURI__.event.listen(event, handler)`: a promise that resolves once the
    /// handler is registered.
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "event"], js_name = listen)]
    fn tauri_listen_promise(event: &str, handler: &JsValue) -> Result<js_sys::Promise, JsValue>;
}

/// Turns the command table into one typed async function per command: its arguments go as a
/// JSON object with camelCase keys (Tauri maps them to the command's parameters), a streaming
/// command's events to `on_event`, and the answer comes back as the table's type.
macro_rules! ui_client {
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
            ///
            /// A streaming command's handler belongs to the JS channel from the call on (it is
            /// freed with the channel): an event may trail the command's answer, so a caller
            /// ignores what arrives after it.
            pub async fn $name(
                $($arg: $ty,)*
                $($on_event: impl FnMut($event) + 'static,)?
            ) -> Result<$answer, AppError> {
                #[derive(Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Args {
                    $($arg: $ty,)*
                }
                let args = to_js(&Args { $($arg,)* })?;
                $(
                    // Tauri maps the camelCase key to the command's `on_event` parameter.
                    let channel: JsValue = channel::<$event>($on_event)?.into();
                    set_field(&args, "onEvent", &channel)?;
                )?
                call(stringify!($name), args).await
            }
        )*
    };
}

oa_types::app_commands!(ui_client);

/// Follows the app's event `event` for as long as the page lives: `on_event` receives each
/// payload. Settles once the handler is registered, so that a value read after it cannot miss
/// a change.
pub async fn listen<T: DeserializeOwned + 'static>(
    event: &str,
    mut on_event: impl FnMut(T) + 'static,
) -> Result<(), AppError> {
    let name = event.to_owned();
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |message: JsValue| {
        let payload = js_sys::Reflect::get(&message, &JsValue::from_str("payload"))
            .unwrap_or(JsValue::UNDEFINED);
        match serde_wasm_bindgen::from_value::<T>(payload) {
            Ok(value) => on_event(value),
            Err(e) => web_sys::console::error_1(&format!("unreadable {name} event: {e}").into()),
        }
    });
    // The handler stays registered for the page's life, so JS owns it from here.
    let promise = tauri_listen_promise(event, &handler.into_js_value()).map_err(from_js_error)?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(from_js_error)?;
    Ok(())
}

/// A channel the app pushes messages of type `T` into while a command runs; each goes to
/// `on_event`. The handler belongs to the JS channel from then on (it is freed when the channel
/// is), because messages may arrive after the command itself has returned.
fn channel<T: DeserializeOwned + 'static>(
    mut on_event: impl FnMut(T) + 'static,
) -> Result<Channel, AppError> {
    let channel = Channel::new().map_err(from_js_error)?;
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |message: JsValue| {
        match serde_wasm_bindgen::from_value::<T>(message) {
            Ok(event) => on_event(event),
            Err(e) => web_sys::console::error_1(&format!("unreadable event: {e}").into()),
        }
    });
    channel.set_onmessage(&handler.into_js_value());
    Ok(channel)
}

/// Runs a command and waits for its value.
async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue> {
    let promise = tauri_invoke_promise(cmd, args)?;
    wasm_bindgen_futures::JsFuture::from(promise).await
}

async fn call<T: DeserializeOwned>(cmd: &str, args: JsValue) -> Result<T, AppError> {
    let value = tauri_invoke(cmd, args).await.map_err(from_js_error)?;
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        AppError::new(
            ErrorCode::Internal,
            format!("The app sent an unexpected answer to `{cmd}`: {e}"),
        )
    })
}

/// Plain JS objects (not `Map`s), as `invoke` expects.
fn to_js(value: &impl Serialize) -> Result<JsValue, AppError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            AppError::new(
                ErrorCode::Internal,
                format!("Could not prepare the request: {e}"),
            )
        })
}

fn set_field(object: &JsValue, key: &str, value: &JsValue) -> Result<(), AppError> {
    js_sys::Reflect::set(object, &JsValue::from_str(key), value)
        .map(drop)
        .map_err(from_js_error)
}

/// Turns whatever a call threw or rejected with into an error the user can read: the app's own
/// `{code, message}`, a bare string, or a JS `Error` (e.g. when the page runs outside the app).
fn from_js_error(value: JsValue) -> AppError {
    if let Ok(error) = serde_wasm_bindgen::from_value::<AppError>(value.clone()) {
        return error;
    }
    if !bridge_present() {
        return AppError::new(
            ErrorCode::Internal,
            "The desktop bridge is missing: this page only works inside the Open Assistant app.",
        );
    }
    let message = value
        .as_string()
        .or_else(|| {
            js_sys::Reflect::get(&value, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "Something went wrong talking to the app.".to_owned());
    AppError::new(ErrorCode::Internal, message)
}

/// Whether `window.__TAURI__.core` exists.
fn bridge_present() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&window, &JsValue::from_str("__TAURI__"))
        .ok()
        .filter(|tauri| tauri.is_object())
        .and_then(|tauri| js_sys::Reflect::get(&tauri, &JsValue::from_str("core")).ok())
        .is_some_and(|core| core.is_object())
}
