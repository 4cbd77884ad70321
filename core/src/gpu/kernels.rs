//! The kernel table: every WGSL file in `shaders/` is loaded here, and only here, with
//! `include_str!`, so `grep` finds each kernel and its Rust caller. A [`Kernel`] is one entry
//! point of one shader (its sources concatenated, so shared helpers such as the GGUF dequantizers
//! are written once); compiled pipelines are cached per (kernel, override constants). A
//! kernel's variants that differ only in a leading precision file (the GPU family's `_F16`
//! tiled products) share its entry point name; the cache tells them apart by their sources.
//!
//! Binding convention for every kernel: `@binding(0)` is the kernel's uniform parameter struct
//! (mirrored by a `#[repr(C)]` Rust struct next to the op), then inputs, then outputs.

use std::collections::HashMap;
use std::sync::Mutex;

/// One compute entry point and the WGSL sources it is built from (concatenated in order).
#[derive(Debug)]
pub struct Kernel {
    /// Entry point, named after the op (`add_forward`).
    pub entry: &'static str,
    /// WGSL sources, concatenated; shared helpers first.
    pub sources: &'static [&'static str],
}

macro_rules! shader {
    ($file:literal) => {
        include_str!(concat!("../../../shaders/", $file))
    };
}

/// Residual add: `out = a + b`.
pub const ADD_FORWARD: Kernel = Kernel { entry: "add_forward", sources: &[shader!("add_forward.wgsl")] };

/// Saved activations into a layer's 16-bit store (f16 / bf16, two per word), four tensors at a time.
pub const SAVE16_PACK: Kernel =
    Kernel { entry: "save16_pack", sources: &[shader!("save16_common.wgsl"), shader!("save16_pack.wgsl")] };
/// A layer's 16-bit store back into f32 tensors.
pub const SAVE16_UNPACK: Kernel =
    Kernel { entry: "save16_unpack", sources: &[shader!("save16_common.wgsl"), shader!("save16_unpack.wgsl")] };

/// RMSNorm, one invocation per row (no barriers): `y = x * rstd * w`, saves `rstd`.
pub const RMSNORM_FORWARD: Kernel = Kernel { entry: "rmsnorm_forward", sources: &[shader!("rmsnorm_forward.wgsl")] };
/// RMSNorm, one workgroup per row (shared-memory reduction).
pub const RMSNORM_FORWARD_WG: Kernel =
    Kernel { entry: "rmsnorm_forward_wg", sources: &[shader!("rmsnorm_forward.wgsl")] };
/// RMSNorm backward (dx only; the norm weight is frozen), one invocation per row.
pub const RMSNORM_BACKWARD: Kernel = Kernel { entry: "rmsnorm_backward", sources: &[shader!("rmsnorm_backward.wgsl")] };
/// RMSNorm backward, one workgroup per row.
pub const RMSNORM_BACKWARD_WG: Kernel =
    Kernel { entry: "rmsnorm_backward_wg", sources: &[shader!("rmsnorm_backward.wgsl")] };
/// Rotary position embedding (rotate_half layout), in place on queries or keys.
pub const ROPE_FORWARD: Kernel =
    Kernel { entry: "rope_forward", sources: &[shader!("rope_common.wgsl"), shader!("rope_forward.wgsl")] };
/// RoPE backward: rotation by -angle, in place on dq or dk.
pub const ROPE_BACKWARD: Kernel =
    Kernel { entry: "rope_backward", sources: &[shader!("rope_common.wgsl"), shader!("rope_backward.wgsl")] };
/// Causal GQA attention over a KV cache, one invocation per (b, h, t), saves logsumexp.
pub const ATTENTION_FORWARD: Kernel = Kernel {
    entry: "attention_forward",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_forward.wgsl")],
};
/// Causal GQA attention for head dims divisible by 4 (vec4 loads and accumulators).
pub const ATTENTION_FORWARD_VEC4: Kernel = Kernel {
    entry: "attention_forward_vec4",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_forward_vec4.wgsl")],
};
/// Attention backward, pass 1: `dq` and `delta = dout . out`, one invocation per (b, h, t).
pub const ATTENTION_BACKWARD_DQ: Kernel = Kernel {
    entry: "attention_backward_dq",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_backward_dq.wgsl")],
};
/// Attention backward, pass 2: `dk`, `dv`, one invocation per (b, kv head, cache row).
pub const ATTENTION_BACKWARD_DKV: Kernel = Kernel {
    entry: "attention_backward_dkv",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_backward_dkv.wgsl")],
};
/// Attention backward pass 1 for head dims divisible by 4 (vec4).
pub const ATTENTION_BACKWARD_DQ_VEC4: Kernel = Kernel {
    entry: "attention_backward_dq_vec4",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_backward_dq_vec4.wgsl")],
};
/// Attention backward pass 2 for head dims divisible by 4 (vec4).
pub const ATTENTION_BACKWARD_DKV_VEC4: Kernel = Kernel {
    entry: "attention_backward_dkv_vec4",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_backward_dkv_vec4.wgsl")],
};
/// GPU family: attention forward, flash-style tiles (16 queries × 32 keys), one dispatch.
pub const ATTENTION_TILED_FORWARD: Kernel = Kernel {
    entry: "attention_tiled_forward",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_tiled_common.wgsl"), shader!("attention_tiled_forward.wgsl")],
};
/// GPU family: attention backward pass 1 (`dq`, `delta`), tiled as the forward.
pub const ATTENTION_TILED_DQ: Kernel = Kernel {
    entry: "attention_tiled_dq",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_tiled_common.wgsl"), shader!("attention_tiled_dq.wgsl")],
};
/// GPU family: attention backward pass 2 (`dk`, `dv`), 16 cache rows × 32 queries per tile.
pub const ATTENTION_TILED_DKV: Kernel = Kernel {
    entry: "attention_tiled_dkv",
    sources: &[shader!("attention_common.wgsl"), shader!("attention_tiled_common.wgsl"), shader!("attention_tiled_dkv.wgsl")],
};
/// SwiGLU: `h = silu(gate) * up`.
pub const SWIGLU_FORWARD: Kernel =
    Kernel { entry: "swiglu_forward", sources: &[shader!("swiglu_common.wgsl"), shader!("swiglu_forward.wgsl")] };
/// SwiGLU backward: `dgate`, `dup`.
pub const SWIGLU_BACKWARD: Kernel =
    Kernel { entry: "swiglu_backward", sources: &[shader!("swiglu_common.wgsl"), shader!("swiglu_backward.wgsl")] };

/// Compiled pipelines, keyed by entry point and override constants.
#[derive(Default)]
pub(crate) struct PipelineCache {
    pipelines: Mutex<HashMap<String, wgpu::ComputePipeline>>,
}

impl PipelineCache {
    /// The pipeline for `kernel` with pipeline-overridable `constants`, compiled on first use.
    /// Keyed by entry point, sources (the addresses of their `include_str!` texts, which are
    /// static) and constants.
    pub(crate) fn get(
        &self,
        device: &wgpu::Device,
        kernel: &Kernel,
        constants: &[(&str, f64)],
    ) -> wgpu::ComputePipeline {
        let mut key = kernel.entry.to_string();
        for source in kernel.sources {
            key.push_str(&format!("@{:p}", source.as_ptr()));
        }
        for (name, value) in constants {
            key.push_str(&format!(";{name}={value}"));
        }
        let mut map = self.pipelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry(key)
            .or_insert_with(|| {
                let source: String = kernel.sources.concat();
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.entry),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel.entry),
                    layout: None,
                    module: &module,
                    entry_point: Some(kernel.entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants,
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
            })
            .clone()
    }
}

/// Batched f32 matmul `C = alpha·op(A)·op(B) (+ C)` (overrides TRANS_A, TRANS_B, TM).
pub const MATMUL_FORWARD: Kernel = Kernel { entry: "matmul_forward", sources: &[shader!("matmul_forward_common.wgsl"), shader!("matmul_forward.wgsl")] };
/// `y = x·Wᵀ + bias` against a GGUF weight (overrides WTYPE, TM).
pub const QMATMUL_FORWARD: Kernel = Kernel {
    entry: "qmatmul_forward",
    sources: &[shader!("gguf_dequant.wgsl"), shader!("qmatmul_forward_common.wgsl"), shader!("qmatmul_forward.wgsl"), shader!("qmatmul_common.wgsl")],
};
/// `dx (+)= dy·W` against a GGUF weight (override WTYPE).
pub const QMATMUL_BACKWARD: Kernel = Kernel {
    entry: "qmatmul_backward",
    sources: &[shader!("gguf_dequant.wgsl"), shader!("qmatmul_backward_common.wgsl"), shader!("qmatmul_backward.wgsl"), shader!("qmatmul_common.wgsl")],
};
/// RMSNorm weight gradient (full fine-tuning), one invocation per column.
pub const RMSNORM_DW: Kernel = Kernel { entry: "rmsnorm_dw", sources: &[shader!("rmsnorm_dw.wgsl")] };
/// Embedding table gradient (full fine-tuning): scatter-add over host-grouped token ids.
pub const EMBEDDING_BACKWARD: Kernel =
    Kernel { entry: "embedding_backward", sources: &[shader!("embedding_backward.wgsl")] };
/// Token embedding gather from a GGUF table (override WTYPE).
pub const EMBEDDING_FORWARD: Kernel = Kernel {
    entry: "embedding_forward",
    sources: &[shader!("gguf_dequant.wgsl"), shader!("embedding_forward.wgsl")],
};
/// Stages op(A) of a matmul into a padded uniform block (override TRANS_A).
pub const MATMUL_STAGE: Kernel = Kernel { entry: "matmul_stage", sources: &[shader!("matmul_stage.wgsl")] };
/// Softmax cross-entropy forward, one invocation per row: per-row loss and logsumexp.
pub const CROSS_ENTROPY_FORWARD: Kernel =
    Kernel { entry: "cross_entropy_forward", sources: &[shader!("cross_entropy_forward.wgsl")] };
/// Softmax cross-entropy forward, one workgroup per row (shared-memory reductions).
pub const CROSS_ENTROPY_FORWARD_WG: Kernel =
    Kernel { entry: "cross_entropy_forward_wg", sources: &[shader!("cross_entropy_forward.wgsl")] };
/// Cross-entropy backward, in place: `logits <- (softmax - onehot) * scale`.
pub const CROSS_ENTROPY_BACKWARD: Kernel =
    Kernel { entry: "cross_entropy_backward", sources: &[shader!("cross_entropy_backward.wgsl")] };
/// One AdamW step (PyTorch semantics), in place on param, m, v.
pub const ADAMW_UPDATE: Kernel = Kernel { entry: "adamw_update", sources: &[shader!("adamw_update.wgsl")] };
/// One SGD step with momentum / Nesterov / weight decay (PyTorch semantics), in place.
pub const SGD_UPDATE: Kernel = Kernel { entry: "sgd_update", sources: &[shader!("sgd_update.wgsl")] };
/// Global gradient norm, pass 1: per-workgroup sums of squares of one tensor.
pub const GRAD_NORM_PARTIAL: Kernel = Kernel { entry: "grad_norm_partial", sources: &[shader!("grad_norm.wgsl")] };
/// Global gradient norm, pass 2: `[norm, clip scale]` from the partial sums.
pub const GRAD_NORM_FINISH: Kernel = Kernel { entry: "grad_norm_finish", sources: &[shader!("grad_norm.wgsl")] };
/// Dropout with a counter-based hash mask: `y = x * keep / (1 - p)`.
pub const DROPOUT_FORWARD: Kernel =
    Kernel { entry: "dropout_forward", sources: &[shader!("dropout_common.wgsl"), shader!("dropout_forward.wgsl")] };
/// Dropout backward with the regenerated mask: `dx (+)= dy * keep / (1 - p)`.
pub const DROPOUT_BACKWARD: Kernel =
    Kernel { entry: "dropout_backward", sources: &[shader!("dropout_common.wgsl"), shader!("dropout_backward.wgsl")] };
/// Token accuracy of one chunk of logits: `hit = argmax(logits) == target` (ties → lowest id).
pub const ARGMAX_FORWARD: Kernel = Kernel { entry: "argmax_forward", sources: &[shader!("argmax_forward.wgsl")] };
/// `matmul_forward` with the rows of op(A) shared through subgroupBroadcast (needs subgroups ≥ 8).
pub const MATMUL_FORWARD_SG: Kernel = Kernel { entry: "matmul_forward_sg", sources: &[shader!("matmul_forward_common.wgsl"), shader!("matmul_forward_sg.wgsl")] };
/// f32 matrix product for CPU adapters with subgroups: both operands in rgba32float textures, all of K per dispatch.
pub const MATMUL_FORWARD_TEX: Kernel = Kernel { entry: "matmul_forward_tex", sources: &[shader!("matmul_forward_tex.wgsl")] };
/// `qmatmul_forward` with the 16 rows of x shared through subgroupBroadcast (needs subgroups ≥ 8).
pub const QMATMUL_FORWARD_SG: Kernel = Kernel {
    entry: "qmatmul_forward_sg",
    sources: &[shader!("gguf_dequant.wgsl"), shader!("qmatmul_forward_common.wgsl"), shader!("qmatmul_forward_sg.wgsl"), shader!("qmatmul_common.wgsl")],
};
/// `qmatmul_backward` with the 16 dy rows shared through subgroupBroadcast (needs subgroups ≥ 8).
pub const QMATMUL_BACKWARD_SG: Kernel = Kernel {
    entry: "qmatmul_backward_sg",
    sources: &[shader!("gguf_dequant.wgsl"), shader!("qmatmul_backward_common.wgsl"), shader!("qmatmul_backward_sg.wgsl"), shader!("qmatmul_common.wgsl")],
};
/// f32 FMA throughput calibration: 8 independent vec4 FMA chains per invocation.
pub const FMA_PEAK: Kernel = Kernel { entry: "fma_peak", sources: &[shader!("fma_peak.wgsl")] };
/// A GPU-family tiled product: its tile precision file first (tile types and BK: it may
/// `enable f16;`, which must precede every declaration), then the shared tile loop between the
/// kernel's own common file and its body.
macro_rules! tiled {
    ($entry:literal, $precision:literal, $dequant:expr, $common:literal, $body:literal) => {
        Kernel { entry: $entry, sources: &[shader!($precision), $dequant, shader!("matmul_tile_common.wgsl"), shader!($common), shader!($body)] }
    };
}

/// GPU family: batched f32 matmul in 64×64 workgroup-memory tiles, one dispatch per product
/// (overrides TRANS_A, TRANS_B); scalar loads, any layout.
pub const MATMUL_TILED: Kernel = tiled!("matmul_tiled", "matmul_tile_f32.wgsl", "", "matmul_tiled_common.wgsl", "matmul_tiled.wgsl");
/// `matmul_tiled` with vec4 loads of A and B (rows and strides multiples of 4 values).
pub const MATMUL_TILED_VEC4: Kernel = tiled!("matmul_tiled_vec4", "matmul_tile_f32.wgsl", "", "matmul_tiled_common.wgsl", "matmul_tiled_vec4.wgsl");
/// GPU family: `y = x·Wᵀ + bias`, weight tiles dequantized into workgroup memory, one dispatch
/// per weight chunk (override WTYPE).
pub const QMATMUL_TILED_FORWARD: Kernel =
    tiled!("qmatmul_tiled_forward", "matmul_tile_f32.wgsl", shader!("gguf_dequant.wgsl"), "qmatmul_tiled_common.wgsl", "qmatmul_tiled_forward.wgsl");
/// GPU family: `dx (+)= dy·W`, tiled as `qmatmul_tiled_forward` (override WTYPE).
pub const QMATMUL_TILED_BACKWARD: Kernel =
    tiled!("qmatmul_tiled_backward", "matmul_tile_f32.wgsl", shader!("gguf_dequant.wgsl"), "qmatmul_tiled_common.wgsl", "qmatmul_tiled_backward.wgsl");
/// `matmul_tiled` with f16 tiles (BK 32) and f32 sums: needs shader-f16.
pub const MATMUL_TILED_F16: Kernel = tiled!("matmul_tiled", "matmul_tile_f16.wgsl", "", "matmul_tiled_common.wgsl", "matmul_tiled.wgsl");
/// `matmul_tiled_vec4` with f16 tiles (BK 32) and f32 sums: needs shader-f16.
pub const MATMUL_TILED_VEC4_F16: Kernel = tiled!("matmul_tiled_vec4", "matmul_tile_f16.wgsl", "", "matmul_tiled_common.wgsl", "matmul_tiled_vec4.wgsl");
/// `qmatmul_tiled_forward` with the weight tile in f16 (BK 32), x and sums in f32: needs shader-f16.
pub const QMATMUL_TILED_FORWARD_F16: Kernel =
    tiled!("qmatmul_tiled_forward", "qmatmul_tile_f16.wgsl", shader!("gguf_dequant.wgsl"), "qmatmul_tiled_common.wgsl", "qmatmul_tiled_forward.wgsl");
/// `qmatmul_tiled_backward` with the weight tile in f16 (BK 32), dy and sums in f32: needs shader-f16.
pub const QMATMUL_TILED_BACKWARD_F16: Kernel =
    tiled!("qmatmul_tiled_backward", "qmatmul_tile_f16.wgsl", shader!("gguf_dequant.wgsl"), "qmatmul_tiled_common.wgsl", "qmatmul_tiled_backward.wgsl");

/// DoRA's per-row weight norm `‖W + s·B·A‖` from `‖W‖²`, `A·Wᵀ`, `B·A·Aᵀ`, and `g = m / norm`.
pub const DORA_NORM_FORWARD: Kernel = Kernel { entry: "dora_norm_forward", sources: &[shader!("dora_norm_forward.wgsl")] };
/// DoRA: `y (+)= (v + offset) ⊙ x`, v per column or per row.
pub const DORA_SCALE_FORWARD: Kernel = Kernel { entry: "dora_scale_forward", sources: &[shader!("dora_scale_forward.wgsl")] };
/// DoRA's magnitude gradient `dm (+)= Σ_t dy·z / norm` (a gather over tokens).
pub const DORA_MAGNITUDE_BACKWARD: Kernel =
    Kernel { entry: "dora_magnitude_backward", sources: &[shader!("dora_magnitude_backward.wgsl")] };
/// Classification head: the hidden state of each sequence's last token, `(N, C) → (B, C)`.
pub const LAST_TOKEN_FORWARD: Kernel = Kernel { entry: "last_token_forward", sources: &[shader!("last_token_common.wgsl"), shader!("last_token_forward.wgsl")] };
/// Backward of `last_token_forward` as a gather: `dpooled (B, C) → dhidden (N, C)`.
pub const LAST_TOKEN_BACKWARD: Kernel = Kernel { entry: "last_token_backward", sources: &[shader!("last_token_common.wgsl"), shader!("last_token_backward.wgsl")] };
