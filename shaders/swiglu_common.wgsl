// swiglu_common — shared by swiglu_forward.wgsl and swiglu_backward.wgsl (concatenated before
// them): the params struct, a sigmoid that never overflows (exp of a non-positive number only),
// and the gate activation picked by the override constant ACT (GluParams / Glu in
// core/src/ops/swiglu.rs):
//   ACT = 0: silu(x)      = x * sigmoid(x)                                       (SwiGLU)
//   ACT = 1: gelu_tanh(x) = 0.5 x (1 + tanh(u)) = x * sigmoid(2u),
//            u = sqrt(2/pi) (x + 0.044715 x^3)       (GeGLU; PyTorch gelu(approximate="tanh"))
// gelu_tanh evaluates u at x clamped to [-GELU_X_MAX, GELU_X_MAX]: beyond it sigmoid(2u) is
// exactly 0 or 1 in f32 (2u(20) = 602.8), so the value is exact and x^3 never overflows.

override ACT: u32 = 0u;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;
const GELU_X_MAX: f32 = 20.0;

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// act(x) (.x) and act'(x) (.y).
fn gate_act(x: f32) -> vec2<f32> {
    if (ACT == 1u) {
        let xc = clamp(x, -GELU_X_MAX, GELU_X_MAX);
        let s = sigmoid(2.0 * SQRT_2_OVER_PI * (xc + GELU_C * xc * xc * xc));
        let du = 2.0 * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * xc * xc);
        return vec2<f32>(x * s, s + xc * s * (1.0 - s) * du);
    }
    let sig = sigmoid(x);
    return vec2<f32>(x * sig, sig * (1.0 + x * (1.0 - sig)));
}
