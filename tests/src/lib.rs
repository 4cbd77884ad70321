//! Shared helpers of the integration tests: paths of fixtures and golden files, reading golden
//! tensors, and running a whole model to logits.

use anytune_core::formats::TensorInfo;
use anytune_core::gpu::{Gpu, Recorder};
use anytune_core::model::{KvCache, Model};
use std::collections::HashMap;
use std::path::PathBuf;

pub mod exports;

/// `tests/<rel>` inside the repository.
pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The tensors of a golden safetensors file, as raw bytes by name.
pub struct Golden {
    bytes: Vec<u8>,
    tensors: HashMap<String, TensorInfo>,
}

impl Golden {
    pub fn open(rel: &str) -> Golden {
        let path = repo_path(rel);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = anytune_core::formats::safetensors::SafetensorsFile::parse(&bytes, rel).unwrap();
        let tensors = file.tensors.into_iter().map(|t| (t.name.clone(), t)).collect();
        Golden { bytes, tensors }
    }

    fn raw(&self, name: &str) -> &[u8] {
        let t = self.tensors.get(name).unwrap_or_else(|| panic!("golden tensor {name} missing"));
        t.bytes(&self.bytes)
    }

    pub fn f32(&self, name: &str) -> Vec<f32> {
        self.raw(name).chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }

    pub fn i32_as_u32(&self, name: &str) -> Vec<u32> {
        self.raw(name).chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u32).collect()
    }

    /// Whether the file holds a tensor called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    pub fn u8(&self, name: &str) -> Vec<u8> {
        self.raw(name).to_vec()
    }
}

/// Logits of every position of `ids` (T × V, row-major), one forward pass.
pub fn all_logits(gpu: &Gpu, model: &Model, ids: &[u32]) -> Vec<f32> {
    let mut cache = KvCache::new(gpu, &model.config, ids.len()).unwrap();
    let mut rec = Recorder::new(gpu);
    let hidden = model.forward(&mut rec, ids, &mut cache).unwrap();
    let logits = model.logits(&mut rec, &hidden, 0, ids.len()).unwrap();
    pollster::block_on(logits.read(rec)).unwrap()
}

/// The shared GPU, or `None` with a printed reason (the test then returns early).
pub use anytune_core::testing::test_gpu;

/// The default model (SmolLM2-135M-Instruct Q4_1), loaded once per test binary. Fetched into
/// the cache on first use (CI does that before the tests); `None` only without a GPU adapter.
pub fn smollm2() -> Option<&'static Model> {
    static MODEL: std::sync::OnceLock<Option<Model>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| {
            let gpu = test_gpu()?;
            let path = anytune::named_models::default_model_path().unwrap();
            Some(anytune::load::load_model(gpu, &path).unwrap())
        })
        .as_ref()
}

/// Gemma 3 270M base (Q4_K_M), the named model `gemma3-270m`, loaded once per test binary;
/// fetched into the cache on first use (CI does that before the tests).
pub fn gemma3() -> Option<&'static Model> {
    static MODEL: std::sync::OnceLock<Option<Model>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| {
            let gpu = test_gpu()?;
            let path = anytune::named_models::find("gemma3-270m").unwrap().path().unwrap();
            Some(anytune::load::load_model(gpu, &path).unwrap())
        })
        .as_ref()
}

/// A golden JSON file.
pub fn golden_json(rel: &str) -> serde_json::Value {
    let path = repo_path(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A JSON array of numbers as u32s.
pub fn json_ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// The `anytune` binary: `ANYTUNE_BIN`, or built now (cargo is quick when it is up to date)
/// in the profile of this test, next to this test's executable.
pub fn anytune_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("ANYTUNE_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(std::path::Path::parent).unwrap().to_path_buf(); // target/<profile>/deps/…
    let mut build = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.args(["build", "--quiet", "-p", "anytune", "--bin", "anytune"]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.current_dir(repo_path("..")).status().expect("running cargo build -p anytune");
    assert!(status.success(), "cargo build -p anytune failed");
    let bin = profile_dir.join("anytune");
    assert!(bin.exists(), "{} not found after building it (set ANYTUNE_BIN)", bin.display());
    bin
}

/// A copy of the tiny HF Llama in `dir/tiny-chat` with a ChatML chat template added to its
/// tokenizer_config.json (the fixture has none), for chat rows.
pub fn tiny_chat_model(dir: &std::path::Path) -> PathBuf {
    let model = dir.join("tiny-chat");
    std::fs::create_dir_all(&model).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(repo_path("fixtures/tiny-llama").join(f), model.join(f)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo_path("fixtures/tiny-llama/tokenizer_config.json")).unwrap()).unwrap();
    config["chat_template"] = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}{% endfor %}\
         {% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
        .into();
    std::fs::write(model.join("tokenizer_config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    model
}
