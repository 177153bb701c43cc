//! Copying text for the person, with a short "Copied" on the button that did it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::clock::sleep;

/// How long a button says "Copied".
const CONFIRM_MS: i32 = 1500;

/// Puts `text` on the clipboard. The asynchronous Clipboard API is tried first; where the
/// webview refuses it, a selected hidden text area and the copy command do the same.
pub fn copy(text: &str, button: Option<web_sys::Element>) {
    let text = text.to_owned();
    spawn_local(async move {
        let clipboard = window().navigator().clipboard();
        let copied = wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&text))
            .await
            .is_ok();
        if !copied {
            copy_with_selection(&text);
        }
        if let Some(button) = button {
            let _ = button.class_list().add_1("copied");
            sleep(CONFIRM_MS).await;
            let _ = button.class_list().remove_1("copied");
        }
    });
}

fn copy_with_selection(text: &str) {
    let document = document();
    let Ok(area) = document.create_element("textarea") else {
        return;
    };
    let Ok(area) = area.dyn_into::<web_sys::HtmlTextAreaElement>() else {
        return;
    };
    area.set_value(text);
    let _ = area.set_attribute("class", "offscreen");
    if let Some(body) = document.body() {
        let _ = body.append_child(&area);
        area.select();
        if let Ok(html) = document.clone().dyn_into::<web_sys::HtmlDocument>() {
            let _ = html.exec_command("copy");
        }
        area.remove();
    }
}
