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
}

impl BufferSpec {
    /// Whether a pass allocates it (`training` or not).
    pub fn allocated(&self, training: bool) -> bool {
        training || self.kept != Kept::Training
    }

    /// How many of it `tables` tables of its kind hold (one if it is shared).
    pub fn count(&self, tables: usize) -> usize {
        if self.kept == Kept::Shared { tables.min(1) } else { tables }
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
    /// [`Table::alloc`] of another layer's table: its [`Kept::Shared`] rows are `first`'s.
    fn alloc_sharing(gpu: &crate::gpu::Gpu, s: &Shapes, training: bool, first: &Self) -> Self;
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

    /// Another layer's buffers, sharing `first`'s [`Kept::Shared`] rows.
    pub fn new_sharing(gpu: &crate::gpu::Gpu, s: &Shapes, training: bool, first: &Self) -> Self {
        Halves {
            norms: N::alloc_sharing(gpu, s, training, &first.norms),
            attn: A::alloc_sharing(gpu, s, training, &first.attn),
            mlp: M::alloc_sharing(gpu, s, training, &first.mlp),
        }
    }

    pub fn specs(s: &Shapes) -> Vec<BufferSpec> {
        [N::list(s), A::list(s), M::list(s)].concat()
    }
}

/// Declares a buffer table: a struct with one [`crate::gpu::GpuTensor`] per row (`always`,
/// `shared`) or an `Option` of one (`training`, or any row with a `when (condition)` on the
/// [`Shapes`]), `new(gpu, &Shapes, training)` that allocates it, `new_sharing(.., &first)` that
/// allocates another layer's (its `shared` rows are `first`'s) and `specs(&Shapes)` that lists
/// what it allocates. Shapes are expressions in the named [`Shapes`] binding.
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
    (@share shared, $first:ident, $field:ident, $gpu:ident, $training:ident, $shape:expr $(, $cond:expr)?) => {
        $first.$field.clone()
    };
    (@share $kept:ident, $first:ident, $field:ident, $gpu:ident, $training:ident, $shape:expr $(, $cond:expr)?) => {
        $crate::buffer_table!(@alloc $kept, $gpu, $training, $shape $(, $cond)?)
    };
    (@alloc training, $gpu:ident, $training:ident, $shape:expr $(, $cond:expr)?) => {
        ($training $(&& $cond)?).then(|| $crate::gpu::GpuTensor::zeros($gpu, &$shape))
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($s:ident) {
            $( $(#[$fmeta:meta])* $field:ident : $kept:ident [$($dim:expr),+ $(,)?] $(when ($cond:expr))? ),* $(,)?
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

            /// [`Self::new`] for another layer: the `shared` rows are `first`'s buffers.
            #[allow(unused_variables)]
            pub fn new_sharing(gpu: &$crate::gpu::Gpu, $s: &$crate::model::buffers::Shapes, training: bool, first: &Self) -> Self {
                $name { $( $field: $crate::buffer_table!(@share $kept, first, $field, gpu, training, [$($dim),+] $(, $cond)?), )* }
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
                    });
                } )*
                specs
            }
        }

        impl $crate::model::buffers::Table for $name {
            fn alloc(gpu: &$crate::gpu::Gpu, s: &$crate::model::buffers::Shapes, training: bool) -> Self {
                $name::new(gpu, s, training)
            }

            fn alloc_sharing(gpu: &$crate::gpu::Gpu, s: &$crate::model::buffers::Shapes, training: bool, first: &Self) -> Self {
                $name::new_sharing(gpu, s, training, first)
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
        }
    }

    #[test]
    fn specs_list_the_table_and_training_adds_its_rows() {
        let s = Shapes { batch: 2, t: 3, rows: 6, c: 4, f: 0, h: 0, kvh: 0, d: 0, qk_norm: false };
        let specs = Demo::specs(&s);
        assert_eq!(Demo::specs(&Shapes { qk_norm: true, ..s }).len(), 4, "a row whose condition holds is listed");
        assert_eq!(specs.iter().map(|b| (b.name, b.shape.clone(), b.kept)).collect::<Vec<_>>(), [
            ("a", vec![6, 4], Kept::Always),
            ("b", vec![6], Kept::Training),
            ("d", vec![6], Kept::Shared)
        ]);
        assert_eq!(table_bytes(&specs, false), 120);
        assert_eq!(table_bytes(&specs, true), 144);
        assert_eq!(specs.iter().map(|b| b.count(30)).collect::<Vec<_>>(), [30, 30, 1], "a shared row is counted once");
        let Some(gpu) = crate::testing::test_gpu() else { return };
        let (inference, training) = (Demo::new(gpu, &s, false), Demo::new(gpu, &s, true));
        assert_eq!((inference.a.shape.clone(), inference.b.is_none()), (vec![6, 4], true));
        assert_eq!(training.b.as_ref().map(|b| b.shape.clone()), Some(vec![6]));
        assert!(inference.c.is_none() && Demo::new(gpu, &Shapes { qk_norm: true, ..s }, false).c.is_some());
        let second = Demo::new_sharing(gpu, &s, true, &training);
        assert!(second.d.buffer == training.d.buffer, "the shared row is the first table's buffer");
        assert!(second.a.buffer != training.a.buffer && second.b.is_some(), "the other rows are the layer's own");
    }
}
