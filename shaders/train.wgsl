// One workgroup per centre position of the batch: gather the rows of its window, compute
// the sigma-BCE gradients against the centre word and NEG noise words (shared by the whole
// window), and scatter-add updates to only those rows.
//
// Skip-gram: every context word's input row is trained against the centre's output row
// (label 1) and the noise words' output rows (label 0): a (contexts x outputs) block of
// logits, whose gradient G gives dC = G * O and dO = G^T * C.
// CBOW: the mean h of the context input rows is trained against the outputs; every
// context row receives dh = sum_j g_j O_j and each output row g_j h.
//
// Rows that repeat inside a window have their gradients summed before the single write.
// Different workgroups update shared (frequent) rows without locks, as word2vec.c's threads
// do (Hogwild). With atomic updates (the default) each element is added with a
// compare-and-swap loop on its bit pattern, so no update is lost however many workgroups
// hit a frequent row at once; with racy updates a plain read-add-write is used, which on a
// real GPU loses most updates of the hottest rows (measured: see BENCHMARKS.md).

const IS_CBOW: bool = {{CBOW}};
// Context rows kept in workgroup memory (skip-gram needs them for dO; CBOW only needs h).
const CROWS: u32 = {{CROWS}}u;
// Whether skip-gram's context rows are gathered into workgroup memory (rows_c) or read from
// the matrix where they are used (`--gpu-context-rows device`: rows_c shrinks to one row,
// so more workgroups fit on a compute unit at large --dim; the reads go through the cache).
// Their own updates are added last, after every read of them, so both read the same rows
// wherever no other workgroup adds to them at the same time.
const CTX_LOCAL: bool = {{CTX_LOCAL}};

var<workgroup> ids_o: array<u32, NOUT>;
var<workgroup> n_ctx: u32;
var<workgroup> rows_c: array<f32, CROWS * DIM>;
var<workgroup> rows_o: array<f32, NOUT * DIM>;
// CBOW's mean context row (one unused element for skip-gram).
var<workgroup> hvec: array<f32, {{HVEC}}u>;
var<workgroup> grad: array<f32, MAXC * NOUT>;
var<workgroup> gm: array<f32, MAXC * NOUT>;

// The context side for window_logits: the context row of cell `cell` is context slot
// i = cell / NOUT; CBOW reads the mean h.
fn input_base(p: u32, left: u32, cell: u32) -> u32 {
    return cell / NOUT;
}

// The window's outputs are ids_o[0..NOUT], at one rate.
fn output_slot(cell: u32) -> u32 {
    return cell % NOUT;
}

// The slot of the centre of the window of cell `cell`, whose output slot `o` is its output `j`.
fn centre_slot(cell: u32, o: u32, j: u32) -> u32 {
    return o - j;
}

fn cell_rate(alpha: f32, cell: u32) -> f32 {
    return alpha;
}

fn input_at(i: u32, d: u32) -> f32 {
    if (IS_CBOW) {
        return hvec[d];
    }
    return context_at(i, d);
}

// Weight d of skip-gram's context slot i, as gathered at the start of the window.
fn context_at(i: u32, d: u32) -> f32 {
    if (CTX_LOCAL) {
        return rows_c[i * DIM + d];
    }
    return in_load(ids_c[i], d);
}

fn first_o(j: u32) -> bool {
    for (var k = 0u; k < j; k++) {
        if (ids_o[k] == ids_o[j]) {
            return false;
        }
    }
    return true;
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

    // Phase 1: the window (one invocation) and the noise words (NEG invocations).
    if (lid == 0u) {
        n_ctx = window_context(key, pos, n_tokens);
        if (pos < n_tokens) {
            ids_o[0] = tok[HEADER + pos];
        }
    } else if (lid <= NEG) {
        ids_o[lid] = sample_noise(key, pos, lid - 1u);
    }
    let nc = workgroupUniformLoad(&n_ctx);
    if (nc == 0u) {
        if (lid == 0u && pos < n_tokens) {
            loss_out[pos] = vec2<f32>(0.0, 0.0);
        }
        return;
    }
    enter_group(lid);

    // Phase 2: gather.
    if (IS_CBOW) {
        let inv = 1.0 / f32(nc);
        for (var d = lid; d < DIM; d += WG) {
            var s = 0.0;
            for (var i = 0u; i < nc; i++) {
                s += in_load(ids_c[i], d);
            }
            hvec[d] = s * inv;
        }
    } else if (CTX_LOCAL) {
        for (var e = lid; e < nc * DIM; e += WG) {
            rows_c[e] = in_load(ids_c[e / DIM], e % DIM);
        }
    }
    for (var e = lid; e < NOUT * DIM; e += WG) {
        rows_o[e] = out_load(ids_o[e / DIM], e % DIM);
    }
    workgroupBarrier();

    // Phase 3: logits, gradients and loss (matrices.wgsl).
    var loss = vec2<f32>(0.0, 0.0);
    let cells = select(nc * NOUT, NOUT, IS_CBOW);
    window_logits(pos, 0u, cells, alpha, sg_size, lane_index, &loss);
    workgroupBarrier();

    // Phase 4: merge the gradients of repeated rows onto their first occurrence.
    for (var cell = lid; cell < cells; cell += WG) {
        let i = cell / NOUT;
        let j = cell % NOUT;
        var s = 0.0;
        if ((IS_CBOW || first_c(i)) && first_o(j)) {
            let i_end = select(nc, 1u, IS_CBOW);
            for (var i2 = i; i2 < i_end; i2++) {
                if (IS_CBOW || ids_c[i2] == ids_c[i]) {
                    for (var j2 = j; j2 < NOUT; j2++) {
                        if (ids_o[j2] == ids_o[j]) {
                            s += grad[i2 * NOUT + j2];
                        }
                    }
                }
            }
        }
        gm[cell] = s;
    }
    workgroupBarrier();

    // Phase 5: scatter-add into the touched rows only.
    if (IS_CBOW) {
        for (var d = lid; d < DIM; d += WG) {
            var dh = 0.0;
            for (var j = 0u; j < NOUT; j++) {
                dh += gm[j] * rows_o[j * DIM + d];
            }
            for (var i = 0u; i < nc; i++) {
                if (first_c(i)) {
                    var mult = 0.0;
                    for (var i2 = i; i2 < nc; i2++) {
                        if (ids_c[i2] == ids_c[i]) {
                            mult += 1.0;
                        }
                    }
                    in_add(ids_c[i], d, mult * dh);
                }
            }
        }
        for (var e = lid; e < NOUT * DIM; e += WG) {
            let j = e / DIM;
            if (first_o(j)) {
                out_add(ids_o[j], e % DIM, gm[j] * hvec[e % DIM]);
            }
        }
    } else {
        // The outputs first: their deltas read the context rows, which (read from the
        // matrix) must not have taken this window's own adds yet.
        for (var e = lid; e < NOUT * DIM; e += WG) {
            let j = e / DIM;
            let d = e % DIM;
            if (first_o(j)) {
                var delta = 0.0;
                for (var i = 0u; i < nc; i++) {
                    delta += gm[i * NOUT + j] * context_at(i, d);
                }
                out_add(ids_o[j], d, delta);
            }
        }
        if (!CTX_LOCAL) {
            workgroupBarrier();
        }
        for (var e = lid; e < nc * DIM; e += WG) {
            let i = e / DIM;
            let d = e % DIM;
            if (first_c(i)) {
                var delta = 0.0;
                for (var j = 0u; j < NOUT; j++) {
                    delta += gm[i * NOUT + j] * rows_o[j * DIM + d];
                }
                in_add(ids_c[i], d, delta);
            }
        }
    }

    // The adds counted, and the window's loss, for the progress bar.
    finish_group(lid, loss, pos, pos + 1u);
}
