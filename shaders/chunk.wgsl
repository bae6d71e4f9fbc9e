// One workgroup per chunk of CHUNK consecutive centre positions, walked in order (FULL-W2V,
// ICS'21). The input rows of the 2·WINDOW+1 positions around the current centre live in a
// ring in workgroup memory: a row is loaded once when its position enters the ring and its
// accumulated change is flushed once, as one atomic add of (current − loaded), when it
// leaves. Inside a chunk the windows are applied one after another, as word2vec.c's threads
// do (a window sees the context rows the previous windows changed); chunks run in parallel
// and meet only through atomic adds, so no update is lost. Positions of the neighbouring
// chunks within WINDOW are loaded as a halo: both workgroups add their own deltas.
//
// Per window the math is the window kernel's (train.wgsl): noise words shared by the window,
// a (contexts × outputs) block of logits from the rows as they were when the window
// started, skip-gram dC = G·O and dO = Gᵀ·C, CBOW h = mean(C), dh = Σ g_j O_j. Output rows
// are random (noise words), so they are read from and added to global memory per window.
// A word that occurs twice inside one ring has a slot per occurrence; both slots' changes
// are flushed, so the total update is the same.

const IS_CBOW: bool = {{CBOW}};
// Centre positions per workgroup.
const CHUNK: u32 = {{CHUNK}}u;
// Ring slots: the positions p-WINDOW ..= p+WINDOW around the current centre p.
const RING: u32 = 2u * WINDOW + 1u;

var<workgroup> ring_cur: array<f32, RING * DIM>;
var<workgroup> ring_init: array<f32, RING * DIM>;
// Per position of the chunk, drawn up front in parallel: the window (bits 0-7: positions
// to the left, 8-15: to the right, inside the sentence and the effective window) and
// the noise words.
var<workgroup> win: array<u32, CHUNK>;
var<workgroup> noise: array<u32, CHUNK * NEG>;
var<workgroup> ids_o: array<u32, NOUT>;
var<workgroup> rows_o: array<f32, NOUT * DIM>;
// CBOW's mean context row (one unused element for skip-gram).
var<workgroup> hvec: array<f32, {{HVEC}}u>;
var<workgroup> grad: array<f32, MAXC * NOUT>;

// The token at position q of the step, SENT outside 0..n.
fn tok_at(q: i32, n: u32) -> u32 {
    if (q < 0 || u32(q) >= n) {
        return SENT;
    }
    return tok[HEADER + u32(q)];
}

// The ring slot of position q (q >= -WINDOW).
fn slot_of(q: i32) -> u32 {
    return u32(q + i32(WINDOW)) % RING;
}

// The ring slot of context word i of the window of centre p that starts `left` positions
// to its left (the centre itself is skipped).
fn ctx_slot(p: u32, left: u32, i: u32) -> u32 {
    return slot_of(i32(p) - i32(left) + i32(i) + select(0, 1, i >= left));
}

// Adds slot s's change since it was loaded to the input row of `id`.
fn flush(id: u32, s: u32, d: u32) {
    if (id != SENT) {
        let delta = ring_cur[s * DIM + d] - ring_init[s * DIM + d];
        if (delta != 0.0) {
            in_add(id, d, delta);
        }
    }
}

// The context side for window_logits: the context row of cell `cell` of the window of
// centre p is ring slot ctx_slot(p, left, cell / NOUT); CBOW reads the mean h.
fn input_base(p: u32, left: u32, cell: u32) -> u32 {
    return ctx_slot(p, left, cell / NOUT) * DIM;
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

fn input_at(base: u32, d: u32) -> f32 {
    if (IS_CBOW) {
        return hvec[d];
    }
    return ring_cur[base + d];
}

fn load(id: u32, s: u32, d: u32) {
    if (id != SENT) {
        let v = in_load(id, d);
        ring_cur[s * DIM + d] = v;
        ring_init[s * DIM + d] = v;
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
    let chunk = group_index(wid, nwg);
    let key = tok[1];
    let n = tok[2];
    let p0 = chunk * CHUNK;
    if (p0 >= n) {
        return;
    }
    enter_group(lid);
    let p1 = min(p0 + CHUNK, n);

    // Windows and noise words of every position, and the ring around the first centre.
    for (var k = lid; k < p1 - p0; k += WG) {
        let p = p0 + k;
        var w = 0u;
        if (tok[HEADER + p] != SENT) {
            let span = window_span(key, p, n);
            w = (p - span.x) | ((span.y - p) << 8u);
        }
        win[k] = w;
    }
    for (var e = lid; e < (p1 - p0) * NEG; e += WG) {
        noise[e] = sample_noise(key, p0 + e / NEG, e % NEG);
    }
    for (var e = lid; e < RING * DIM; e += WG) {
        let q = i32(p0) - i32(WINDOW) + i32(e / DIM);
        load(tok_at(q, n), slot_of(q), e % DIM);
    }

    var loss = vec2<f32>(0.0, 0.0);
    for (var p = p0; p < p1; p++) {
        // workgroupUniformLoad is also the barrier after the previous window's updates.
        let w = workgroupUniformLoad(&win[p - p0]);
        let left = w & 0xffu;
        let nc = left + (w >> 8u);
        let centre = tok[HEADER + p];
        // Slide (position p-1-WINDOW leaves, p+WINDOW enters the same slot) and gather the
        // output rows (global: other workgroups add to them), all loads in flight together.
        if (p > p0) {
            let q_out = i32(p) - 1 - i32(WINDOW);
            let q_in = i32(p) + i32(WINDOW);
            let s = slot_of(q_in);
            let id_out = tok_at(q_out, n);
            let id_in = tok_at(q_in, n);
            for (var d = lid; d < DIM; d += WG) {
                flush(id_out, s, d);
                load(id_in, s, d);
            }
        }
        if (nc == 0u) {
            continue;
        }
        for (var e = lid; e < NOUT * DIM; e += WG) {
            let j = e / DIM;
            var id = centre;
            if (j > 0u) {
                id = noise[(p - p0) * NEG + j - 1u];
            }
            if (e % DIM == 0u) {
                ids_o[j] = id;
            }
            rows_o[e] = out_load(id, e % DIM);
        }
        workgroupBarrier();
        if (IS_CBOW) {
            let inv = 1.0 / f32(nc);
            for (var d = lid; d < DIM; d += WG) {
                var s = 0.0;
                for (var i = 0u; i < nc; i++) {
                    s += ring_cur[ctx_slot(p, left, i) * DIM + d];
                }
                hvec[d] = s * inv;
            }
            workgroupBarrier();
        }

        // Logits, gradients and loss (matrices.wgsl).
        let alpha = position_rate(p);
        let cells = select(nc * NOUT, NOUT, IS_CBOW);
        window_logits(p, left, cells, alpha, sg_size, lane_index, &loss);
        workgroupBarrier();

        // Updates, one invocation per dimension: the output rows' deltas (from the context
        // rows as they were) go to global memory, then the context rows change in the ring.
        for (var d = lid; d < DIM; d += WG) {
            if (IS_CBOW) {
                var dh = 0.0;
                for (var j = 0u; j < NOUT; j++) {
                    let g = grad[j];
                    if (g != 0.0) {
                        out_add(ids_o[j], d, g * hvec[d]);
                    }
                    dh += g * rows_o[j * DIM + d];
                }
                for (var i = 0u; i < nc; i++) {
                    ring_cur[ctx_slot(p, left, i) * DIM + d] += dh;
                }
            } else {
                for (var j = 0u; j < NOUT; j++) {
                    var delta = 0.0;
                    for (var i = 0u; i < nc; i++) {
                        delta += grad[i * NOUT + j] * ring_cur[ctx_slot(p, left, i) * DIM + d];
                    }
                    if (delta != 0.0) {
                        out_add(ids_o[j], d, delta);
                    }
                }
                for (var i = 0u; i < nc; i++) {
                    var delta = 0.0;
                    for (var j = 0u; j < NOUT; j++) {
                        delta += grad[i * NOUT + j] * rows_o[j * DIM + d];
                    }
                    ring_cur[ctx_slot(p, left, i) * DIM + d] += delta;
                }
            }
        }
        // The next window reads the output rows this one added to.
        storageBarrier();
    }

    // Flush the ring around the last centre.
    workgroupBarrier();
    for (var e = lid; e < RING * DIM; e += WG) {
        let q = i32(p1) - 1 - i32(WINDOW) + i32(e / DIM);
        flush(tok_at(q, n), slot_of(q), e % DIM);
    }

    // The adds counted; the chunk's loss goes to its first position, the others report zero.
    finish_group(lid, loss, p0, p1);
}
