// save16_unpack — dst_s[2j] = decode(low half of store[word0[s] + j]), dst_s[2j + 1] =
// decode(its high half) (where 2j + 1 < n[s]) for the four slots s (save16_common.wgsl).
//
// Bindings: 0 params, 1 store (words) read, 2–5 dst0..dst3 (n[s]) read_write.

@group(0) @binding(1) var<storage, read> store: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst0: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst1: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst2: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst3: array<f32>;

fn put(s: u32, i: u32, x: f32) {
    if (i >= params.n[s]) {
        return;
    }
    switch s {
        case 0u: { dst0[i] = x; }
        case 1u: { dst1[i] = x; }
        case 2u: { dst2[i] = x; }
        default: { dst3[i] = x; }
    }
}

@compute @workgroup_size(256)
fn save16_unpack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let w = word_of(gid, nwg);
    if (!w.valid) {
        return;
    }
    let word = store[w.at];
    put(w.s, 2u * w.j, decode(word & 0xffffu, w.format));
    put(w.s, 2u * w.j + 1u, decode(word >> 16u, w.format));
}
