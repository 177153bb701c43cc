//! Arbitrary text as a chat template, rendered with an arbitrary conversation: parsing and
//! rendering must give a prompt or a typed error, never a panic, a hang or a huge allocation
//! (the render's fuel and output cap bound both).

#![no_main]

use libfuzzer_sys::fuzz_target;
use oa_engine::template::{ChatTemplate, TemplateMessage};

fuzz_target!(|data: &[u8]| {
    // The template, then the messages, separated by NUL bytes.
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let source = parts.next().unwrap_or_default().to_owned();
    let Ok(template) = ChatTemplate::new(source, false, "<s>", "</s>") else {
        return;
    };
    let roles = ["system", "user", "assistant"];
    let messages: Vec<TemplateMessage> = parts
        .enumerate()
        .map(|(i, content)| TemplateMessage::new(roles[i % roles.len()], content))
        .collect();
    let _ = template.render(&messages);
});
