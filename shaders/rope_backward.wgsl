// rope_backward — gradient of rope_forward, in place on dq or dk: the rotation by -angle
// (see rope_common.wgsl, concatenated before this file, for the formula, bindings and shapes).

@compute @workgroup_size(256)
fn rope_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    rope_rotate(gid.x + gid.y * nwg.x * 256u, -1.0);
}
