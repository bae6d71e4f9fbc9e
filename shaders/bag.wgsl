// The input bags of the subword kernels (subword.wgsl, hs_subword.wgsl): skip-gram's is the
// centre word's own row and its n-gram bucket rows, CBOW's those of every context word.
//
// Paragraph vectors (doc2vec, DOC != 0, CBOW-shaped: the bag predicts the centre word): the
// document rows are input rows past the vocabulary, as buckets are, and the batch carries
// each position's document row after its tokens (tok[HEADER + n_tokens + pos]). PV-DBOW
// (DOC_DBOW): the bag is the document's row alone; PV-DM (DOC_DM): the context words' rows,
// then the document's. Either trains every position that holds a word, with or without
// context words (a one-word document still trains its vector).
//
// The input matrix holds the vocabulary's word rows followed by the bucket rows (split over
// the same four bindings by row range). `sub` holds, for every word w, the offsets
// sub[w]..sub[w + 1] of its input rows, which are stored from sub[VOCAB + 1] on (its own
// row first, then its n-grams' in fastText's order).

const VOCAB: u32 = {{VOCAB}}u;
const DOC_NONE: u32 = 0u;
const DOC_DBOW: u32 = 1u;
const DOC_DM: u32 = 2u;
const DOC: u32 = {{DOC}}u;
// Inference (infer on the GPU): every trained matrix stays as it is; only the document rows
// learn (the kernels add nothing to word, bucket, output or tree rows).
const FROZEN: bool = {{FROZEN}};

@group(0) @binding(11) var<storage, read> sub: array<u32>;

// Where word w's input rows start and end in `sub`.
fn bag_begin(w: u32) -> u32 {
    return VOCAB + 1u + sub[w];
}

fn bag_end(w: u32) -> u32 {
    return VOCAB + 1u + sub[w + 1u];
}

// The window of centre position `pos` (one invocation): its context words in ids_c
// (window_context; none for PV-DBOW); returns their number plus one when the position
// trains, 0 when it does not (a separator, a position past the batch, or a word-only bag
// without context words).
fn bag_window(key: u32, pos: u32, n_tokens: u32) -> u32 {
    if (DOC == DOC_NONE) {
        let nc = window_context(key, pos, n_tokens);
        return select(0u, nc + 1u, nc > 0u);
    }
    if (pos >= n_tokens || tok[HEADER + pos] == SENT) {
        return 0u;
    }
    if (DOC == DOC_DBOW) {
        return 1u;
    }
    return window_context(key, pos, n_tokens) + 1u;
}

// bag_window's count for the workgroup, found by one invocation.
var<workgroup> n_ctx: u32;

// Phase 1 of the bag kernels: the window of centre position `pos`, found by invocation 0
// and returned to every invocation (bag_window's count: 0 when the position trains
// nothing, whose loss is then reported as zero unless an earlier kernel of the step
// reported it, ADD_LOSS).
fn bag_start(lid: u32, key: u32, pos: u32, n_tokens: u32) -> u32 {
    if (lid == 0u) {
        n_ctx = bag_window(key, pos, n_tokens);
    }
    let trains = workgroupUniformLoad(&n_ctx);
    if (trains == 0u && lid == 0u && pos < n_tokens && !ADD_LOSS) {
        loss_out[pos] = vec2<f32>(0.0, 0.0);
    }
    return trains;
}

// The input row of position pos's document (paragraph vectors; 0, unused, otherwise).
fn bag_doc(pos: u32, n_tokens: u32) -> u32 {
    if (DOC == DOC_NONE) {
        return 0u;
    }
    return doc_row(pos, n_tokens);
}

// The input row of position pos's document (paragraph vectors only).
fn doc_row(pos: u32, n_tokens: u32) -> u32 {
    return tok[HEADER + n_tokens + pos];
}

// Word-rows of the bag: skip-gram's centre word, CBOW's (and PV-DM's) nc context words,
// none for PV-DBOW.
fn bag_words(nc: u32) -> u32 {
    if (DOC == DOC_DBOW) {
        return 0u;
    }
    return select(1u, nc, IS_CBOW);
}

// Dimension d of the mean of the bag of centre word `centre` with nc context words in
// ids_c (and, for paragraph vectors, the document's row `doc` last), summed in bag order.
fn bag_mean(centre: u32, nc: u32, doc: u32, d: u32) -> f32 {
    var s = 0.0;
    var n = 0u;
    for (var i = 0u; i < bag_words(nc); i++) {
        let w = select(centre, ids_c[i], IS_CBOW);
        for (var r = bag_begin(w); r < bag_end(w); r++) {
            s += in_load(sub[r], d);
            n += 1u;
        }
    }
    if (DOC != DOC_NONE) {
        s += in_load(doc, d);
        n += 1u;
    }
    return s * (1.0 / f32(n));
}

// Adds v to dimension d of every row of the bag, once per occurrence (as fastText does);
// FROZEN: to the document's row only.
fn bag_add(centre: u32, nc: u32, doc: u32, d: u32, v: f32) {
    for (var i = 0u; i < select(bag_words(nc), 0u, FROZEN); i++) {
        let w = select(centre, ids_c[i], IS_CBOW);
        for (var r = bag_begin(w); r < bag_end(w); r++) {
            in_add(sub[r], d, v);
        }
    }
    if (DOC != DOC_NONE) {
        in_add(doc, d, v);
    }
}
