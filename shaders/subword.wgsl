// Subword units (fastText's skip-gram and CBOW with character n-grams): one workgroup per
// centre position. The hidden vector h is the mean of a bag of input rows — skip-gram: the
// centre word's own row and its n-gram bucket rows; CBOW: those of every context word — and
// every row of the bag receives the whole gradient dh (fastText does not divide it).
// Outputs: skip-gram: each context word (label 1) with NEG noise words of its own, drawn
// with the context's key (fastText draws fresh noise for every (centre, context) pair);
// CBOW: the centre word and NEG noise words. A noise word equal to its positive gets no
// gradient.
//
// The bag's rows: bag.wgsl.
//
// Updates: each invocation owns dimensions d = lid, lid + WG, ...: it sums dh[d] over the
// output rows as this workgroup found them, then adds g_j h[d] to every output row and
// dh[d] to every bag row, in order. A row repeated in a window (an n-gram twice, a noise
// word twice, a context word twice) is therefore added to once per occurrence, as fastText
// does, with no race inside the workgroup; across workgroups the adds are atomic (Hogwild,
// as the word kernels).

const IS_CBOW: bool = {{CBOW}};

var<workgroup> ids_o: array<u32, MAXC * NOUT>;
var<workgroup> hvec: array<f32, DIM>;
var<workgroup> grad: array<f32, MAXC * NOUT>;

// The random key of context i's noise words (skip-gram); identical to
// sampling::context_key.
fn context_key(key: u32, i: u32) -> u32 {
    return pcg_hash(key ^ (0x9e3779b9u * (i + 1u)));
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

    // Phase 1: the window.
    let trains = bag_start(lid, key, pos, n_tokens);
    if (trains == 0u) {
        return;
    }
    enter_group(lid);
    let nc = trains - 1u;
    let centre = tok[HEADER + pos];
    let doc = bag_doc(pos, n_tokens);

    // The outputs: cell i * NOUT + j is context i's positive (j = 0) or its noise word j
    // (skip-gram); cell j for CBOW.
    let cells = select(nc * NOUT, NOUT, IS_CBOW);
    for (var cell = lid; cell < cells; cell += WG) {
        let i = cell / NOUT;
        let j = cell % NOUT;
        var id: u32;
        if (IS_CBOW) {
            if (j == 0u) {
                id = centre;
            } else {
                id = sample_noise(key, pos, j - 1u);
            }
        } else {
            if (j == 0u) {
                id = ids_c[i];
            } else {
                id = sample_noise(context_key(key, i), pos, j - 1u);
            }
        }
        ids_o[cell] = id;
    }

    // Phase 2: h, the mean of the bag's input rows, summed in bag order.
    for (var d = lid; d < DIM; d += WG) {
        hvec[d] = bag_mean(centre, nc, doc, d);
    }
    workgroupBarrier();

    // Phase 3: logits, gradients and loss, a segment of lanes per cell.
    var loss = vec2<f32>(0.0, 0.0);
    let lpc = lanes_per_cell(cells, sg_size);
    let seg_lane = lane_index % lpc;
    for (var base = 0u; base < cells; base += WG / lpc) {
        let cell = base + lane_index / lpc;
        let j = cell % NOUT;
        var live = false;
        if (cell < cells) {
            live = j == 0u || ids_o[cell] != ids_o[cell - j];
        }
        var f = 0.0;
        if (live) {
            let o = ids_o[cell];
            // Four partial sums: four independent chains (see window_logits).
            var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
            var d = seg_lane;
            for (; d + 3u * lpc < DIM; d += 4u * lpc) {
                let x = vec4<f32>(hvec[d], hvec[d + lpc], hvec[d + 2u * lpc], hvec[d + 3u * lpc]);
                let y = vec4<f32>(
                    out_load(o, d),
                    out_load(o, d + lpc),
                    out_load(o, d + 2u * lpc),
                    out_load(o, d + 3u * lpc),
                );
                acc += x * y;
            }
            for (; d < DIM; d += lpc) {
                acc.x += hvec[d] * out_load(o, d);
            }
            f = (acc.x + acc.y) + (acc.z + acc.w);
        }
        f = seg_sum(f, lpc);
        if (cell < cells && seg_lane == 0u) {
            var g = 0.0;
            if (live) {
                let r = sigmoid_bce(f, select(0.0, 1.0, j == 0u), alpha);
                g = r.x;
                loss.x += r.y;
                loss.y += 1.0;
            }
            grad[cell] = g;
        }
    }
    workgroupBarrier();

    // Phase 4: dh from the outputs as found, then the scatter-adds, dimension by dimension.
    for (var d = lid; d < DIM; d += WG) {
        var dh = 0.0;
        for (var c = 0u; c < cells; c++) {
            let g = grad[c];
            if (g != 0.0) {
                dh += g * out_load(ids_o[c], d);
            }
        }
        let h = hvec[d];
        for (var c = 0u; c < cells; c++) {
            let g = grad[c];
            if (g != 0.0 && !FROZEN) {
                out_add(ids_o[c], d, g * h);
            }
        }
        bag_add(centre, nc, doc, d, dh);
    }
    // The adds counted, and the window's loss, for the progress bar.
    finish_group(lid, loss, pos, pos + 1u);
}
