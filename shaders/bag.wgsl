// The input bags of the subword kernels (subword.wgsl, hs_subword.wgsl): skip-gram's is the
// centre word's own row and its n-gram bucket rows, CBOW's those of every context word.
//
// The input matrix holds the vocabulary's word rows followed by the bucket rows (split over
// the same four bindings by row range). `sub` holds, for every word w, the offsets
// sub[w]..sub[w + 1] of its input rows, which are stored from sub[VOCAB + 1] on (its own
// row first, then its n-grams' in fastText's order).

const VOCAB: u32 = {{VOCAB}}u;

@group(0) @binding(11) var<storage, read> sub: array<u32>;

// Where word w's input rows start and end in `sub`.
fn bag_begin(w: u32) -> u32 {
    return VOCAB + 1u + sub[w];
}

fn bag_end(w: u32) -> u32 {
    return VOCAB + 1u + sub[w + 1u];
}

// Dimension d of the mean of the bag of centre word `centre` with nc context words in
// ids_c, summed in bag order.
fn bag_mean(centre: u32, nc: u32, d: u32) -> f32 {
    var s = 0.0;
    var n = 0u;
    let words = select(1u, nc, IS_CBOW);
    for (var i = 0u; i < words; i++) {
        let w = select(centre, ids_c[i], IS_CBOW);
        for (var r = bag_begin(w); r < bag_end(w); r++) {
            s += in_load(sub[r], d);
            n += 1u;
        }
    }
    return s * (1.0 / f32(n));
}

// Adds v to dimension d of every row of the bag, once per occurrence (as fastText does).
fn bag_add(centre: u32, nc: u32, d: u32, v: f32) {
    let words = select(1u, nc, IS_CBOW);
    for (var i = 0u; i < words; i++) {
        let w = select(centre, ids_c[i], IS_CBOW);
        for (var r = bag_begin(w); r < bag_end(w); r++) {
            in_add(sub[r], d, v);
        }
    }
}
