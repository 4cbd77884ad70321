use super::*;
use anytune_core::chat::{ChatTemplate, Message};

#[test]
fn gemma_fallback_template_renders_as_transformers() {
    // tests/golden/gemma3-chat.json: transformers' apply_chat_template(messages,
    // chat_template=<native/src/chat_templates/gemma3-it.jinja>, tokenize=False, add_generation_prompt=...)
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/golden/gemma3-chat.json")).unwrap();
    let (source, _) = find("gemma3-270m").unwrap().fallback_template.unwrap();
    let template = ChatTemplate::new(source).unwrap();
    let renders = golden["renders"].as_object().unwrap();
    assert_eq!(renders.len(), 4);
    for (name, r) in renders {
        let messages: Vec<Message> = r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| Message::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
            .collect();
        let add_gen = r["add_generation_prompt"].as_bool().unwrap();
        let got = template.render(&messages, add_gen, "<bos>", "<eos>").unwrap();
        assert_eq!(got, r["text"].as_str().unwrap(), "render {name}");
    }
    // Gemma's template refuses turns that do not alternate, by its own message.
    let err = template.render(&[Message::user("a"), Message::user("b")], true, "<bos>", "<eos>").unwrap_err();
    assert!(err.to_string().contains("Conversation roles must alternate"), "{err}");
}

#[test]
fn names_and_paths_resolve() {
    assert_eq!(MODELS[0].name, DEFAULT);
    assert!(find("gemma3-270m").is_some_and(|m| m.packages.len() == m.parts.len()));
    for m in MODELS {
        assert_eq!(m.packages.len(), m.parts.len(), "{}", m.name);
        assert_eq!(m.sha256.len(), 64, "{}", m.name);
    }
    // An existing path wins over a name; a missing one that is no name is refused with the names.
    let dir = std::env::temp_dir().join(format!("anytune-named-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("gemma3-270m")).unwrap();
    let here = dir.join("gemma3-270m");
    assert_eq!(resolve(Some(&here)).unwrap(), here);
    let err = resolve(Some(Path::new("gemma9-1b"))).unwrap_err().to_string();
    assert!(err.contains("--model gemma9-1b") && err.contains("smollm2-135m (default), gemma3-270m"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
