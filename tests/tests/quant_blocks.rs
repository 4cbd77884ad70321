//! Our dequantizers — the CPU references and the WGSL ones inside the kernels — against gguf-py's
//! (an independent implementation): 4 blocks of each quantized type from
//! tests/golden/quant-blocks.safetensors, and the first values of a Q5_0, Q4_K, Q6_K and Q8_0
//! tensor of the real Gemma 3 270M Q4_K_M file (tests/golden/gemma3-rows.safetensors). The CPU
//! evaluates the same expressions as gguf-py and must match to 1 ulp; the GPU path (embedding
//! gather of the 4 blocks as 4 rows) too, up to a fused multiply-add (rtol 1e-6).

use anytune_core::formats::GgufFile;
use anytune_core::gpu::{GpuTensor, Recorder};
use anytune_core::ops::embedding::{GpuIds, embedding_forward};
use anytune_core::quant::{GgmlType, dequant::dequantize};
use anytune_core::testing::assert_close;
use anytune_core::weights::Weight;
use anytune_tests::{Golden, test_gpu};

/// Every quantized type anytune computes with.
fn types() -> impl Iterator<Item = GgmlType> {
    GgmlType::ALL.into_iter().filter(|t| t.block_size() > 1)
}

#[test]
fn cpu_dequantizers_match_gguf_py() {
    let golden = Golden::open("golden/quant-blocks.safetensors");
    for ty in types() {
        let bytes = golden.u8(&format!("{}.bytes", ty.name()));
        let want = golden.f32(&format!("{}.values", ty.name()));
        // 4 blocks: our block layout is gguf-py's (GGML_QUANT_SIZES).
        assert_eq!((bytes.len(), want.len()), (4 * ty.block_bytes(), 4 * ty.block_size()), "{}", ty.name());
        let got = dequantize(ty, &bytes, want.len()).unwrap();
        assert_close(&got, &want, 0.0, 1.2e-7, &format!("CPU dequantize {}", ty.name()));
    }
}

#[test]
fn gpu_dequantization_matches_gguf_py() {
    let Some(gpu) = test_gpu() else { return };
    let golden = Golden::open("golden/quant-blocks.safetensors");
    for ty in types() {
        let bytes = golden.u8(&format!("{}.bytes", ty.name()));
        let want = golden.f32(&format!("{}.values", ty.name()));
        let (rows, cols) = (4, ty.block_size());
        assert_eq!(want.len(), rows * cols);
        let table = Weight::upload(gpu, ty.name(), ty, rows, cols, &bytes).unwrap();
        let ids = GpuIds::from_slice(gpu, &[0, 1, 2, 3]);
        let out = GpuTensor::zeros(gpu, &[rows, cols]);
        let mut rec = Recorder::new(gpu);
        embedding_forward(&mut rec, &ids, &table, &out).unwrap();
        let got = pollster::block_on(out.read(rec)).unwrap();
        assert_close(&got, &want, 0.0, 1e-6, &format!("GPU dequantize {}", ty.name()));
    }
}

/// The tensors of tests/golden/gemma3-rows.safetensors: name, type, values kept.
const GEMMA3_ROWS: [(&str, GgmlType, usize); 4] = [
    ("blk.0.attn_k.weight", GgmlType::Q5_0, 640),
    ("blk.0.attn_output.weight", GgmlType::Q4K, 256),
    ("blk.0.ffn_down.weight", GgmlType::Q6K, 256),
    ("blk.0.attn_v.weight", GgmlType::Q8_0, 64),
];

/// Real data: the golden bytes dequantize to gguf-py's values; when the Gemma 3 file is on this
/// machine, its tensors start with those bytes (and so dequantize to the same values).
#[test]
fn gemma3_tensors_dequantize_as_gguf_py() {
    let golden = Golden::open("golden/gemma3-rows.safetensors");
    for (name, ty, n) in GEMMA3_ROWS {
        let bytes = golden.u8(&format!("{name}.bytes"));
        let want = golden.f32(&format!("{name}.values"));
        assert_eq!(want.len(), n, "{name}");
        let got = dequantize(ty, &bytes, n).unwrap();
        assert_close(&got, &want, 0.0, 1.2e-7, &format!("CPU dequantize Gemma 3 {name} ({})", ty.name()));
    }
    let Some(home) = std::env::var_os("HOME") else {
        println!("SKIPPED (real file): HOME is not set");
        return;
    };
    let path = std::path::Path::new(&home).join(".cache/anytune/models/gemma-3-270m-q4_k_m.gguf");
    if !path.exists() {
        println!("SKIPPED (real file): {} does not exist", path.display());
        return;
    }
    let f = "gemma-3-270m-q4_k_m.gguf";
    let file = std::fs::read(&path).unwrap();
    let gguf = GgufFile::parse(&file, f).unwrap();
    for t in &gguf.tensors {
        // Every tensor of the file is of a type anytune computes with.
        t.ty(f).unwrap();
    }
    for (name, ty, n) in GEMMA3_ROWS {
        let t = gguf.tensor(name).unwrap();
        assert_eq!(t.ty(f).unwrap(), ty, "{name}");
        let bytes = &t.bytes(&file)[..n / ty.block_size() * ty.block_bytes()];
        assert_eq!(bytes, &golden.u8(&format!("{name}.bytes"))[..], "{name}: the file's bytes differ from the golden's");
        let got = dequantize(ty, bytes, n).unwrap();
        assert_close(&got, &golden.f32(&format!("{name}.values")), 0.0, 1.2e-7, &format!("CPU dequantize {f} {name}"));
    }
}
