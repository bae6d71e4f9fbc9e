// Hierarchical softmax (--hs): one workgroup per centre position. The window's context
// rows (skip-gram) or their mean (CBOW) are trained along the centre word's path in the
// Huffman tree: at inner node points[k] against the label 1 - codes[k] (word2vec.c's
// g = (1 - code - sigma(f)) * alpha); a node whose logit is at or beyond +-MAX_EXP gets no
// update, as in word2vec.c, its loss still counted. The output side is the tree's matrix
// (word2vec.c's syn1, V - 1 rows) bound where the other kernels bind the output matrix.
//
// The path is walked in blocks of NB nodes held in workgroup memory, and inside a block the
// context words one after another in window order, as word2vec.c walks them: each context's
// logits read the node rows as the earlier contexts of the window left them, its gradient
// is taken from those rows before its own update changes them, and the node rows' changes
// are summed in d_o and added once per block (a path holds each node once). The context
// rows are read once into workgroup memory (skip-gram with LOCAL_CONTEXT false, when they
// do not fit beside one node row: read from the input matrix where used, which nothing but
// other windows changes before this path ends), their gradients summed over the blocks in
// `dc` and added when the path ends, those of a context word that repeats in the window summed onto its first
// occurrence. So the result does not depend on the block size, and equals word2vec.c's
// window (up to a context word that repeats in it: word2vec.c's second occurrence reads
// the row the first changed).
// With --negative > 0 this kernel runs after the negative-sampling kernel of the same step
// (same window, from the same counter-based draw) and adds its loss to that kernel's.
//
// Every lane writes the workgroup memory it reads before reading it (rows_c and dc in the
// gather, ids_o, labels, rows_o and d_o per block, grad in hs_logits), so the pipeline
// skips wgpu's zero-initialisation.

const IS_CBOW: bool = {{CBOW}};
// Context rows kept (CBOW keeps their mean in row 0).
const CROWS: u32 = {{CROWS}}u;
// Path nodes per block.
const NB: u32 = {{NB}}u;
// Whether the context rows are kept in workgroup memory (always for CBOW's mean).
const LOCAL_CONTEXT: bool = {{LOCAL_CONTEXT}};
// Rows of rows_c: CROWS when LOCAL_CONTEXT, else 1 (unused).
const CROWS_LOCAL: u32 = {{CROWS_LOCAL}}u;

// The Huffman paths: tree[w] .. tree[w + 1] are the indices in `tree` of word w's entries,
// root first, each (inner node << 1) | code.
@group(0) @binding(11) var<storage, read> tree: array<u32>;

var<workgroup> n_ctx: u32;
// The centre word's first entry in `tree` and its path length.
var<workgroup> path: vec2<u32>;
var<workgroup> ids_o: array<u32, NB>;
var<workgroup> labels: array<f32, NB>;
var<workgroup> rows_c: array<f32, CROWS_LOCAL * DIM>;
var<workgroup> dc: array<f32, CROWS * DIM>;
var<workgroup> rows_o: array<f32, NB * DIM>;
var<workgroup> d_o: array<f32, NB * DIM>;
var<workgroup> grad: array<f32, NB>;

// Dimension d of context row i (CBOW: the mean).
fn ctx_at(i: u32, d: u32) -> f32 {
    if (LOCAL_CONTEXT) {
        return rows_c[i * DIM + d];
    }
    return in_load(ids_c[i], d);
}

// Logits, gradients and loss of context row `i` against the block's `cells` node rows, a
// segment of lanes_per_cell lanes per dot product (as window_logits). Writes grad[cell]
// and adds this lane's (loss, terms) to *loss.
fn hs_logits(
    i: u32,
    cells: u32,
    alpha: f32,
    sg_size: u32,
    lane_index: u32,
    loss: ptr<function, vec2<f32>>,
) {
    let lpc = lanes_per_cell(cells, sg_size);
    let seg_lane = lane_index % lpc;
    for (var base = 0u; base < cells; base += WG / lpc) {
        let cell = base + lane_index / lpc;
        let live = cell < cells;
        let c = min(cell, cells - 1u);
        let o_base = c * DIM;
        var f = 0.0;
        if (live) {
            var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
            var d = seg_lane;
            for (; d + 3u * lpc < DIM; d += 4u * lpc) {
                let x = vec4<f32>(
                    ctx_at(i, d),
                    ctx_at(i, d + lpc),
                    ctx_at(i, d + 2u * lpc),
                    ctx_at(i, d + 3u * lpc),
                );
                let y = vec4<f32>(
                    rows_o[o_base + d],
                    rows_o[o_base + d + lpc],
                    rows_o[o_base + d + 2u * lpc],
                    rows_o[o_base + d + 3u * lpc],
                );
                acc += x * y;
            }
            for (; d < DIM; d += lpc) {
                acc.x += ctx_at(i, d) * rows_o[o_base + d];
            }
            f = (acc.x + acc.y) + (acc.z + acc.w);
        }
        f = seg_sum(f, lpc);
        if (live && seg_lane == 0u) {
            let r = sigmoid_bce(f, labels[c], alpha);
            var g = r.x;
            if (f <= -MAX_EXP || f >= MAX_EXP) {
                g = 0.0;
            }
            (*loss).x += r.y;
            (*loss).y += 1.0;
            grad[cell] = g;
        }
    }
}

@compute @workgroup_size(WG)
fn train(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
{{SG_PARAMS}}
) {
{{SG_LAYOUT}}
    let pos = window_position(wid, nwg);
    let key = tok[1];
    let n_tokens = tok[2];
    let alpha = position_rate(pos);

    // Phase 1: the window and the centre word's path (one invocation).
    if (lid == 0u) {
        let nc = window_context(key, pos, n_tokens);
        n_ctx = nc;
        path = vec2<u32>(0u, 0u);
        if (nc > 0u) {
            let w = tok[HEADER + pos];
            path = vec2<u32>(tree[w], tree[w + 1u] - tree[w]);
        }
    }
    let nc = workgroupUniformLoad(&n_ctx);
    if (nc == 0u) {
        if (lid == 0u && pos < n_tokens && !ADD_LOSS) {
            loss_out[pos] = vec2<f32>(0.0, 0.0);
        }
        return;
    }
    enter_group(lid);
    let p = workgroupUniformLoad(&path);

    // Phase 2: gather the context rows (CBOW: their mean), clear their gradients.
    let rows = select(nc, 1u, IS_CBOW);
    if (IS_CBOW) {
        let inv = 1.0 / f32(nc);
        for (var d = lid; d < DIM; d += WG) {
            var s = 0.0;
            for (var i = 0u; i < nc; i++) {
                s += in_load(ids_c[i], d);
            }
            rows_c[d] = s * inv;
            dc[d] = 0.0;
        }
    } else {
        for (var e = lid; e < nc * DIM; e += WG) {
            if (LOCAL_CONTEXT) {
                rows_c[e] = in_load(ids_c[e / DIM], e % DIM);
            }
            dc[e] = 0.0;
        }
    }

    // Phase 3: the path, block by block.
    var loss = vec2<f32>(0.0, 0.0);
    for (var b0 = 0u; b0 < p.y; b0 += NB) {
        let blen = min(NB, p.y - b0);
        if (lid < blen) {
            let e = tree[p.x + b0 + lid];
            ids_o[lid] = e >> 1u;
            labels[lid] = 1.0 - f32(e & 1u);
        }
        workgroupBarrier();
        for (var e = lid; e < blen * DIM; e += WG) {
            rows_o[e] = out_load(ids_o[e / DIM], e % DIM);
            d_o[e] = 0.0;
        }
        workgroupBarrier();
        for (var i = 0u; i < rows; i++) {
            hs_logits(i, blen, alpha, sg_size, lane_index, &loss);
            workgroupBarrier();
            // Each lane owns its dimensions: the context's gradient from the node rows as
            // they are, then the node rows' update (word2vec.c's order).
            for (var d = lid; d < DIM; d += WG) {
                let x = ctx_at(i, d);
                var s = 0.0;
                for (var j = 0u; j < blen; j++) {
                    let e = j * DIM + d;
                    s += grad[j] * rows_o[e];
                    let v = grad[j] * x;
                    rows_o[e] += v;
                    d_o[e] += v;
                }
                dc[i * DIM + d] += s;
            }
            workgroupBarrier();
        }
        // The node rows' changes: added once per block, each node once.
        for (var e = lid; e < blen * DIM; e += WG) {
            out_add(ids_o[e / DIM], e % DIM, d_o[e]);
        }
        workgroupBarrier();
    }

    // Phase 4: scatter-add the context rows' gradients, repeated words merged.
    if (IS_CBOW) {
        for (var d = lid; d < DIM; d += WG) {
            for (var i = 0u; i < nc; i++) {
                if (first_c(i)) {
                    var mult = 0.0;
                    for (var i2 = i; i2 < nc; i2++) {
                        if (ids_c[i2] == ids_c[i]) {
                            mult += 1.0;
                        }
                    }
                    in_add(ids_c[i], d, mult * dc[d]);
                }
            }
        }
    } else {
        for (var e = lid; e < nc * DIM; e += WG) {
            let i = e / DIM;
            let d = e % DIM;
            if (first_c(i)) {
                var s = 0.0;
                for (var i2 = i; i2 < nc; i2++) {
                    if (ids_c[i2] == ids_c[i]) {
                        s += dc[i2 * DIM + d];
                    }
                }
                in_add(ids_c[i], d, s);
            }
        }
    }

    finish_group(lid, loss, pos, pos + 1u);
}
