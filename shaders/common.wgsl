// Helpers shared by the kernels. The Rust side substitutes the double-brace placeholders with
// the run's constants before compiling (see src/backend/gpu/shaders.rs).

const DIM: u32 = {{DIM}}u;
const WINDOW: u32 = {{WINDOW}}u;
const NEG: u32 = {{NEG}}u;
const NOUT: u32 = NEG + 1u;
const MAXC: u32 = 2u * WINDOW;
const WG: u32 = {{WG}}u;
// Rows per matrix binding: a matrix larger than one storage binding is split by row range.
const RPP: u32 = {{RPP}}u;
// Header words at the start of the per-step upload: rate at the first position (f32 bits),
// RNG key, token count, rate after the last position (f32 bits).
const HEADER: u32 = 8u;
const SENT: u32 = 0xffffffffu;
const MAX_EXP: f32 = 6.0;

// The learning rate at position `pos` of a step of `n` positions: linear from the step's
// first rate to its last; identical to backend::Rate::at.
fn rate_at(a0: f32, a1: f32, pos: u32, n: u32) -> f32 {
    return a0 + (a1 - a0) * (f32(pos) / f32(max(n, 1u)));
}

// PCG-RXS-M-XS hash; identical to sampling::pcg_hash.
fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Random number `lane` of centre position `pos`; identical to sampling::rand_at.
fn rand_at(key: u32, pos: u32, lane: u32) -> u32 {
    return pcg_hash(key ^ pcg_hash(pos * 64u + lane));
}

// High 32 bits of a * b, from 16-bit halves (WGSL has no 64-bit integers).
fn mulhi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let cross = (lo_lo >> 16u) + (hi_lo & 0xffffu) + lo_hi;
    return hi_hi + (hi_lo >> 16u) + (cross >> 16u);
}

// (g, loss) of sigmoid binary cross-entropy with word2vec's clipping; identical to
// loss::sigmoid_bce.
fn sigmoid_bce(f: f32, label: f32, alpha: f32) -> vec2<f32> {
    var s: f32;
    if (f > MAX_EXP) {
        s = 1.0;
    } else if (f < -MAX_EXP) {
        s = 0.0;
    } else {
        s = 1.0 / (1.0 + exp(-f));
    }
    var z = f;
    if (label > 0.5) {
        z = -f;
    }
    let loss = max(z, 0.0) + log(1.0 + exp(-abs(z)));
    return vec2<f32>((label - s) * alpha, loss);
}
