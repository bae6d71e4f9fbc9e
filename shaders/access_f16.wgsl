// Half-precision matrices (--precision f16). DIM is even; dimensions d and d + HALF of row r
// of a part share word r * HALF + d of the part's binding (d < HALF), d in the low 16 bits,
// d + HALF in the high 16 bits. A kernel whose lane loops over the dimensions with a stride
// dividing HALF updates both halves of a word from the same lane, one after the other, so
// lanes of a subgroup do not contend for a word.
//
// An add computes the new value in f32 and rounds it to a half stochastically: up with
// probability equal to the fraction of a half-precision step that rounding down would
// drop. The rounding is unbiased, so adds far below a half's resolution (late in training,
// when the learning rate is small) still move the weight on average instead of vanishing
// as they would with round-to-nearest. The Rust side rewrites the row accessors' LOAD
// placeholder to read the word's half (half_of) and ADD to replace the word with half_add's
// result (a compare-and-swap loop for the atomic modes) — see src/backend/gpu/shaders.rs.

const HALF: u32 = DIM / 2u;

// The stochastic rounding's random bits, stirred at every add with the word and the addend.
var<private> round_state: u32;

// The IEEE half nearest below or above x (the bits, in the low 16), chosen by the random r:
// up with probability equal to the discarded fraction. NaN stays NaN, overflow gives
// infinity (the host's divergence check sees either).
fn half_round(x: f32, r: u32) -> u32 {
    let b = bitcast<u32>(x);
    let sign = (b >> 16u) & 0x8000u;
    let a = b & 0x7fffffffu;
    if (a >= 0x7f800000u) {
        return sign | 0x7c00u | select(0u, 0x200u, a > 0x7f800000u);
    }
    if (a < 0x38800000u) {
        // Below the smallest normal half (2^-14): a multiple of 2^-24, floor(|x| · 2^24 + u)
        // with u uniform in [0, 1). The result 0x400 is the smallest normal half.
        let m = bitcast<f32>(a) * 16777216.0;
        let u = f32(r >> 8u) * (1.0 / 16777216.0);
        return sign | u32(m + u);
    }
    // A normal half: drop the 13 low mantissa bits after adding 13 random ones (a carry
    // rounds up, into the exponent where it must), then rebias the exponent (127 → 15).
    let t = a + (r & 0x1fffu);
    return sign | min((t >> 13u) - 0x1c000u, 0x7c00u);
}

// The half whose bits are the low 16 of h, exactly, as f32 (by hand rather than with
// unpack2x16float, which needs a capability not every adapter reports).
fn half_value(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let a = h & 0x7fffu;
    if (a >= 0x7c00u) {
        return bitcast<f32>(sign | 0x7f800000u | ((a & 0x3ffu) << 13u));
    }
    if (a < 0x400u) {
        // Zero or subnormal: a multiple of 2^-24.
        let m = f32(a) * (1.0 / 16777216.0);
        return select(m, -m, sign != 0u);
    }
    // A normal half: the mantissa moves up 13 bits, the exponent is rebiased (15 → 127).
    return bitcast<f32>(sign | ((a << 13u) + 0x38000000u));
}

// The high (hi) or low half of word w, as f32.
fn half_of(w: u32, hi: bool) -> f32 {
    return half_value(select(w & 0xffffu, w >> 16u, hi));
}

// Word w with v added to its high (hi) or low half, rounded stochastically; the other half
// kept bit for bit.
fn half_add(w: u32, hi: bool, v: f32) -> u32 {
    round_state = pcg_hash(round_state ^ w ^ bitcast<u32>(v));
    let h = half_round(half_of(w, hi) + v, round_state);
    if (hi) {
        return (w & 0xffffu) | (h << 16u);
    }
    return (w & 0xffff0000u) | h;
}

// Weight d of row r of a part: word r * HALF + d mod HALF, its high half for d >= HALF.
fn element(r: u32, d: u32) -> vec2<u32> {
    let hi = d >= HALF;
    return vec2<u32>(r * HALF + select(d, d - HALF, hi), select(0u, 1u, hi));
}
