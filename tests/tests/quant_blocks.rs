//! Our dequantizers — the CPU references and the WGSL ones inside the kernels — against gguf-py's
//! (an independent implementation): 4 blocks of each quantized type from
//! tests/golden/quant-blocks.safetensors. The CPU evaluates the same expressions as gguf-py and
//! must match to 1 ulp; the GPU path (embedding gather of the 4 blocks as 4 rows) too, up to a
//! fused multiply-add (rtol 1e-6).

use anytune_core::gpu::{GpuTensor, Recorder};
use anytune_core::ops::embedding::{GpuIds, embedding_forward};
use anytune_core::quant::{GgmlType, dequant::dequantize};
use anytune_core::testing::assert_close;
use anytune_core::weights::Weight;
use anytune_tests::{Golden, test_gpu};

const TYPES: [GgmlType; 5] = [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q4K, GgmlType::Q6K];

#[test]
fn cpu_dequantizers_match_gguf_py() {
    let golden = Golden::open("golden/quant-blocks.safetensors");
    for ty in TYPES {
        let bytes = golden.u8(&format!("{}.bytes", ty.name()));
        let want = golden.f32(&format!("{}.values", ty.name()));
        let got = dequantize(ty, &bytes, want.len()).unwrap();
        assert_close(&got, &want, 0.0, 1.2e-7, &format!("CPU dequantize {}", ty.name()));
    }
}

#[test]
fn gpu_dequantization_matches_gguf_py() {
    let Some(gpu) = test_gpu() else { return };
    let golden = Golden::open("golden/quant-blocks.safetensors");
    for ty in TYPES {
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
