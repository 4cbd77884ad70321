//! Classification (text/label) rows: detection, validation with line numbers, the label set,
//! the label-as-text prompts with and without a chat template, `--task classify`, and the
//! evaluation tasks built from them.

use super::*;
use crate::data::tasks::eval_tasks;

const ROWS: &str = "{\"text\": \"Great film.\", \"label\": \"pos\"}\n{\"text\": \"Dull plot.\", \"label\": \"neg\"}\n\
                    {\"text\": \"Loved it.\", \"label\": \" pos \"}\n";

#[test]
fn a_row_with_text_and_label_is_a_label_row_with_the_sorted_label_set() {
    let d = prep("s.jsonl", ROWS, &DataConfig::default()).unwrap();
    assert_eq!(d.summary.format, DatasetFormat { container: Container::Jsonl, shape: Shape::Label });
    assert_eq!(d.summary.labels, ["neg", "pos"]);
    assert!(d.summary.to_string().contains("labels (2): neg, pos"), "{}", d.summary);
    // Without a template: prompt "{text}\nLabel:", completion " {label}" + EOS trained.
    assert_eq!(d.train[0].ids, [enc("Great film.\nLabel:"), enc(" pos"), vec![319]].concat());
    assert_eq!(trained_runs(tiny(), &d.train[0]), [" pos<|im_end|>"]);
    assert_eq!(trained_runs(tiny(), &d.train[2]), [" pos<|im_end|>"], "labels are trimmed");
}

#[test]
fn with_a_chat_template_the_label_set_is_in_the_user_turn_and_the_label_is_the_answer() {
    let t = chatml();
    let render = template_renderer(&t, tiny());
    let d = prepare(DataFile { bytes: ROWS.as_bytes(), name: "s.jsonl" }, None, tiny(), Some(&render), &DataConfig::default())
        .unwrap();
    let text = tiny().decode(&d.train[1].ids, false).unwrap();
    assert_eq!(text, "<|im_start|>user\nDull plot.\n\nAnswer with one of: neg, pos.<|im_end|>\n<|im_start|>assistant\nneg<|im_end|>\n");
    assert_eq!(trained_runs(tiny(), &d.train[1]), ["neg<|im_end|>"]);
}

#[test]
fn csv_label_rows_and_bad_rows_name_their_line() {
    let csv = "text,label\n\"Great, really.\",pos\nBad.,neg\n";
    let d = prep("s.csv", csv, &DataConfig::default()).unwrap();
    assert_eq!(d.summary.format, DatasetFormat { container: Container::Csv, shape: Shape::Label });
    assert_eq!(d.summary.labels, ["neg", "pos"]);
    let e = prep("s.csv", "text,label\nGood.,pos\n,neg\nBad.,neg\n", &DataConfig::default()).unwrap_err();
    assert_eq!(e.to_string(), "s.csv:3: empty \"text\"");
    let e = prep("s.csv", "text,label\nGood.,pos\nBad.,\n", &DataConfig::default()).unwrap_err();
    assert_eq!(e.to_string(), "s.csv:3: empty \"label\"");
}

#[test]
fn jsonl_bad_label_rows_name_their_line() {
    let cases = [
        ("{\"text\": \"a\", \"label\": \"x\"}\n{\"label\": \"y\"}\n", "s.jsonl:2: missing field \"text\""),
        ("{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n", "s.jsonl:2: a text row in a file of text/label (classification) rows (mixed shapes; the shape was detected from the first row)"),
        ("{\"text\": \"a\", \"label\": \"x\"}\n\n{\"text\": \" \", \"label\": \"y\"}\n", "s.jsonl:3: empty \"text\""),
        ("{\"text\": \"a\", \"label\": [1]}\n", "s.jsonl:1: \"label\" must be a string or a whole number, found a list"),
        ("{\"text\": \"a\", \"label\": \"x\\ny\"}\n", "s.jsonl:1: \"label\" spans several lines; a label is one short line"),
    ];
    for (text, want) in cases {
        assert_eq!(prep("s.jsonl", text, &DataConfig::default()).unwrap_err().to_string(), want);
    }
    // Whole numbers and booleans are labels too.
    let d = prep("s.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": 0}\n", &DataConfig::default()).unwrap();
    assert_eq!(d.summary.labels, ["0", "1"]);
}

#[test]
fn a_label_set_of_one_or_too_many_labels_is_refused() {
    let e = prep("s.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n", &DataConfig::default()).unwrap_err().to_string();
    assert!(e.starts_with("s.jsonl: classification needs at least two distinct labels, found 1 (x)"), "{e}");
    let many: String = (0..=label::MAX_LABELS).map(|i| format!("{{\"text\": \"t\", \"label\": \"l{i}\"}}\n")).collect();
    let e = prep("s.jsonl", &many, &DataConfig::default()).unwrap_err().to_string();
    assert!(e.starts_with("s.jsonl: 101 distinct labels; classification takes at most 100"), "{e}");
}

#[test]
fn task_classify_refuses_rows_that_are_not_label_rows() {
    let cfg = DataConfig { require_labels: true, ..DataConfig::default() };
    let e = prep("d.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n", &cfg).unwrap_err().to_string();
    assert_eq!(e, "d.jsonl:1: --task classify needs \"text\" and \"label\" rows (classification), but this is a prompt/completion row");
    let e = prep("d.txt", "just some text\n", &cfg).unwrap_err().to_string();
    assert!(e.starts_with("d.txt:1: --task classify needs"), "{e}");
    assert_eq!(prep("s.jsonl", ROWS, &cfg).unwrap().summary.labels, ["neg", "pos"]);
}

#[test]
fn a_given_label_set_is_used_for_the_prompts_and_the_validation_file_uses_the_training_set() {
    let t = chatml();
    let render = template_renderer(&t, tiny());
    let cfg = DataConfig { labels: Some(vec!["neg".into(), "neutral".into(), "pos".into()]), ..DataConfig::default() };
    let d = prepare(DataFile { bytes: ROWS.as_bytes(), name: "s.jsonl" }, None, tiny(), Some(&render), &cfg).unwrap();
    assert!(tiny().decode(&d.train[0].ids, false).unwrap().contains("one of: neg, neutral, pos."));
    let val = "{\"text\": \"Meh.\", \"label\": \"meh\"}\n";
    let d = prepare(
        DataFile { bytes: ROWS.as_bytes(), name: "s.jsonl" },
        Some(DataFile { bytes: val.as_bytes(), name: "v.jsonl" }),
        tiny(),
        Some(&render),
        &DataConfig::default(),
    )
    .unwrap();
    assert_eq!(d.summary.labels, ["neg", "pos"]);
    assert!(tiny().decode(&d.val[0].ids, false).unwrap().contains("one of: neg, pos."));
}

#[test]
fn eval_tasks_give_one_candidate_per_label_and_answer_prompts() {
    let cfg = DataConfig::default();
    let tasks = eval_tasks(DataFile { bytes: ROWS.as_bytes(), name: "s.jsonl" }, tiny(), None, &cfg).unwrap();
    assert_eq!(tasks.labels, ["neg", "pos"]);
    assert_eq!(tasks.label_rows.len(), 3);
    let row = &tasks.label_rows[1];
    assert_eq!((row.line, row.gold.as_str()), (2, "neg"));
    let runs: Vec<Vec<String>> = row.candidates.iter().map(|c| trained_runs(tiny(), c)).collect();
    assert_eq!(runs, [vec![" neg<|im_end|>".to_string()], vec![" pos<|im_end|>".to_string()]]);
    // Prompt/completion rows: the prompt ids and the reference.
    let pc = "{\"prompt\": \"Q: colour?\\nA:\", \"completion\": \" teal\"}\n";
    let tasks = eval_tasks(DataFile { bytes: pc.as_bytes(), name: "p.jsonl" }, tiny(), None, &cfg).unwrap();
    assert_eq!(tasks.answers[0].prompt, enc("Q: colour?\nA:"));
    assert_eq!((tasks.answers[0].reference.as_str(), tasks.answers[0].reference_tokens), (" teal", enc(" teal").len() + 1));
    // Chat rows: the prompt is everything before the last assistant turn (with its header).
    let t = chatml();
    let render = template_renderer(&t, tiny());
    let chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n\
                {\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}, {\"role\": \"user\", \"content\": \"bye\"}]}\n";
    let tasks = eval_tasks(DataFile { bytes: chat.as_bytes(), name: "c.jsonl" }, tiny(), Some(&render), &cfg).unwrap();
    assert_eq!(tasks.answers.len(), 1, "a conversation ending with the user is no answer row");
    assert_eq!(tiny().decode(&tasks.answers[0].prompt, false).unwrap(), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    assert_eq!((tasks.answers[0].reference.as_str(), tasks.left_out), ("yo", 1));
}
