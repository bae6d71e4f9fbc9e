// The context words of a window, gathered by one invocation (train.wgsl, subword.wgsl, hs.wgsl).

var<workgroup> ids_c: array<u32, MAXC>;

// Writes the context words of centre position `pos` (its effective window cut at sentence
// ends, the centre left out) into ids_c and returns how many: none for a sentence separator
// or a position past the batch's `n_tokens`.
fn window_context(key: u32, pos: u32, n_tokens: u32) -> u32 {
    var nc = 0u;
    if (pos < n_tokens && tok[HEADER + pos] != SENT) {
        let span = window_span(key, pos, n_tokens);
        for (var c = span.x; c <= span.y; c++) {
            if (c != pos) {
                ids_c[nc] = tok[HEADER + c];
                nc = nc + 1u;
            }
        }
    }
    return nc;
}

// Whether context slot i holds the first occurrence of its word in the window (the slot a
// repeated word's gradients are summed onto).
fn first_c(i: u32) -> bool {
    for (var k = 0u; k < i; k++) {
        if (ids_c[k] == ids_c[i]) {
            return false;
        }
    }
    return true;
}
