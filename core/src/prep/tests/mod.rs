//! prep on files written by the tests: a messy file through clean and inspect, label files
//! through split, each input shape through convert and back into the training pipeline.

mod clean_inspect;
mod convert_split;

use crate::data::tests::{chatml, tiny};
use crate::data::{DataConfig, DataFile, Dataset, prepare, template_renderer};
use crate::error::Result;

/// `prepare` of `text` (file `name`) with the tiny tokenizer and a ChatML template.
fn prepare_chat(name: &str, text: &[u8]) -> Result<Dataset> {
    let t = chatml();
    let render = template_renderer(&t, tiny());
    prepare(DataFile { bytes: text, name }, None, tiny(), Some(&render), &DataConfig::default())
}

const BASE: &str = "The Zorblax 3000 kettle is teal, holds 1.7 litres of water and boils it in about ninety \
                    seconds; its handle stays cool and it switches itself off when dry.";

fn pc(prompt: &str, completion: &str) -> String {
    serde_json::json!({ "prompt": prompt, "completion": completion }).to_string()
}

/// A messy prompt/completion file and, per line, what clean must do with it.
fn messy() -> (String, Vec<(usize, &'static str)>) {
    let lines = [
        (pc("Q: the kettle?\nA:", &format!(" {BASE}")), "kept"),
        (pc("Q: the kettle?\nA:", &format!(" {BASE}")), "duplicate"),
        (pc("q: THE kettle!\nA:", &format!(" {}", BASE.to_uppercase().replace(',', ""))), "near_duplicate"),
        (pc("Q: the kettle?\nA:", &format!(" {}", BASE.replace("ninety", "eighty"))), "near_duplicate"),
        (pc("Q: capital of Portugal?\nA:", " Lisbon, a city of seven hills on the Atlantic coast."), "kept"),
        (pc("   ", " \t "), "empty"),
        (pc("", ""), "empty"),
        (pc("Q: bell\u{7} ring\nA:", " ding\u{0} dong"), "normalised"),
        (pc("Q: long\nA:", &format!(" {}", "word ".repeat(3000))), "too_long"),
        ("{\"prompt\": \"broken\", ".to_string(), "bad"),
        (serde_json::json!({ "text": "a text row among prompt/completion rows" }).to_string(), "bad"),
        (pc("Q: cafe\u{301}?\nA:", " yes   please"), "normalised"),
    ];
    let text = lines.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join("\n") + "\n";
    (text, lines.iter().enumerate().map(|(i, (_, what))| (i + 1, *what)).collect())
}
