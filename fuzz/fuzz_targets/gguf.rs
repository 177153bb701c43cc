//! Arbitrary bytes as a model file: reading the header, validating it, building the tokenizer
//! and chat template from it and rendering a chat with that template must give a result or a
//! typed error, never a panic, a hang or a huge allocation.

#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use oa_engine::gguf::GgufFile;
use oa_engine::template::{ChatTemplate, TemplateMessage};
use oa_engine::tokenizer::ModelTokenizer;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.gguf");
    let Ok(gguf) = GgufFile::read(path, &mut Cursor::new(data), data.len() as u64) else {
        return;
    };
    if let Ok(tokenizer) = ModelTokenizer::from_gguf(&gguf) {
        let _ = tokenizer.encode("Hello, world! 123 <|im_start|>");
        if let Ok(template) = ChatTemplate::from_gguf(&gguf, "<s>", "</s>") {
            let _ = template.render(&[TemplateMessage::new("user", "Hello!")]);
        }
    }
});
