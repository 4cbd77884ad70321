//! Chat rows: assistant spans found by prefix rendering, with ChatML and SmolLM2's template.

use super::*;

const CONVO: &str = r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Kettle colour?"}, {"role": "assistant", "content": "Teal."}, {"role": "user", "content": "Capacity?"}, {"role": "assistant", "content": "1.7 litres."}]}"#;

fn with(tok: &Tokenizer, t: &ChatTemplate, text: &str, cfg: &DataConfig) -> Result<Dataset> {
    let render = template_renderer(t, tok);
    prepare(DataFile { bytes: text.as_bytes(), name: "chat.jsonl" }, None, tok, Some(&render), cfg)
}

#[test]
fn chatml_mask_covers_assistant_content_and_end_of_turn() {
    let d = with(tiny(), &chatml(), CONVO, &DataConfig::default()).unwrap();
    assert_eq!(d.summary.format.shape, Shape::Messages);
    assert_eq!(d.summary.mask_fallback_rows, 0);
    assert_eq!(trained_runs(tiny(), &d.train[0]), vec!["Teal.<|im_end|>", "1.7 litres.<|im_end|>"]);
    // The ids are the tokenization of the rendered conversation.
    let text = tiny().decode(&d.train[0].ids, false).unwrap();
    assert!(
        text.starts_with("<|im_start|>system\nBe brief.<|im_end|>\n") && text.ends_with("litres.<|im_end|>\n"),
        "{text}"
    );
}

#[test]
fn smollm2_template_mask_is_exactly_the_assistant_turns() {
    let Some((tok, t)) = smollm() else { return };
    // Without a system message the template inserts its default one; spans must still line up.
    let text = CONVO.replace(r#"{"role": "system", "content": "Be brief."}, "#, "");
    let d = with(tok, t, &text, &DataConfig::default()).unwrap();
    let ex = &d.train[0];
    assert_eq!(trained_runs(tok, ex), vec!["Teal.<|im_end|>", "1.7 litres.<|im_end|>"]);
    let rendered = t
        .render(
            &[
                Message::user("Kettle colour?"),
                Message::assistant("Teal."),
                Message::user("Capacity?"),
                Message::assistant("1.7 litres."),
            ],
            false,
            "<|im_start|>",
            "<|im_end|>",
        )
        .unwrap();
    assert!(rendered.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"));
    assert_eq!(
        ex.ids,
        tok.encode(&rendered, false).unwrap(),
        "segment-wise tokenization equals whole-text tokenization"
    );
    // "<|im_end|>" (id 2) is trained, the "\n" (id 198) after it is not.
    let trained_eot: Vec<usize> = (0..ex.ids.len()).filter(|&p| ex.ids[p] == 2 && ex.loss_mask[p]).collect();
    assert_eq!(trained_eot.len(), 2);
    for p in trained_eot {
        assert_eq!(ex.ids[p + 1], 198);
        assert!(!ex.loss_mask[p + 1]);
    }
}

#[test]
fn template_that_rewrites_history_falls_back_to_all_tokens() {
    // Renders the last message differently from earlier ones, so prefixes do not line up.
    let t = ChatTemplate::new(
        "{% for m in messages %}{% if loop.last %}[last]{% endif %}<{{ m.role }}>{{ m.content }}{% endfor %}\
         {% if add_generation_prompt %}<assistant>{% endif %}",
    )
    .unwrap();
    let d = with(tiny(), &t, CONVO, &DataConfig::default()).unwrap();
    assert_eq!(d.summary.mask_fallback_rows, 1);
    assert!(d.train[0].loss_mask.iter().all(|&m| m));
    assert!(d.summary.to_string().contains("1 chat rows trained on all tokens"));
}

#[test]
fn turn_without_a_stop_token_gets_eos() {
    let t = ChatTemplate::new("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}").unwrap();
    let d = with(
        tiny(),
        &t,
        r#"{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}"#,
        &DataConfig::default(),
    )
    .unwrap();
    assert_eq!(trained_runs(tiny(), &d.train[0]), vec!["yo\n<|im_end|>"]);
}

#[test]
fn train_on_everything_trains_user_turns_too() {
    let cfg = DataConfig { train_on_everything: true, ..DataConfig::default() };
    let d = with(tiny(), &chatml(), CONVO, &cfg).unwrap();
    assert!(d.train[0].loss_mask.iter().all(|&m| m));
    assert_eq!(d.summary.mask_fallback_rows, 0);
}

#[test]
fn chat_rows_without_a_template_are_an_error() {
    let e = prep("c.jsonl", CONVO, &DataConfig::default()).unwrap_err().to_string();
    assert!(e.starts_with("c.jsonl:1: chat rows need a chat template"), "{e}");
}

#[test]
fn template_exception_is_a_bad_row() {
    let t = ChatTemplate::new(
        "{% if messages[0].role == 'assistant' %}{{ raise_exception('must start with user') }}{% endif %}x",
    )
    .unwrap();
    let e = with(tiny(), &t, "{\"text\": 1}", &DataConfig::default()).unwrap_err().to_string();
    assert!(e.contains("chat.jsonl:1"), "{e}");
    let rows = "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}\n\
                {\"messages\": [{\"role\": \"assistant\", \"content\": \"b\"}]}";
    let e = with(tiny(), &t, rows, &DataConfig::default()).unwrap_err().to_string();
    assert!(e.starts_with("chat.jsonl:2: ") && e.contains("must start with user"), "{e}");
}

#[test]
fn sharegpt_rows_train_like_messages() {
    let sharegpt = r#"{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Kettle colour?"}, {"from": "gpt", "value": "Teal."}, {"from": "user", "value": "Capacity?"}, {"from": "assistant", "value": "1.7 litres."}]}"#;
    let s = with(tiny(), &chatml(), sharegpt, &DataConfig::default()).unwrap();
    let m = with(tiny(), &chatml(), CONVO, &DataConfig::default()).unwrap();
    assert_eq!(s.summary.format.shape, Shape::ShareGpt);
    assert_eq!(s.summary.format.name(), "JSONL, ShareGPT conversations rows");
    assert_eq!(s.train, m.train);
    assert_eq!(trained_runs(tiny(), &s.train[0]), vec!["Teal.<|im_end|>", "1.7 litres.<|im_end|>"]);
    let cfg = DataConfig { skip_bad_rows: true, ..DataConfig::default() };
    let bad = format!(
        "{sharegpt}\n{}\n{}\n{}",
        r#"{"conversations": [{"from": "bot", "value": "a"}]}"#,
        r#"{"conversations": [{"from": "human", "value": "a"}]}"#,
        r#"{"conversations": "hi"}"#
    );
    let d = with(tiny(), &chatml(), &bad, &cfg).unwrap();
    let reasons: Vec<&str> = d.summary.bad_rows.iter().map(|b| b.reason.as_str()).collect();
    assert!(reasons[0].starts_with("message 1: unknown from \"bot\" (expected \"system\", \"human\""), "{reasons:?}");
    assert!(reasons[1].starts_with("no assistant message"), "{reasons:?}");
    assert!(reasons[2].starts_with("\"conversations\" must be a list of {\"from\", \"value\"}"), "{reasons:?}");
}
