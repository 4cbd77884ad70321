// qmatmul_common — shared by qmatmul_forward and qmatmul_backward (no entry point): the rows
// of the operand staged in the uniform binding `xs` that one workgroup reads.
// The including kernel's Params has `mb` (rows in this block) and `ks` (row stride, floats).

override TM: u32 = 8u; // rows per workgroup: 1, 8 or 16

// Row i of the staged block (clamped), as a vec4 index base.
fn xrow(i: u32) -> u32 {
    return min(i, params.mb - 1u) * (params.ks / 4u);
}
