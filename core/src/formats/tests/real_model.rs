//! The real default model, when it is on this machine.

use crate::formats::{ModelFormat, read_model_path};
use crate::quant::GgmlType;

#[test]
fn real_smollm2_gguf() {
    let Some(home) = std::env::var_os("HOME") else {
        println!("SKIPPED: HOME is not set");
        return;
    };
    let path = std::path::Path::new(&home).join(".cache/anytune/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.exists() {
        println!("SKIPPED: {} does not exist", path.display());
        return;
    }
    let files = read_model_path(&path).unwrap();
    let ModelFormat::Gguf { file, gguf } = ModelFormat::detect(&files).unwrap() else { panic!("not GGUF") };
    let f = "SmolLM2-135M-Instruct.Q4_1.gguf";
    assert_eq!(gguf.file, f);
    assert_eq!(gguf.tensors.len(), 272);
    assert_eq!(gguf.require_usize("llama.block_count").unwrap(), 30);
    assert_eq!(gguf.get("general.architecture").and_then(|v| v.as_str()), Some("llama"));
    let emb = gguf.tensor("token_embd.weight").unwrap();
    assert_eq!((emb.ty(f).unwrap(), emb.shape.clone()), (GgmlType::Q8_0, vec![49152, 576]));
    let k = gguf.tensor("blk.0.attn_k.weight").unwrap();
    assert_eq!((k.ty(f).unwrap(), k.shape.clone()), (GgmlType::Q4_1, vec![192, 576]));
    assert_eq!(k.size, 192 * 576 / 32 * 20);
    for t in &gguf.tensors {
        assert_eq!(t.bytes(files.bytes(file)).len(), t.size);
        t.ty(f).unwrap();
    }
}
