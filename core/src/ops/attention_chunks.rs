//! Splits the attention kernels' long loops over several dispatches so that no invocation runs
//! more than [`LOOP_BUDGET`] loop iterations in all.
//!
//! lavapipe (llvmpipe, the CPU Vulkan adapter of CI and of machines without a GPU) stops a shader
//! invocation's loops after 65 535 iterations in total, counting every pass of every loop,
//! nested ones included, and gives no error (see `cross_entropy.rs` and ARCHITECTURE.md). One
//! attention row runs about `1 + 3·D/4` iterations per key (vec4 kernels), so before this split
//! a forward row at D = 256 went wrong past ~500 keys and the dk/dv pass of SmolLM2 (D 64, 3
//! query heads per kv head) past ~660 training tokens.
//!
//! The split: the forward and dq passes take the keys in chunks of absolute positions, the
//! dk/dv pass the query rows. The first chunk writes, later ones continue: the forward keeps
//! its online-softmax state (max in `lse`, sum in a scratch buffer, the unnormalised output
//! in `out`) and the last chunk normalises; dq, dk and dv add. Short rows (SmolLM2 below
//! ~600 tokens, any model at decode with fewer than ~300 cached keys at D = 256) stay one
//! dispatch per pass, as before.

/// Loop iterations one invocation may run (lavapipe's limit is 65 535; the rest is margin).
pub(crate) const LOOP_BUDGET: usize = 60_000;

#[cfg(test)]
thread_local! {
    static TEST_BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(LOOP_BUDGET) };
}

/// The budget the attention passes split for: [`LOOP_BUDGET`] (in tests, what [`with_budget`]
/// set on this thread).
pub(crate) fn budget() -> usize {
    #[cfg(test)]
    return TEST_BUDGET.with(|b| b.get());
    #[cfg(not(test))]
    LOOP_BUDGET
}

/// Runs `f` with the attention passes split for `budget` (small budgets give many chunks on
/// small shapes).
#[cfg(test)]
pub(crate) fn with_budget<R>(budget: usize, f: impl FnOnce() -> R) -> R {
    let before = TEST_BUDGET.with(|b| b.replace(budget));
    let r = f();
    TEST_BUDGET.with(|b| b.set(before));
    r
}

/// Bit of `flags` in the attention params: an earlier chunk ran, continue from its results.
pub(crate) const CONTINUE: u32 = 1;
/// Bit of `flags`: the last chunk (the forward normalises and writes `lse`).
pub(crate) const LAST: u32 = 2;

/// Loop passes over one row of D floats: `D / 4` for the vec4 kernels, `D` for the scalar ones.
pub(crate) fn row_steps(d: usize) -> usize {
    if d.is_multiple_of(4) { d / 4 } else { d }
}

/// Keys per forward chunk: a row loads q (and, continuing, its output) and writes its
/// output (`3·r` passes, `r` = [`row_steps`]), and per key runs the score, the
/// rescale and the accumulate loops (`1 + 3·r`).
pub(crate) fn forward_keys(d: usize, budget: usize) -> usize {
    let r = row_steps(d);
    (budget.saturating_sub(3 * r) / (1 + 3 * r)).max(1)
}

/// Keys per dq chunk: load and write (`2·r`), per key the score/dp and accumulate loops (`1 + 2·r`).
pub(crate) fn dq_keys(d: usize, budget: usize) -> usize {
    let r = row_steps(d);
    (budget.saturating_sub(2 * r) / (1 + 2 * r)).max(1)
}

/// Query rows per dk/dv chunk: load and write (`2·r`), one pass per query head of the group,
/// and per (head, query) the score/dp and accumulate loops (`1 + 2·r`).
pub(crate) fn dkv_queries(d: usize, group: usize, budget: usize) -> usize {
    let r = row_steps(d);
    (budget.saturating_sub(2 * r + group) / (group * (1 + 2 * r))).max(1)
}

/// `[lo, hi)` ranges of at most `per` items covering `start .. end` (one empty range if
/// `start >= end`, so every pass records at least one dispatch and writes its outputs).
pub(crate) fn chunks(start: usize, end: usize, per: usize) -> Vec<(usize, usize)> {
    if start >= end {
        return vec![(start, start)];
    }
    (start..end).step_by(per.max(1)).map(|lo| (lo, (lo + per).min(end))).collect()
}

/// `flags` for chunk `i` of `n`.
pub(crate) fn flags(i: usize, n: usize) -> u32 {
    (if i > 0 { CONTINUE } else { 0 }) | (if i + 1 == n { LAST } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_range_once() {
        assert_eq!(chunks(0, 10, 4), vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(chunks(3, 5, 100), vec![(3, 5)]);
        assert_eq!(chunks(5, 5, 4), vec![(5, 5)]);
        assert_eq!(flags(0, 1), LAST);
        assert_eq!(flags(0, 3), 0);
        assert_eq!(flags(2, 3), CONTINUE | LAST);
    }

    /// Today's shapes keep one dispatch per pass: SmolLM2 (D 64, group 3) at 512 training
    /// tokens and 1024-key decode; Gemma 3 (D 256, group 4) splits.
    #[test]
    fn budgets_at_model_sizes() {
        assert!(forward_keys(64, LOOP_BUDGET) >= 1024);
        assert!(dq_keys(64, LOOP_BUDGET) >= 1024);
        assert!(dkv_queries(64, 3, LOOP_BUDGET) >= 512);
        assert_eq!(forward_keys(256, LOOP_BUDGET), 309);
        assert_eq!(dkv_queries(256, 4, LOOP_BUDGET), 116);
        // Never zero, even past any model's sizes.
        assert_eq!(dkv_queries(255, 1000, LOOP_BUDGET), 1);
    }
}
