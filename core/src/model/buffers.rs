//! One table of activation and gradient buffers per unit (a block's forward activations, its
//! gradients, the model-level stream): each buffer's name, shape and when it is kept, written
//! once. [`buffer_table!`] turns a table into a struct of [`GpuTensor`]s, the function that
//! allocates it and the list of [`BufferSpec`]s that `train/memory.rs` sums — so the memory
//! estimate can never disagree with what is allocated.
//!
//! ```ignore
//! buffer_table! {
//!     /// What one block writes.
//!     pub struct BlockActs(s) {
//!         /// Residual stream entering the block.
//!         x_in: training [s.rows, s.c],
//!         xn1: always [s.rows, s.c],
//!     }
//! }
//! // BlockActs { x_in: Option<GpuTensor>, xn1: GpuTensor }, BlockActs::new(gpu, &shapes, training),
//! // BlockActs::specs(&shapes) == [x_in (R, C) training, xn1 (R, C) always]
//! ```

use super::config::ModelConfig;
use crate::gpu::GpuTensor;
pub use crate::ops::save16::Format16;

/// A table row's buffer whether the row always exists or not (the rows of [`Table::rows16`]).
pub trait MaybeTensor {
    fn tensor(&self) -> Option<&GpuTensor>;
}

impl MaybeTensor for GpuTensor {
    fn tensor(&self) -> Option<&GpuTensor> {
        Some(self)
    }
}

impl MaybeTensor for Option<GpuTensor> {
    fn tensor(&self) -> Option<&GpuTensor> {
        self.as_ref()
    }
}

/// When a buffer of a table exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// In every pass (inference included).
    Always,
    /// Only in training passes (what backward reads and inference never needs).
    Training,
    /// In every pass, one buffer for all layers even when training keeps a table per layer
    /// ([`Table::alloc_sharing`]): each layer's forward writes it and backward either does not
    /// read it or has the architecture rebuild it first (a normed input from the saved residual
    /// and its 1/rms, the gated activation from the saved gate and up).
    Shared,
}

/// One buffer of a table: f32 values of `shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct BufferSpec {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub kept: Kept,
    /// Its format in a 16-bit store of saved activations ([`super::Saved::AllLayers16`]: one f32
    /// buffer for all layers, each layer's values in the layer's store); `None`: f32 per layer.
    pub store: Option<Format16>,
}

impl BufferSpec {
    /// A buffer outside the 16-bit store.
    pub fn new(name: &'static str, shape: Vec<usize>, kept: Kept) -> BufferSpec {
        BufferSpec { name, shape, kept, store: None }
    }

    /// Values of the buffer.
    pub fn values(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether a pass allocates it (`training` or not).
    pub fn allocated(&self, training: bool) -> bool {
        training || self.kept != Kept::Training
    }

    /// How many of it `tables` tables of its kind hold: one if it is shared, or in the 16-bit
    /// store when `sixteen` (the layers' values are in their stores).
    pub fn count(&self, tables: usize, sixteen: bool) -> usize {
        if self.kept == Kept::Shared || (sixteen && self.store.is_some()) { tables.min(1) } else { tables }
    }

    /// Bytes of the buffer (f32).
    pub fn bytes(&self) -> u64 {
        4 * self.shape.iter().map(|&d| d as u64).product::<u64>()
    }
}

/// Bytes of the buffers of `specs` that a pass allocates (`training` or not).
pub fn table_bytes(specs: &[BufferSpec], training: bool) -> u64 {
    specs.iter().filter(|s| s.allocated(training)).map(BufferSpec::bytes).sum()
}

/// The sizes every table is written in, for `batch × t` tokens: R = B·T rows, C = dim,
/// Q = H·D, KV = KVH·D, F = ffn_dim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shapes {
    pub batch: usize,
    pub t: usize,
    pub rows: usize,
    pub c: usize,
    pub f: usize,
    pub h: usize,
    pub kvh: usize,
    pub d: usize,
    /// Whether the block norms q and k per head (its tables then hold the pre-norm q and k).
    pub qk_norm: bool,
}

impl Shapes {
    pub fn new(cfg: &ModelConfig, batch: usize, t: usize) -> Shapes {
        Shapes {
            batch,
            t,
            rows: batch * t,
            c: cfg.dim,
            f: cfg.ffn_dim,
            h: cfg.n_heads,
            kvh: cfg.n_kv_heads,
            d: cfg.head_dim,
            qk_norm: cfg.arch.qk_norm(),
        }
    }
}

/// What [`buffer_table!`] implements for each table, so that tables compose ([`Halves`]).
pub trait Table: Sized {
    /// Allocates the table (`training`: also the rows kept only in training).
    fn alloc(gpu: &crate::gpu::Gpu, s: &Shapes, training: bool) -> Self;
    /// [`Table::alloc`] of another layer's table: its [`Kept::Shared`] rows are `first`'s, and
    /// with `sixteen` its rows of the 16-bit store too.
    fn alloc_sharing(gpu: &crate::gpu::Gpu, s: &Shapes, training: bool, first: &Self, sixteen: bool) -> Self;
    /// The allocated rows that a 16-bit store keeps, in table order, with their formats.
    fn rows16(&self) -> Vec<(&GpuTensor, Format16)>;
    /// Lists what [`Table::alloc`] allocates for these shapes.
    fn list(s: &Shapes) -> Vec<BufferSpec>;
}

/// A block's buffers: its own table `N` around the two shared halves `A` (attention) and `M`
/// (MLP) — for its forward activations and, with the gradient tables, for its backward.
pub struct Halves<N, A, M> {
    pub norms: N,
    pub attn: A,
    pub mlp: M,
}

impl<N: Table, A: Table, M: Table> Halves<N, A, M> {
    pub fn new(gpu: &crate::gpu::Gpu, s: &Shapes, training: bool) -> Self {
        Halves { norms: N::alloc(gpu, s, training), attn: A::alloc(gpu, s, training), mlp: M::alloc(gpu, s, training) }
    }

    /// Another layer's buffers, sharing `first`'s [`Kept::Shared`] rows (and with `sixteen` the
    /// rows of the 16-bit store).
    pub fn new_sharing(gpu: &crate::gpu::Gpu, s: &Shapes, training: bool, first: &Self, sixteen: bool) -> Self {
        Halves {
            norms: N::alloc_sharing(gpu, s, training, &first.norms, sixteen),
            attn: A::alloc_sharing(gpu, s, training, &first.attn, sixteen),
            mlp: M::alloc_sharing(gpu, s, training, &first.mlp, sixteen),
        }
    }

    /// [`Table::rows16`] of the three tables.
    pub fn rows16(&self) -> Vec<(&GpuTensor, Format16)> {
        [self.norms.rows16(), self.attn.rows16(), self.mlp.rows16()].concat()
    }

    pub fn specs(s: &Shapes) -> Vec<BufferSpec> {
        [N::list(s), A::list(s), M::list(s)].concat()
    }
}

/// Declares a buffer table: a struct with one [`crate::gpu::GpuTensor`] per row (`always`,
/// `shared`) or an `Option` of one (`training`, or any row with a `when (condition)` on the
/// [`Shapes`]), `new(gpu, &Shapes, training)` that allocates it, `new_sharing(.., &first,
/// sixteen)` that allocates another layer's (its `shared` rows, and with `sixteen` its `as f16`
/// / `as bf16` rows, are `first`'s), `rows16()` (the `as` rows) and `specs(&Shapes)` that
/// lists what it allocates. Shapes are expressions in the named [`Shapes`] binding.
#[macro_export]
#[doc(hidden)]
macro_rules! buffer_table {
    (@ty always) => { $crate::gpu::GpuTensor };
    (@ty $kept:ident $($cond:tt)+) => { Option<$crate::gpu::GpuTensor> };
    (@ty training) => { Option<$crate::gpu::GpuTensor> };
    (@ty shared) => { $crate::gpu::GpuTensor };
    (@kept always) => { $crate::model::buffers::Kept::Always };
    (@kept training) => { $crate::model::buffers::Kept::Training };
    (@kept shared) => { $crate::model::buffers::Kept::Shared };
    (@alloc always, $gpu:ident, $training:ident, $shape:expr) => { $crate::gpu::GpuTensor::zeros($gpu, &$shape) };
    (@alloc always, $gpu:ident, $training:ident, $shape:expr, $cond:expr) => {
        ($cond).then(|| $crate::gpu::GpuTensor::zeros($gpu, &$shape))
    };
    (@alloc shared, $gpu:ident, $training:ident, $shape:expr $(, $cond:expr)?) => {
        $crate::buffer_table!(@alloc always, $gpu, $training, $shape $(, $cond)?)
    };
    (@shares shared) => { true };
    (@shares $kept:ident) => { false };
    (@fmt) => { Option::<$crate::model::buffers::Format16>::None };
    (@fmt f16) => { Some($crate::model::buffers::Format16::F16) };
    (@fmt bf16) => { Some($crate::model::buffers::Format16::Bf16) };
    (@alloc training, $gpu:ident, $training:ident, $shape:expr $(, $cond:expr)?) => {
        ($training $(&& $cond)?).then(|| $crate::gpu::GpuTensor::zeros($gpu, &$shape))
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($s:ident) {
            $( $(#[$fmeta:meta])* $field:ident : $kept:ident [$($dim:expr),+ $(,)?] $(as $fmt:ident)? $(when ($cond:expr))? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$fmeta])* pub $field: $crate::buffer_table!(@ty $kept $(when $cond)?), )*
        }

        impl $name {
            /// Allocates every buffer of the table (`training`: also those kept only in training).
            #[allow(unused_variables)]
            pub fn new(gpu: &$crate::gpu::Gpu, $s: &$crate::model::buffers::Shapes, training: bool) -> Self {
                $name { $( $field: $crate::buffer_table!(@alloc $kept, gpu, training, [$($dim),+] $(, $cond)?), )* }
            }

            /// [`Self::new`] for another layer: the `shared` rows (and with `sixteen` the rows
            /// of the 16-bit store) are `first`'s buffers.
            #[allow(unused_variables)]
            pub fn new_sharing(gpu: &$crate::gpu::Gpu, $s: &$crate::model::buffers::Shapes, training: bool, first: &Self, sixteen: bool) -> Self {
                $name { $( $field: if $crate::buffer_table!(@shares $kept) || (sixteen && $crate::buffer_table!(@fmt $($fmt)?).is_some()) {
                    first.$field.clone()
                } else {
                    $crate::buffer_table!(@alloc $kept, gpu, training, [$($dim),+] $(, $cond)?)
                }, )* }
            }

            /// The allocated rows a 16-bit store keeps (`as f16` / `as bf16`), in table order.
            #[allow(unused_mut)]
            pub fn rows16(&self) -> Vec<(&$crate::gpu::GpuTensor, $crate::model::buffers::Format16)> {
                let mut rows = Vec::new();
                $( if let (Some(t), Some(f)) = ($crate::model::buffers::MaybeTensor::tensor(&self.$field), $crate::buffer_table!(@fmt $($fmt)?)) {
                    rows.push((t, f));
                } )*
                rows
            }

            /// The table: every buffer's name, shape and when it is kept (rows whose condition
            /// is false for these shapes left out).
            #[allow(clippy::vec_init_then_push)]
            pub fn specs($s: &$crate::model::buffers::Shapes) -> Vec<$crate::model::buffers::BufferSpec> {
                let mut specs = Vec::new();
                $( if true $(&& $cond)? {
                    specs.push($crate::model::buffers::BufferSpec {
                        name: stringify!($field),
                        shape: vec![$($dim),+],
                        kept: $crate::buffer_table!(@kept $kept),
                        store: $crate::buffer_table!(@fmt $($fmt)?),
                    });
                } )*
                specs
            }
        }

        impl $crate::model::buffers::Table for $name {
            fn alloc(gpu: &$crate::gpu::Gpu, s: &$crate::model::buffers::Shapes, training: bool) -> Self {
                $name::new(gpu, s, training)
            }

            fn alloc_sharing(gpu: &$crate::gpu::Gpu, s: &$crate::model::buffers::Shapes, training: bool, first: &Self, sixteen: bool) -> Self {
                $name::new_sharing(gpu, s, training, first, sixteen)
            }

            fn rows16(&self) -> Vec<(&$crate::gpu::GpuTensor, $crate::model::buffers::Format16)> {
                $name::rows16(self)
            }

            fn list(s: &$crate::model::buffers::Shapes) -> Vec<$crate::model::buffers::BufferSpec> {
                $name::specs(s)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::buffer_table! {
        /// A table for the test.
        struct Demo(s) {
            a: always [s.rows, s.c],
            b: training [s.rows],
            c: always [s.c] when (s.qk_norm),
            d: shared [s.rows],
            e: training [s.c] as bf16,
        }
    }

    #[test]
    fn specs_list_the_table_and_training_adds_its_rows() {
        let s = Shapes { batch: 2, t: 3, rows: 6, c: 4, f: 0, h: 0, kvh: 0, d: 0, qk_norm: false };
        let specs = Demo::specs(&s);
        assert_eq!(Demo::specs(&Shapes { qk_norm: true, ..s }).len(), 5, "a row whose condition holds is listed");
        assert_eq!(specs.iter().map(|b| (b.name, b.shape.clone(), b.kept, b.store)).collect::<Vec<_>>(), [
            ("a", vec![6, 4], Kept::Always, None),
            ("b", vec![6], Kept::Training, None),
            ("d", vec![6], Kept::Shared, None),
            ("e", vec![4], Kept::Training, Some(Format16::Bf16))
        ]);
        assert_eq!(table_bytes(&specs, false), 120);
        assert_eq!(table_bytes(&specs, true), 160);
        assert_eq!(specs.iter().map(|b| b.count(30, false)).collect::<Vec<_>>(), [30, 30, 1, 30], "a shared row is counted once");
        assert_eq!(specs.iter().map(|b| b.count(30, true)).collect::<Vec<_>>(), [30, 30, 1, 1], "so is a row of the 16-bit store");
        let Some(gpu) = crate::testing::test_gpu() else { return };
        let (inference, training) = (Demo::new(gpu, &s, false), Demo::new(gpu, &s, true));
        assert_eq!((inference.a.shape.clone(), inference.b.is_none()), (vec![6, 4], true));
        assert_eq!(training.b.as_ref().map(|b| b.shape.clone()), Some(vec![6]));
        assert!(inference.c.is_none() && Demo::new(gpu, &Shapes { qk_norm: true, ..s }, false).c.is_some());
        assert!(inference.rows16().is_empty(), "a training-only row of the store is not allocated for inference");
        let rows16: Vec<_> = training.rows16().into_iter().map(|(t, f)| (t.shape.clone(), f)).collect();
        assert_eq!(rows16, [(vec![4], Format16::Bf16)]);
        let same = |a: &Option<GpuTensor>, b: &Option<GpuTensor>| a.as_ref().map(|t| &t.buffer) == b.as_ref().map(|t| &t.buffer);
        for sixteen in [false, true] {
            let second = Demo::new_sharing(gpu, &s, true, &training, sixteen);
            assert!(second.d.buffer == training.d.buffer, "the shared row is the first table's buffer");
            assert!(second.a.buffer != training.a.buffer && !same(&second.b, &training.b), "the other rows are the layer's own");
            assert_eq!(same(&second.e, &training.e), sixteen, "a row of the 16-bit store is shared with sixteen = {sixteen}");
        }
    }
}
