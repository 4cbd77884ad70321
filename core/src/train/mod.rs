//! LoRA fine-tuning: a training step (forward with saved activations → chunked cross-entropy →
//! backward into the LoRA gradients) built from the per-op forward/backward kernels.
//!
//! The data flow: dataset → tokens ([`crate::data`]) → batches → [`step::record_step`] →
//! optimizer ([`crate::ops::adamw`]) → adapter files ([`crate::lora`]).

pub mod bench_step;
pub mod checkpoint;
pub mod cpu_schedule;
pub mod eval;
pub mod gpu_batch;
pub mod memory;
pub mod model_preset;
pub mod options;
pub mod run;
pub mod schedule;
pub mod step;
pub mod trainer;

pub use checkpoint::CheckpointInfo;
pub use eval::{FileEval, evaluate_file};
pub use memory::{MemoryEstimate, check_budget, check_fits, training_flops_per_token, training_memory};
pub use options::RunOptions;
pub use run::{AdapterFiles, RunPlan, StepOutcome, TrainRun};
pub use schedule::Schedule;
pub use step::{ActivationStore, EvalReport};
pub use trainer::{Optimizer, StepReport, TrainConfig, Trainer};
