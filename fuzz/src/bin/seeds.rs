//! Writes the seed corpora of the fuzz targets, `corpus/<target>/`, from the test fixtures:
//! `seeds <corpus dir>` (run.sh calls it). Model files are rewritten with one block per tensor
//! (same metadata, names and types) so the seeds are a few KB and mutations land in headers;
//! the smallest real files are copied too.

use std::path::{Path, PathBuf};

use anytune_core::formats::safetensors_write::SafetensorsWriter;
use anytune_core::formats::{GgufFile, GgufWriter, SafetensorsFile};
use anytune_core::lora::{LoraConfig, LoraWeights};
use anytune_core::quant::GgmlType;
use anytune_fuzz::{CHATML, SEP, tiny_model};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data");

/// Chat templates beyond ChatML: Llama-3 style headers, and one using the transformers
/// extras (raise_exception, strip, startswith, loop.first/last, tojson, namespace).
const TEMPLATES: [&str; 2] = [
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n\
     {{ m['content'] | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}\
     <|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}",
    "{%- set ns = namespace(sys='') -%}\n{%- for m in messages -%}\n\
     {%- if m.role == 'system' %}{% set ns.sys = m.content.strip() %}\n\
     {%- elif m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role ' + m.role) }}\n\
     {%- else %}[{{ loop.index }}{% if loop.first %} first{% endif %}{% if loop.last %} last{% endif %}]\
     {{ m.role.upper() }}: {{ m.content if not m.content.startswith('/') else m.content.split(' ') | tojson }}\n\
     {%- endif %}\n{%- endfor -%}\n{{ ns.sys }}{{ messages | length }}{{ {'k': [1, none, true]} | tojson(indent=2) }}\
     {%- if add_generation_prompt %}ASSISTANT:{% endif %}",
];

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: seeds <corpus dir>"));
    gguf_seeds(&out.join("gguf"));
    safetensors_seeds(&out.join("safetensors"));
    adapter_seeds(&out);
    dataset_seeds(&out.join("dataset"));
    chat_seeds(&out.join("chat_template"));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Each GGUF fixture with every tensor cut to one block (1-D), and the smallest one as it is.
fn gguf_seeds(dir: &Path) {
    for name in ["tiny-llama-F32", "tiny-llama-F16", "tiny-llama-Q4_0", "tiny-llama-Q4_1", "tiny-llama-Q8_0", "tiny-qwen2-F32"] {
        let bytes = read(&format!("{FIXTURES}/{name}.gguf"));
        let g = GgufFile::parse(&bytes, name).unwrap();
        let mut w = GgufWriter::new();
        for (k, v) in &g.metadata {
            w.add_meta(k.clone(), v.clone()).unwrap();
        }
        for t in &g.tensors {
            let ty = GgmlType::from_id(t.ty_id, &t.name).unwrap();
            w.add_tensor(t.name.clone(), ty, &[ty.block_size()], vec![0; ty.block_bytes()]).unwrap();
        }
        write(dir, &format!("{name}-1block.gguf"), &w.to_bytes());
        if name == "tiny-llama-Q4_0" {
            write(dir, &format!("{name}.gguf"), &bytes);
        }
    }
}

/// Each safetensors fixture with every tensor cut to one element, and one real shard.
fn safetensors_seeds(dir: &Path) {
    for name in ["tiny-llama", "tiny-llama-bf16", "tiny-qwen2"] {
        let bytes = read(&format!("{FIXTURES}/{name}/model.safetensors"));
        let st = SafetensorsFile::parse(&bytes, name).unwrap();
        let mut w = SafetensorsWriter::new();
        for (k, v) in &st.metadata {
            w.set_metadata(k.clone(), v.clone());
        }
        for t in &st.tensors {
            let (dtype, size) = match t.ty_id {
                0 => ("F32", 4),
                1 => ("F16", 2),
                _ => ("BF16", 2),
            };
            w.add_tensor(t.name.clone(), dtype, &[1], vec![0; size]).unwrap();
        }
        write(dir, &format!("{name}-1elem.safetensors"), &w.to_bytes().unwrap());
    }
    let shards = format!("{FIXTURES}/tiny-llama-sharded");
    write(dir, "shard3.safetensors", &read(&format!("{shards}/model-00003-of-00003.safetensors")));
    write(dir, "index.json", &read(&format!("{shards}/model.safetensors.index.json")));
}

/// PEFT (`adapter_config.json`, NUL, `adapter_model.safetensors`) and GGUF LoRA adapters for
/// the tiny shape: the default (q, v; r 8) and all seven projections at r 2 on layer 1.
fn adapter_seeds(out: &Path) {
    let model = tiny_model();
    let mut all = LoraConfig::preset("all-linear").unwrap();
    all.r = 2;
    all.use_rslora = true;
    all.layers = anytune_core::lora::Layers::only(vec![1]);
    for (name, config) in [("qv", LoraConfig::default()), ("all-linear-r2", all)] {
        let w = LoraWeights::init(&config, &model, 1).unwrap();
        let mut peft = w.peft_config_json("tiny-llama").into_bytes();
        peft.push(SEP);
        peft.extend(w.peft_safetensors().unwrap());
        write(&out.join("peft"), &format!("{name}.peft"), &peft);
        write(&out.join("gguf_lora"), &format!("{name}.gguf"), &w.to_gguf(&model).unwrap());
    }
}

/// The dataset files: the first byte picks the extension (bits 0-1) and options (see the
/// dataset target); the test datasets as they are, truncated and packed, and a small file of
/// every container and shape.
fn dataset_seeds(dir: &Path) {
    let with = |b: u8, text: &[u8]| [&[b][..], text].concat();
    for (name, opts) in [("zorblax.jsonl", 0u8), ("zorblax_chat.jsonl", 0), ("zorblax_chat.jsonl", 0b0101_0100)] {
        write(dir, &format!("{opts:02x}-{name}"), &with(opts, &read(&format!("{DATA}/{name}"))));
    }
    let small: [(u8, &str); 7] = [
        (0, "{\"prompt\": \"Q: 2+2? A:\", \"completion\": \" 4\"}\n{\"text\": \"bad row\"}\n"),
        (0b1000_0100, "{\"instruction\": \"Translate.\", \"input\": \"bonjour\", \"output\": \"hello\"}\n{\"instruction\": \"Say hi.\", \"output\": \"hi\"}\n"),
        (1, "[{\"text\": \"one\"}, {\"text\": \"two\"}]"),
        (0b0010_0001, "[{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}, {\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}]"),
        (2, "First para\nline two.\n\n\n  \nSecond.\n\nThird."),
        (3, "prompt,completion\n\"Q: a, \"\"quoted\"\"?\",\" yes\"\nQ2,\" no\"\n"),
        (0b0101_1011, "id,Text\n1,hello\n2,\"multi\nline\"\n"),
    ];
    for (i, (opts, text)) in small.iter().enumerate() {
        write(dir, &format!("{opts:02x}-small{i}"), &with(*opts, text.as_bytes()));
    }
}

/// Templates, each followed by a system message, a user and an assistant turn.
fn chat_seeds(dir: &Path) {
    let messages = ["system\x01 Be brief. ", "/cmd a b", "ok"];
    for (i, t) in [CHATML].iter().chain(&TEMPLATES).enumerate() {
        let mut input = t.as_bytes().to_vec();
        for m in messages {
            input.push(SEP);
            input.extend_from_slice(m.as_bytes());
        }
        write(dir, &format!("template{i}"), &input);
    }
}
