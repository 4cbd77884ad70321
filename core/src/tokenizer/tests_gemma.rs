//! Gemma's SentencePiece layout (`general.architecture` gemma3): a tiny vocabulary checked
//! against transformers, and the real Gemma 3 270M tokenizer against `tests/golden/gemma3-tokens.json`
//! (skipped when the model file is absent).

use super::*;
use crate::formats::{GgufFile, MetaValue, Metadata};

/// Control tokens, 256 byte tokens, then `pieces` (type 4 = user-defined). Scores fall with the
/// position except `bc`, which outranks `ab`: Gemma's merges follow the position, not the score.
fn tiny_gemma_meta() -> Metadata {
    let control = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>"];
    let pieces: [(&str, i32); 12] = [
        ("▁", 1), ("a", 1), ("b", 1), ("c", 1), ("x", 1), ("y", 1), ("ab", 1), ("bc", 1), ("  ", 4), ("\n", 4),
        ("▁a", 1), ("▁▁x", 1),
    ];
    let mut tokens: Vec<String> = control.iter().map(|t| t.to_string()).collect();
    tokens.extend((0..256).map(|b| format!("<0x{b:02X}>")));
    tokens.extend(pieces.iter().map(|(p, _)| p.to_string()));
    let types: Vec<i32> =
        [3, 3, 3, 2, 3].into_iter().chain(std::iter::repeat_n(6, 256)).chain(pieces.iter().map(|&(_, t)| t)).collect();
    let mut scores: Vec<f32> = std::iter::repeat_n(0.0, 261).chain((0..pieces.len()).map(|i| -(i as f32))).collect();
    scores[268] = 5.0; // "bc"
    let s = |v: &str| MetaValue::String(v.into());
    let mut meta = Metadata::new();
    meta.insert("general.architecture".into(), s("gemma3"));
    meta.insert("tokenizer.ggml.model".into(), s("llama"));
    meta.insert("tokenizer.ggml.tokens".into(), MetaValue::Array(tokens.iter().map(|t| s(t)).collect()));
    meta.insert("tokenizer.ggml.token_type".into(), MetaValue::Array(types.into_iter().map(MetaValue::I32).collect()));
    meta.insert("tokenizer.ggml.scores".into(), MetaValue::Array(scores.into_iter().map(MetaValue::F32).collect()));
    for (key, id) in [("bos", 2), ("eos", 1), ("unknown", 3), ("padding", 0)] {
        meta.insert(format!("tokenizer.ggml.{key}_token_id"), MetaValue::U32(id));
    }
    meta.insert("tokenizer.ggml.add_bos_token".into(), MetaValue::Bool(true));
    meta.insert("tokenizer.ggml.add_space_prefix".into(), MetaValue::Bool(false));
    meta
}

#[test]
fn gemma_layout_matches_transformers() {
    // The same vocabulary written with gguf-py (arch gemma3) and read back with
    // AutoTokenizer.from_pretrained(dir, gguf_file=...) (transformers 5.25):
    //   t.encode(text) and t.decode(ids, skip_special_tokens=True)
    let tok = Tokenizer::from_gguf(&tiny_gemma_meta(), "tiny-gemma.gguf").unwrap();
    let cases: &[(&str, &[u32], &str)] = &[
        ("abca", &[2, 267, 264, 262], "abca"), // merges by position: ab before bc
        ("bc ab", &[2, 268, 261, 267], "bc ab"),
        ("x  y", &[2, 265, 269, 266], "x  y"), // "  " is the token ▁▁, reached by BPE
        (" a", &[2, 271], " a"),               // no prefix space, and none stripped
        ("a\n\nb", &[2, 262, 270, 270, 263], "a\n\nb"),
        ("  x", &[2, 272], "  x"), // not cut at the user-defined "  ": ▁▁x is one token
        ("<start_of_turn>ab", &[2, 4, 267], "ab"),
        ("é", &[2, 200, 174], "é"),
    ];
    super::tests::check_cases(&tok, cases);
}

const GEMMA3: &str = "gemma-3-270m-q4_k_m.gguf";

/// Gemma 3 270M's tokenizer (`$ANYTUNE_GEMMA3_GGUF` or the cache), or `None` (reason printed).
fn gemma3() -> Option<Tokenizer> {
    let path = match std::env::var_os("ANYTUNE_GEMMA3_GGUF") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/anytune/models").join(GEMMA3),
    };
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("SKIPPED: {} not found", path.display());
        return None;
    };
    let gguf = GgufFile::parse(&bytes, GEMMA3).unwrap();
    Some(Tokenizer::from_gguf(&gguf.metadata, GEMMA3).unwrap())
}

#[test]
fn gemma3_encode_matches_transformers() {
    let Some(tok) = gemma3() else { return };
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/golden/gemma3-tokens.json")).unwrap();
    let bos = golden["bos_id"].as_u64().unwrap() as u32;
    assert_eq!(tok.bos.as_ref().map(|b| b.id), Some(bos));
    assert!(tok.add_bos);
    let entries = golden["texts"].as_array().unwrap().iter().chain(golden["heldout"].as_array().unwrap());
    let mut n = 0;
    for e in entries {
        let text = e["text"].as_str().unwrap();
        let want: Vec<u32> = e["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let got = tok.encode(text, false).unwrap();
        assert_eq!(got, want, "{text:?}");
        let with_bos = tok.encode(text, true).unwrap();
        assert_eq!(with_bos[0], bos);
        assert_eq!(&with_bos[1..], &want[..], "{text:?} with bos");
        assert_eq!(tok.decode(&got, false).unwrap(), e["decode"].as_str().unwrap(), "decode of {text:?}");
        let mut stream = tok.stream_decoder(false);
        let streamed: String = got.iter().map(|&id| stream.step(id).unwrap()).collect();
        assert_eq!(streamed, text, "streamed {text:?}");
        if let Some(split) = e.get("ids_special_as_text") {
            let split: Vec<u32> = split.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            assert_eq!(tok.decode(&split, false).unwrap(), text, "decode of {text:?} with specials as text");
        }
        n += 1;
    }
    assert_eq!(n, 16);
    assert!(tok.is_stop(tok.token_to_id("<end_of_turn>").unwrap()) && tok.is_stop(1));
}
