//! Helpers of the export tests: a fixture's files, an export's files as a model folder, a
//! written GGUF's metadata, a folder with its JSON files edited, and two models' tokenizers
//! compared (no GPU needed).

use anytune_core::chat::{ChatTemplate, Message};
use anytune_core::export::{ExportFormat, ExportOptions, ExportType, export};
use anytune_core::formats::{GgufFile, Metadata, ModelFiles, ModelFormat, read_model_path};
use anytune_core::tokenizer::Tokenizer;

/// The files of `tests/fixtures/<name>` (a GGUF file or a Hugging Face folder).
pub fn fixture(name: &str) -> ModelFiles {
    read_model_path(&super::repo_path(&format!("fixtures/{name}"))).unwrap()
}

/// `files` (no adapter) exported as `format` in F32, as the model folder it writes.
pub fn exported(files: &ModelFiles, format: ExportFormat) -> ModelFiles {
    let out = export(files, None, "no adapter", &ExportOptions { format, ty: ExportType::F32 }).unwrap();
    let mut written = ModelFiles::new();
    for (name, bytes) in out.files {
        written.add(&name, bytes);
    }
    written
}

/// The metadata of the GGUF file among `files`.
pub fn gguf_metadata(files: &ModelFiles) -> Metadata {
    let i = (0..files.len()).find(|&i| files.bytes(i).starts_with(b"GGUF")).expect("a GGUF file");
    GgufFile::parse(files.bytes(i), files.name(i)).unwrap().metadata
}

/// `files` with each JSON file `edit` names changed by it (`edit(name, json)` returns whether
/// it changed the file), and the files called `drop` left out.
pub fn edited(files: &ModelFiles, drop: &[&str], edit: impl Fn(&str, &mut serde_json::Value) -> bool) -> ModelFiles {
    let mut out = ModelFiles::new();
    for i in 0..files.len() {
        let name = files.name(i);
        if drop.contains(&name) {
            continue;
        }
        let mut bytes = files.bytes(i).to_vec();
        if name.ends_with(".json") {
            let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            if edit(name, &mut json) {
                bytes = serde_json::to_vec(&json).unwrap();
            }
        }
        out.add(name, bytes);
    }
    out
}

/// The tokenizer of the model in `files` (a GGUF's metadata, or a folder's tokenizer.json and
/// tokenizer_config.json), as `Model::load` builds it.
pub fn tokenizer_of(files: &ModelFiles) -> Tokenizer {
    match ModelFormat::detect(files).unwrap() {
        ModelFormat::Gguf { gguf, .. } => Tokenizer::from_gguf(&gguf.metadata, "model.gguf").unwrap(),
        ModelFormat::HuggingFace(hf) => {
            Tokenizer::from_json(hf.tokenizer_json.unwrap().as_bytes(), hf.tokenizer_config_json.as_deref().map(str::as_bytes)).unwrap()
        }
    }
}

/// Texts with words, runs of spaces, tabs and newlines, digits, special tokens of ChatML and
/// Gemma, and accented letters.
pub const TEXTS: [&str; 5] = [
    "Who makes the Zorblax 3000 kettle? Quillfeather, since 1987.",
    "  two  spaces\nand a tab\tthen 12345 digits\n\n\n",
    "<|im_start|>user hi<|im_end|>",
    "<start_of_turn>user\nthe tea<end_of_turn>\n",
    "naïve café — ünïcödé",
];

/// The models in `a` and `b` encode [`TEXTS`] (with and without special tokens) to the same ids,
/// decode them alike, and have the same BOS, EOS and rendered chat template.
pub fn same_tokenizer(a: &ModelFiles, b: &ModelFiles, what: &str) {
    let (ta, tb) = (tokenizer_of(a), tokenizer_of(b));
    for text in TEXTS {
        for special in [false, true] {
            let (x, y) = (ta.encode(text, special).unwrap(), tb.encode(text, special).unwrap());
            assert_eq!(x, y, "{what}: ids of {text:?} (special tokens {special})");
            assert_eq!(ta.decode(&x, false).unwrap(), tb.decode(&y, false).unwrap(), "{what}: decoding {text:?}");
        }
    }
    assert_eq!((&ta.bos, &ta.eos, ta.add_bos), (&tb.bos, &tb.eos, tb.add_bos), "{what}: BOS/EOS");
    let chat = [Message { role: "user".into(), content: "hi".into() }];
    let render = |t: &Tokenizer| {
        let text = |s: &Option<anytune_core::tokenizer::SpecialToken>| s.as_ref().map_or(String::new(), |s| s.text.clone());
        let template = t.chat_template.as_ref().map(|s| ChatTemplate::from_source(s).unwrap());
        template.map(|tpl| tpl.render(&chat, true, &text(&t.bos), &text(&t.eos)).unwrap())
    };
    assert_eq!(render(&ta), render(&tb), "{what}: chat template");
}
