//! Tokenizer tests against transformers (the ground truth). Expected ids were produced by
//! transformers 5.x with the snippets quoted at each test.

use std::sync::OnceLock;

use super::*;
use crate::formats::{GgufFile, MetaValue, Metadata};

const MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The default model's tokenizer, or `None` (reason printed) when the file is absent.
fn smollm() -> Option<&'static Tokenizer> {
    static TOK: OnceLock<Option<Tokenizer>> = OnceLock::new();
    TOK.get_or_init(|| {
        let home = std::env::var("HOME").unwrap_or_default();
        let path = std::path::Path::new(&home).join(".cache/anytune/models").join(MODEL);
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("SKIPPED: {} not found", path.display());
            return None;
        };
        let gguf = GgufFile::parse(&bytes, MODEL).unwrap();
        Some(Tokenizer::from_gguf(&gguf.metadata, MODEL).unwrap())
    })
    .as_ref()
}

// Expected ids from (Python, transformers 5.23):
//   t = AutoTokenizer.from_pretrained(dir, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
//   t.encode(text, add_special_tokens=True); assert t.decode(ids) == text
// They agree with SmolLM2's own tokenizer.json (Digits + ByteLevel pre-tokenizer) on all cases.
const SMOLLM_CASES: &[(&str, &str, &[u32])] = &[
    (
        "ascii",
        "The quick brown fox jumps over the lazy dog.",
        &[504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 30],
    ),
    ("digits", "12345 3.14159", &[33, 34, 35, 36, 37, 216, 35, 30, 33, 36, 33, 37, 41]),
    ("spaces", "a  b   c\n\n  d\t\te \n", &[81, 216, 278, 256, 265, 8866, 287, 197, 197, 85, 3717]),
    (
        "french",
        "Voilà, déjà l'été à Noël : où est-ce ?",
        &[
            70, 11458, 16739, 28, 32564, 90, 16739, 303, 23, 19380, 2756, 25782, 2838, 26547, 92, 1577, 263, 45586,
            1264, 29, 319, 9148,
        ],
    ),
    (
        "chinese",
        "你好，世界！今天天气很好。",
        &[
            18645, 250, 48392, 138, 12831, 7906, 240, 178, 239, 230, 8083, 219, 15076, 228, 18614, 119, 18614, 119,
            177, 125, 238, 29157, 226, 48392, 138, 19076,
        ],
    ),
    (
        "emoji",
        "Family: 👨‍👩‍👧‍👦 and 👍🏽!",
        &[
            22842, 42, 15107, 235, 118, 321, 231, 10813, 235, 119, 321, 231, 10813, 235, 117, 321, 231, 10813, 235,
            116, 284, 15107, 235, 231, 10813, 233, 138, 17,
        ],
    ),
    (
        "code",
        "def f(x):\n    if x > 0:\n        return x * 2\n    return None\n",
        &[
            1604, 275, 24, 104, 727, 472, 585, 1792, 2986, 216, 32, 42, 448, 1003, 1792, 1672, 216, 34, 472, 1003,
            1943, 198,
        ],
    ),
    ("special", "<|im_start|>user\nhi<|im_end|>", &[1, 4093, 198, 6004, 2]),
];

#[test]
fn smollm_encode_matches_transformers() {
    let Some(tok) = smollm() else { return };
    for (name, text, want) in SMOLLM_CASES {
        let got = tok.encode(text, true).unwrap();
        assert_eq!(&got, want, "case {name}: {text:?}");
        assert_eq!(tok.decode(&got, false).unwrap(), *text, "round trip of case {name}");
    }
}

#[test]
fn smollm_special_tokens_and_metadata() {
    let Some(tok) = smollm() else { return };
    assert_eq!(tok.vocab_size(), 49152);
    assert_eq!(tok.bos, Some(SpecialToken { id: 1, text: "<|im_start|>".into() }));
    assert_eq!(tok.eos, Some(SpecialToken { id: 2, text: "<|im_end|>".into() }));
    assert!(!tok.add_bos, "tokenizer.ggml.add_bos_token is false");
    assert_eq!(tok.stop_ids, vec![0, 2], "<|endoftext|> and <|im_end|>");
    assert!(tok.is_stop(2) && !tok.is_stop(1));
    assert_eq!(tok.id_to_token(504).unwrap(), "The");
    assert_eq!(tok.id_to_token(216).unwrap(), "Ġ");
    // Special tokens are skipped on request.
    assert_eq!(tok.decode(&[1, 4093, 198, 6004, 2], true).unwrap(), "user\nhi");
    let origin = &tok.chat_template.as_ref().unwrap().origin;
    assert_eq!(origin, "SmolLM2-135M-Instruct.Q4_1.gguf: tokenizer.chat_template");
}

#[test]
fn unknown_ids_are_errors_naming_id_and_vocab_size() {
    let Some(tok) = smollm() else { return };
    for err in [
        tok.decode(&[5, 49152], false).unwrap_err(),
        tok.id_to_token(70000).unwrap_err(),
        tok.stream_decoder(false).step(49152).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(msg.contains("49152 tokens") && (msg.contains("49152 is") || msg.contains("70000")), "{msg}");
    }
}

#[test]
fn stream_decoder_emits_whole_characters() {
    let Some(tok) = smollm() else { return };
    for (name, text, _) in SMOLLM_CASES {
        let ids = tok.encode(text, false).unwrap();
        let mut stream = tok.stream_decoder(false);
        let mut out = String::new();
        for &id in &ids {
            let piece = stream.step(id).unwrap();
            assert!(!piece.contains('\u{fffd}'), "case {name}: partial character in {piece:?}");
            out += &piece;
        }
        assert_eq!(out, *text, "case {name}");
    }
    // 👍 is four bytes over two tokens: nothing comes out until the second.
    let mut stream = tok.stream_decoder(false);
    assert_eq!(stream.step(15107).unwrap(), "");
    assert_eq!(stream.step(235).unwrap(), "");
    assert_eq!(stream.step(231).unwrap(), " 👍");
}

#[test]
fn smollm_chat_template_matches_transformers() {
    let Some(tok) = smollm() else { return };
    let t = crate::chat::ChatTemplate::from_source(tok.chat_template.as_ref().unwrap()).unwrap();
    let (bos, eos) = (tok.bos.as_ref().unwrap(), tok.eos.as_ref().unwrap());
    let got = t.render(&[crate::chat::Message::user("What is the capital of France?")], true, &bos.text, &eos.text);
    // t.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
    //                       tokenize=False, add_generation_prompt=True)
    let want = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
                <|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    assert_eq!(got.unwrap(), want);
}

#[test]
fn from_json_reexport_of_smollm_matches() {
    let Some(tok) = smollm() else { return };
    // tokenizer.json generated at test time from the GGUF (2 MB: not committed).
    let json = tok.inner().to_string(false).unwrap();
    let config = br#"{"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>", "special": true},
                      "add_bos_token": false, "chat_template": "{{ messages[0]['content'] }}"}"#;
    let tok2 = Tokenizer::from_json(json.as_bytes(), Some(config)).unwrap();
    for (name, text, want) in SMOLLM_CASES {
        assert_eq!(&tok2.encode(text, true).unwrap(), want, "case {name}");
    }
    assert_eq!(tok2.eos.as_ref().unwrap().id, 2);
    assert_eq!(tok2.stop_ids, tok.stop_ids);
    assert_eq!(tok2.chat_template.as_ref().unwrap().origin, "tokenizer_config.json: chat_template");
}

/// A hand-written Llama-3-shaped tokenizer.json (byte-level BPE, BOS from the post-processor).
/// Ids from `tokenizers.Tokenizer.from_str(TINY_JSON).encode(text).ids` (Python tokenizers 0.23).
const TINY_JSON: &str = include_str!("tiny_tokenizer.json");

#[test]
fn from_json_tiny_tokenizer() {
    let config = br#"{"bos_token": {"content": "<|begin_of_text|>"}, "eos_token": "<|eot_id|>",
        "chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "{{ bos_token }}hi"}]}"#;
    let tok = Tokenizer::from_json(TINY_JSON.as_bytes(), Some(config)).unwrap();
    assert!(tok.add_bos);
    assert_eq!(tok.encode("hello world!", true).unwrap(), [14, 12, 13, 3, 6, 2, 7, 8]);
    assert_eq!(tok.encode("hello world!", false).unwrap(), [12, 13, 3, 6, 2, 7, 8]);
    assert_eq!(tok.encode("<|eot_id|>hello", true).unwrap(), [14, 15, 12]);
    assert_eq!(tok.decode(&[14, 15, 12], false).unwrap(), "<|begin_of_text|><|eot_id|>hello");
    assert_eq!(tok.decode(&[14, 15, 12], true).unwrap(), "hello");
    assert_eq!(tok.vocab_size(), 16);
    assert_eq!(tok.stop_ids, [15]);
    assert_eq!(tok.chat_template.as_ref().unwrap().source, "{{ bos_token }}hi");
    let err = tok.decode(&[16], false).unwrap_err().to_string();
    assert!(err.contains("token id 16") && err.contains("16 tokens"), "{err}");

    // add_bos_token: false in the config overrides the post-processor, as transformers does.
    let no_bos = Tokenizer::from_json(
        TINY_JSON.as_bytes(),
        Some(br#"{"bos_token": "<|begin_of_text|>", "add_bos_token": false}"#),
    )
    .unwrap();
    assert!(!no_bos.add_bos);
    assert_eq!(no_bos.encode("hello", true).unwrap(), [12]);

    // Errors name the file.
    let bad = Tokenizer::from_json(TINY_JSON.as_bytes(), Some(br#"{"eos_token": "<nope>"}"#)).unwrap_err();
    assert!(bad.to_string().contains("\"<nope>\" is not in the vocabulary"), "{bad}");
    let bad = Tokenizer::from_json(b"{", None).unwrap_err();
    assert!(bad.to_string().starts_with("tokenizer.json:"), "{bad}");
}

/// Metadata of a tiny SentencePiece ("llama") vocabulary: control/unknown tokens, 256 byte
/// tokens, then `pieces` with scores 0, -1, -2, …
fn tiny_spm_meta() -> Metadata {
    let pieces = [
        "▁", "e", "h", "l", "o", "t", "w", "r", "d", "!", "é", "▁t", "he", "▁the", "▁h", "ll", "llo", "▁he", "▁hello",
        "▁w", "or", "▁wor", "ld", "▁world", "▁▁",
    ];
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    tokens.extend((0..256).map(|b| format!("<0x{b:02X}>")));
    tokens.extend(pieces.iter().map(|p| p.to_string()));
    let types: Vec<i32> =
        [2, 3, 3].into_iter().chain(std::iter::repeat_n(6, 256)).chain(pieces.iter().map(|_| 1)).collect();
    let scores: Vec<f32> = std::iter::repeat_n(0.0, 259).chain((0..pieces.len()).map(|i| -(i as f32))).collect();
    let mut meta = Metadata::new();
    let s = |v: &str| MetaValue::String(v.into());
    meta.insert("tokenizer.ggml.model".into(), s("llama"));
    meta.insert("tokenizer.ggml.tokens".into(), MetaValue::Array(tokens.iter().map(|t| s(t)).collect()));
    meta.insert("tokenizer.ggml.token_type".into(), MetaValue::Array(types.into_iter().map(MetaValue::I32).collect()));
    meta.insert("tokenizer.ggml.scores".into(), MetaValue::Array(scores.into_iter().map(MetaValue::F32).collect()));
    meta.insert("tokenizer.ggml.bos_token_id".into(), MetaValue::U32(1));
    meta.insert("tokenizer.ggml.eos_token_id".into(), MetaValue::U32(2));
    meta.insert("tokenizer.ggml.unknown_token_id".into(), MetaValue::U32(0));
    meta
}

#[test]
fn sentencepiece_gguf_matches_transformers() {
    // The same vocabulary written with gguf-py's GGUFWriter (tokenizer model "llama", no
    // add_bos_token key) and read back with AutoTokenizer.from_pretrained(dir, gguf_file=...):
    //   t.encode(text) and t.decode(ids, skip_special_tokens=True)
    let tok = Tokenizer::from_gguf(&tiny_spm_meta(), "tiny-spm.gguf").unwrap();
    assert!(tok.add_bos, "llama vocabularies add BOS unless the file says otherwise");
    let cases: &[(&str, &[u32], &str)] = &[
        ("hello world", &[1, 277, 282], "hello world"),
        (" the world!", &[1, 272, 282, 268], "the world!"),
        ("hello\nthé  wor", &[1, 277, 13, 264, 261, 269, 259, 280], "hello\nthé  wor"),
        ("<s>hello</s>", &[1, 1, 271, 275, 2], "hello"),
    ];
    check_cases(&tok, cases);
    assert_eq!(tok.stop_ids, [2]);
}

/// Each `(text, ids with BOS, decode skipping specials)`: encode, decode and stream-decode agree.
pub(super) fn check_cases(tok: &Tokenizer, cases: &[(&str, &[u32], &str)]) {
    for (text, want, decoded) in cases {
        let ids = tok.encode(text, true).unwrap();
        assert_eq!(&ids, want, "{text:?}");
        assert_eq!(tok.decode(&ids, true).unwrap(), *decoded, "{text:?}");
        let mut stream = tok.stream_decoder(true);
        let streamed: String = ids.iter().map(|&id| stream.step(id).unwrap()).collect();
        assert_eq!(streamed, *decoded, "streamed {text:?}");
    }
}

#[test]
fn gguf_errors_name_the_value() {
    let mut meta = tiny_spm_meta();
    meta.insert("tokenizer.ggml.model".into(), MetaValue::String("bert".into()));
    let err = Tokenizer::from_gguf(&meta, "x.gguf").unwrap_err().to_string();
    assert!(err.starts_with("x.gguf:") && err.contains("\"bert\""), "{err}");

    meta.insert("tokenizer.ggml.model".into(), MetaValue::String("gpt2".into()));
    meta.insert("tokenizer.ggml.merges".into(), MetaValue::Array(vec![]));
    meta.insert("tokenizer.ggml.pre".into(), MetaValue::String("mystery".into()));
    let err = Tokenizer::from_gguf(&meta, "x.gguf").unwrap_err().to_string();
    assert!(err.contains("tokenizer.ggml.pre = \"mystery\""), "{err}");

    meta.remove("tokenizer.ggml.model");
    let err = Tokenizer::from_gguf(&meta, "x.gguf").unwrap_err().to_string();
    assert!(err.contains("tokenizer.ggml.model is missing"), "{err}");
}

#[test]
fn per_token_arrays_must_have_one_entry_per_token() {
    let meta = tiny_spm_meta();
    let n = meta["tokenizer.ggml.tokens"].as_array().unwrap().len();
    for key in ["tokenizer.ggml.token_type", "tokenizer.ggml.scores"] {
        let mut m = meta.clone();
        let MetaValue::Array(items) = m.get_mut(key).unwrap() else { unreachable!() };
        items.truncate(10);
        let err = Tokenizer::from_gguf(&m, "x.gguf").unwrap_err().to_string();
        assert!(err.starts_with("x.gguf:") && err.contains(&format!("{key} has 10 entries for {n} tokens")), "{err}");
    }
    let mut m = meta.clone();
    m.insert("tokenizer.ggml.scores".into(), MetaValue::Array(vec![MetaValue::F32(f32::NAN); n]));
    let err = Tokenizer::from_gguf(&m, "x.gguf").unwrap_err().to_string();
    assert!(err.contains("tokenizer.ggml.scores[0] is NaN"), "{err}");
}

#[test]
fn gpt2_merges_must_be_two_tokens() {
    let s = |v: &str| MetaValue::String(v.into());
    let mut meta = Metadata::new();
    meta.insert("tokenizer.ggml.model".into(), s("gpt2"));
    meta.insert("tokenizer.ggml.tokens".into(), MetaValue::Array(["a", "b", "ab"].map(s).to_vec()));
    for bad in ["a b c", "ab", " b", "a "] {
        meta.insert("tokenizer.ggml.merges".into(), MetaValue::Array(vec![s("a b"), s(bad)]));
        let err = Tokenizer::from_gguf(&meta, "x.gguf").unwrap_err().to_string();
        assert!(err.contains(&format!("tokenizer.ggml.merges[1] = {bad:?} is not two tokens")), "{err}");
    }
    meta.insert("tokenizer.ggml.merges".into(), MetaValue::Array(vec![s("a b")]));
    assert_eq!(Tokenizer::from_gguf(&meta, "x.gguf").unwrap().vocab_size(), 3);
}

#[test]
fn merges_from_scores_follow_generate_merges() {
    // generate_merges({"a":0,"b":1,"ab":2,"ba":3,"aba":4}, {"a":0,"b":0,"ab":-1,"ba":-1,"aba":-0.5})
    // -> [('ab','a'), ('a','ba'), ('a','b'), ('b','a')]
    let tokens: Vec<String> = ["a", "b", "ab", "ba", "aba"].iter().map(|s| s.to_string()).collect();
    let scores = [0.0, 0.0, -1.0, -1.0, -0.5];
    let vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let merges = gguf_spm::merges_from_scores(&tokens, &scores, &vocab);
    let want = [("ab", "a"), ("a", "ba"), ("a", "b"), ("b", "a")];
    assert_eq!(merges, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn byte_level_pre_tokenizers_split_like_hf() {
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};
    // From Python tokenizers: Sequence([Split(Regex(<transformers' GGUF split for name>),
    // "isolated"), ByteLevel(False, use_regex=False)]).pre_tokenize_str(TEXT); smollm:
    // Sequence([Digits(True), ByteLevel(False)]); gpt2: ByteLevel(False).
    const TEXT: &str = "Hello world's 12345 ÉTÉ\n\n  x!!  ";
    let head = ["Hello", "Ġworld", "'s"];
    let cases: &[(&str, &[&str])] = &[
        ("llama-bpe", &["Ġ", "123", "45", "ĠÃīTÃī", "ĊĊ", "Ġ", "Ġx", "!!", "ĠĠ"]),
        ("qwen2", &["Ġ", "1", "2", "3", "4", "5", "ĠÃīTÃī", "ĊĊ", "Ġ", "Ġx", "!!", "ĠĠ"]),
        ("smollm", &["Ġ", "1", "2", "3", "4", "5", "ĠÃīTÃī", "ĊĊĠ", "Ġx", "!!", "ĠĠ"]),
        ("gpt2", &["Ġ12345", "ĠÃīTÃī", "ĊĊĠ", "Ġx", "!!", "ĠĠ"]),
    ];
    for (name, tail) in cases {
        let pre = gguf_vocab::byte_level_pre_tokenizer(name, "x.gguf").unwrap();
        let mut s = PreTokenizedString::from(TEXT);
        pre.pre_tokenize(&mut s).unwrap();
        let got: Vec<String> = s
            .get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(w, ..)| w.to_string())
            .collect();
        let want: Vec<&str> = head.iter().chain(tail.iter()).copied().collect();
        assert_eq!(got, want, "pre-tokenizer {name}");
    }
}
