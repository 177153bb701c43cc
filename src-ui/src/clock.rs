//! The browser's clock: waiting without blocking, and the local time zone.

use wasm_bindgen::prelude::*;

/// Resolves after `ms` milliseconds (a `setTimeout` behind a promise).
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scheduled = web_sys::window().map(|window| {
            window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
        });
        if !matches!(scheduled, Some(Ok(_))) {
            // No timer to wait on: carry on at once rather than hang.
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Minutes to add to local time to get UTC (what the app counts days and streaks in).
pub fn tz_offset_minutes() -> i32 {
    js_sys::Date::new_0().get_timezone_offset() as i32
}
