//! Truncation, splitting, packing, the validation split, batching and resuming.

use super::*;

/// `n` prompt/completion rows; row i has a completion of i+1 words.
fn pc_rows(n: usize) -> String {
    (0..n).map(|i| format!("{{\"prompt\": \"row {i}:\", \"completion\": \"{}\"}}\n", " w".repeat(i + 1))).collect()
}

#[test]
fn truncation_counts_rows_and_tokens() {
    let text = pc_rows(6);
    let full = prep("d.jsonl", &text, &DataConfig::default()).unwrap();
    let cfg = DataConfig { max_seq_len: 6, ..DataConfig::default() };
    let d = prep("d.jsonl", &text, &cfg).unwrap();
    let over: Vec<usize> = full.train.iter().map(|e| e.ids.len().saturating_sub(6)).collect();
    assert_eq!(d.summary.truncated_rows, over.iter().filter(|&&o| o > 0).count());
    assert_eq!(d.summary.truncated_tokens, over.iter().sum::<usize>());
    assert!(d.summary.truncated_rows > 0);
    assert!(d.train.iter().all(|e| e.ids.len() <= 6));
    for (t, f) in d.train.iter().zip(&full.train) {
        assert_eq!(t.ids[..], f.ids[..t.ids.len()]);
    }
    assert!(
        d.summary.to_string().contains(&format!(
            "truncated: {} rows, {} tokens cut",
            d.summary.truncated_rows, d.summary.truncated_tokens
        ))
    );
}

#[test]
fn rows_whose_prompt_fills_max_seq_len_are_dropped_and_counted() {
    let text = "{\"prompt\": \"a very long prompt that goes on\", \"completion\": \"x\"}\n{\"prompt\": \"a\", \"completion\": \"b\"}";
    let d = prep("d.jsonl", text, &DataConfig { max_seq_len: 4, ..DataConfig::default() }).unwrap();
    assert_eq!((d.summary.dropped_rows, d.train.len()), (1, 1));
}

#[test]
fn long_text_rows_are_split_into_windows_not_truncated() {
    let words: String = (0..40).map(|i| format!("w{i} ")).collect();
    let cfg = DataConfig { max_seq_len: 16, ..DataConfig::default() };
    let d = prep("d.jsonl", &format!("{{\"text\": \"{words}\"}}"), &cfg).unwrap();
    let whole = prep("d.jsonl", &format!("{{\"text\": \"{words}\"}}"), &DataConfig::default()).unwrap();
    assert_eq!(d.summary.truncated_rows, 0);
    assert_eq!(d.summary.split_rows, d.train.len() - 1);
    assert!(d.train.len() > 2 && d.train.iter().all(|e| e.ids.len() <= 16));
    // Every target of the whole row is a target exactly once over the windows.
    assert_eq!(d.summary.trained_tokens, whole.summary.trained_tokens);
    let rejoined: Vec<u32> =
        d.train.iter().enumerate().flat_map(|(i, e)| e.ids[usize::from(i > 0)..].to_vec()).collect();
    assert_eq!(rejoined, whole.train[0].ids);
}

#[test]
fn packing_fills_rows_and_keeps_the_trained_tokens() {
    let text = pc_rows(12);
    let plain = prep("d.jsonl", &text, &DataConfig { max_seq_len: 32, ..DataConfig::default() }).unwrap();
    let cfg = DataConfig { max_seq_len: 32, pack: true, ..DataConfig::default() };
    let d = prep("d.jsonl", &text, &cfg).unwrap();
    assert!(d.summary.packed && d.train.len() < plain.train.len());
    assert!(d.train.iter().all(|e| e.ids.len() <= 32 && e.ids.len() == e.loss_mask.len()));
    assert_eq!(d.summary.trained_tokens, plain.summary.trained_tokens);
    // Examples end with EOS, so no separator is added: the packed ids are the examples in order.
    let packed: Vec<u32> = d.train.iter().flat_map(|e| e.ids.clone()).collect();
    let orig: Vec<u32> = plain.train.iter().flat_map(|e| e.ids.clone()).collect();
    assert_eq!(packed, orig);
    // Chunks are greedy: the next example would not have fitted.
    for (k, row) in d.train.iter().enumerate().take(d.train.len() - 1) {
        let next = &d.train[k + 1];
        let first_next = plain.train.iter().find(|e| next.ids.starts_with(&e.ids)).unwrap();
        assert!(row.ids.len() + first_next.ids.len() > 32);
    }
}

#[test]
fn packing_inserts_eos_between_examples_without_one() {
    let ex = |ids: Vec<u32>| Example { loss_mask: vec![true; ids.len()], ids, label: None };
    let rows = shape::pack(vec![ex(vec![1, 2]), ex(vec![3, 319]), ex(vec![4, 5])], 10, Some(319));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].ids, vec![1, 2, 319, 3, 319, 4, 5]);
    assert_eq!(rows[0].loss_mask, vec![false, true, false, false, true, false, true]);
}

#[test]
fn val_split_is_seeded_and_deterministic() {
    let text = pc_rows(20);
    let cfg = |seed| DataConfig { val_split: 0.2, seed, ..DataConfig::default() };
    let a = prep("d.jsonl", &text, &cfg(1)).unwrap();
    let b = prep("d.jsonl", &text, &cfg(1)).unwrap();
    let c = prep("d.jsonl", &text, &cfg(2)).unwrap();
    assert_eq!((a.train.len(), a.val.len()), (16, 4));
    assert_eq!(a.val, b.val);
    assert_ne!(a.val, c.val);
    let all = prep("d.jsonl", &text, &DataConfig::default()).unwrap().train;
    assert!(a.val.iter().chain(&a.train).all(|e| all.contains(e)));
    assert!(a.val.iter().all(|e| !a.train.contains(e)));
    assert!(prep("d.jsonl", &text, &DataConfig { val_split: 1.0, ..DataConfig::default() }).is_err());
}

#[test]
fn a_split_may_not_leave_fewer_training_rows_than_validation_rows() {
    // Half of 20 rows is allowed; 0.95 (19 validation rows, 1 training row) is refused by name.
    let split = |val_split, rows| prep("d.jsonl", &pc_rows(rows), &DataConfig { val_split, ..DataConfig::default() });
    let half = split(0.5, 20).unwrap();
    assert_eq!((half.train.len(), half.val.len()), (10, 10));
    let err = split(0.95, 20).unwrap_err().to_string();
    assert!(err.starts_with("invalid val_split: ") && err.contains("[0, 0.5]"), "{err}");
    // Rounding up can tip a split of few rows over: 0.5 of 3 rows holds out 2 and keeps 1.
    let err = split(0.5, 3).unwrap_err().to_string();
    assert!(err.contains("holds out 2 for validation and leaves 1 for training"), "{err}");
}

#[test]
fn val_file_is_read_separately() {
    let (t, v) = (pc_rows(5), "{\"text\": \"held out\"}");
    let d = prepare(
        DataFile { bytes: t.as_bytes(), name: "t.jsonl" },
        Some(DataFile { bytes: v.as_bytes(), name: "v.txt" }),
        tiny(),
        None,
        &DataConfig::default(),
    )
    .unwrap();
    assert_eq!((d.train.len(), d.val.len()), (5, 1));
    assert_eq!(d.summary.val_file.as_ref().unwrap().1.container, Container::PlainText);
    let cfg = DataConfig { val_split: 0.1, ..DataConfig::default() };
    let e = prepare(
        DataFile { bytes: t.as_bytes(), name: "t.jsonl" },
        Some(DataFile { bytes: v.as_bytes(), name: "v.txt" }),
        tiny(),
        None,
        &cfg,
    );
    assert!(e.unwrap_err().to_string().contains("not both"));
}

#[test]
fn batches_have_next_token_targets_and_padding() {
    let rows = vec![
        Example { ids: vec![10, 11, 12, 13], loss_mask: vec![false, false, true, true], label: None },
        Example { ids: vec![20, 21], loss_mask: vec![true, true], label: None },
    ];
    let mut b = Batcher::new(&rows, 3, Padding::Longest, 0, 0, false).unwrap();
    let batch = b.next_batch();
    assert_eq!((batch.b, batch.t, batch.n_targets), (3, 4, 3));
    assert_eq!(batch.inputs, vec![10, 11, 12, 13, 20, 21, 0, 0, 0, 0, 0, 0]);
    let i = IGNORE;
    assert_eq!(batch.targets, vec![i, 12, 13, i, 21, i, i, i, i, i, i, i]);
    let fixed = Batcher::new(&rows, 1, Padding::Fixed(6), 0, 0, false).unwrap().next_batch();
    assert_eq!(fixed.t, 6);
    assert!(Batcher::new(&rows, 1, Padding::Fixed(3), 0, 0, false).is_err());
}

#[test]
fn batch_order_is_seeded_and_resumable() {
    let rows: Vec<Example> =
        (0..10u32).map(|i| Example { ids: vec![i, i + 100], loss_mask: vec![true, true], label: None }).collect();
    let ids = |b: &Batch| b.rows.clone();
    let run = |seed| {
        Batcher::new(&rows, 3, Padding::Longest, 0, seed, true).unwrap().take(12).map(|b| ids(&b)).collect::<Vec<_>>()
    };
    let (a, a2, c) = (run(7), run(7), run(8));
    assert_eq!(a, a2);
    assert_ne!(a, c);
    // Each epoch (4 batches, the last with 1 row) covers every row once, in a new order.
    let epoch = |e: usize| a[e * 4..e * 4 + 4].concat();
    for e in 0..3 {
        let mut seen = epoch(e);
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }
    assert_ne!(epoch(0), epoch(1));
    // Save the position after 6 batches, restore it in a fresh batcher: same continuation.
    let mut b = Batcher::new(&rows, 3, Padding::Longest, 0, 7, true).unwrap();
    (0..6).for_each(|_| drop(b.next_batch()));
    let saved = serde_json::to_string(&b.position()).unwrap();
    assert_eq!(b.position(), DataPosition { epoch: 1, index: 6 });
    let mut r = Batcher::new(&rows, 3, Padding::Longest, 0, 7, true).unwrap();
    r.seek(serde_json::from_str(&saved).unwrap()).unwrap();
    assert_eq!(r.take(6).map(|b| ids(&b)).collect::<Vec<_>>(), a[6..12].to_vec());
    assert!(
        Batcher::new(&rows, 3, Padding::Longest, 0, 7, true)
            .unwrap()
            .seek(DataPosition { epoch: 0, index: 11 })
            .is_err()
    );
}

#[test]
fn no_training_rows_says_why_and_what_to_do() {
    let text = "{\"prompt\": \"a very long prompt that goes on\", \"completion\": \"x\"}\n\
                {\"prompt\": \"another long prompt that also goes on\", \"completion\": \"y\"}";
    let e = prep("d.jsonl", text, &DataConfig { max_seq_len: 4, ..DataConfig::default() }).unwrap_err().to_string();
    assert!(e.starts_with("d.jsonl: no training rows: all 2 rows were dropped"), "{e}");
    assert!(e.contains("at least max_seq_len (4) tokens") && e.contains("--max-seq-len"), "{e}");
}

/// A row far longer than `max_seq_len` can use is cut before tokenizing: the sequence is the one
/// the whole row gives, and the cut is reported.
#[test]
fn long_rows_are_cut_before_tokenizing() {
    let long = "many words of a long completion ".repeat(20_000); // 640 KB
    let cfg = DataConfig { max_seq_len: 32, ..DataConfig::default() };
    let text = format!("{{\"prompt\": \"Q:\", \"completion\": \"{long}\"}}");
    let d = prep("d.jsonl", &text, &cfg).unwrap();
    let budget = crate::data::cut::text_budget(tiny(), 32);
    assert!(budget < 10_000, "{budget}");
    assert_eq!(d.summary.untokenized_bytes, "Q:".len() + long.len() - budget);
    assert_eq!(d.summary.truncated_rows, 1);
    assert_eq!(d.train[0].ids, [enc("Q:"), enc(&long)].concat()[..32]);
    assert!(d.summary.to_string().contains("bytes of text past the longest sequence, not tokenized"));
    // Chat rows are cut before the template renders them.
    let chat = format!(
        "{{\"messages\": [{{\"role\": \"user\", \"content\": \"{long}\"}}, \
         {{\"role\": \"assistant\", \"content\": \"ok\"}}]}}"
    );
    let template = chatml();
    let render = template_renderer(&template, tiny());
    let d = prepare(DataFile { bytes: chat.as_bytes(), name: "c.jsonl" }, None, tiny(), Some(&render), &cfg);
    let e = d.unwrap_err().to_string(); // the cut user turn fills max_seq_len: the row is dropped
    assert!(e.contains("no training rows: all 1 rows were dropped"), "{e}");
}

/// Text rows keep all their text: tokenized in 64 KiB pieces, they give the ids of the whole.
#[test]
fn long_text_rows_are_tokenized_in_pieces_with_the_same_ids() {
    let long: String = (0..30_000).map(|i| format!("w{} {}  x, ", i % 97, i % 13)).collect(); // ~330 KB
    let cfg = DataConfig { max_seq_len: 1 << 20, ..DataConfig::default() };
    let d = prep("d.jsonl", &format!("{{\"text\": \"{long}\"}}"), &cfg).unwrap();
    let mut whole = enc(&long);
    whole.extend(tiny().eos.as_ref().map(|e| e.id));
    assert_eq!(d.summary.untokenized_bytes, 0);
    assert_eq!(d.train[0].ids, whole);
}
