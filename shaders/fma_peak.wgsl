// fma_peak — f32 FMA throughput calibration (what "percent of peak" in `anytune bench` divides by).
//
// Each invocation runs ITERS rounds of 8 independent vec4 FMA chains, a = a * m + c (32 FMAs,
// 64 FLOPs per round, no memory traffic in the loop), then writes the sum of its chains so the
// compiler cannot drop the work. FLOPs per dispatch: invocations × ITERS × 64.
//
// Bindings: 0 params, 1 out (one f32 per invocation) read_write.
// Shapes: out has workgroups.x × workgroups.y × 256 values (grid_1d layout).

struct Params {
    iters: u32,
    n: u32,
    seed: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn fma_peak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= params.n) {
        return;
    }
    let x = f32(i & 255u) * 1e-3 + params.seed;
    // |m| < 1 and a small c keep every chain bounded (no inf, no denormals).
    let m = vec4<f32>(0.999, 0.998, 0.997, 0.996);
    let c = vec4<f32>(x, x * 0.5, x * 0.25, x * 0.125);
    var a0 = c; var a1 = c + 1.0; var a2 = c + 2.0; var a3 = c + 3.0;
    var a4 = c + 4.0; var a5 = c + 5.0; var a6 = c + 6.0; var a7 = c + 7.0;
    for (var r = 0u; r < params.iters; r = r + 1u) {
        a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
        a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
    }
    let s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    out[i] = s.x + s.y + s.z + s.w;
}
