//! Chat templates: the template source, then after each NUL byte one message (`role\x01content`,
//! or just the content with roles user, assistant, user, ...), compiled with
//! [`ChatTemplate::new`] and rendered with and without the generation prompt.
#![no_main]

use anytune_core::chat::{ChatTemplate, Message};
use anytune_fuzz::SEP;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split(SEP as char);
    let Some(source) = parts.next() else { return };
    let messages: Vec<Message> = parts
        .enumerate()
        .map(|(i, m)| match m.split_once('\x01') {
            Some((role, content)) => Message::new(role, content),
            None => Message::new(["user", "assistant"][i % 2], m),
        })
        .collect();
    let Ok(t) = ChatTemplate::new(source) else { return };
    let _ = t.render(&messages, true, "<s>", "</s>");
    let _ = t.render(&messages, false, "<s>", "</s>");
});
