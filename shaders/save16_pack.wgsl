// save16_pack — store[word0[s] + j] = encode(src_s[2j]) | encode(src_s[2j + 1]) << 16 for the
// four slots s (formats and layout: save16_common.wgsl).
//
// Bindings: 0 params, 1–4 src0..src3 (n[s]) read, 5 store (words) read_write.

@group(0) @binding(1) var<storage, read> src0: array<f32>;
@group(0) @binding(2) var<storage, read> src1: array<f32>;
@group(0) @binding(3) var<storage, read> src2: array<f32>;
@group(0) @binding(4) var<storage, read> src3: array<f32>;
@group(0) @binding(5) var<storage, read_write> store: array<u32>;

fn load(s: u32, i: u32) -> f32 {
    if (i >= params.n[s]) {
        return 0.0;
    }
    switch s {
        case 0u: { return src0[i]; }
        case 1u: { return src1[i]; }
        case 2u: { return src2[i]; }
        default: { return src3[i]; }
    }
}

@compute @workgroup_size(256)
fn save16_pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let w = word_of(gid, nwg);
    if (!w.valid) {
        return;
    }
    store[w.at] = encode(load(w.s, 2u * w.j), w.format) | (encode(load(w.s, 2u * w.j + 1u), w.format) << 16u);
}
