// One workgroup per tile of TILE consecutive centre positions, whose windows run together
// and share their context rows. The input rows of the positions p0-WINDOW ..
// p0+TILE-1+WINDOW (the slots) are loaded once into workgroup memory, every window of the
// tile computes its (contexts × outputs) logits from them and from its own output rows, and
// each touched row receives one atomic add per tile: the sum of the deltas of every window
// that used it, merged over slots that hold the same word. Consecutive windows share most
// of their context words, and frequent noise words repeat across the windows of a tile, so
// a tile issues fewer adds and loads than one workgroup per window (train.wgsl), without
// walking its windows one after another (chunk.wgsl). With TILE_NOISE all windows of the
// tile train against one draw of noise words, whose rows are loaded and added to once.
//
// Per window the math is the window kernel's: noise words shared by the window (or by the
// tile), skip-gram dC = G·O and dO = Gᵀ·C, CBOW h = mean(C) and dh = Σ g_j O_j to every
// context row, the learning rate of the centre's position. Every window of a tile reads
// the rows as they were when the tile started (a single tile is the snapshot reference,
// all windows reading the step's starting rows); tiles run in parallel and meet only
// through atomic adds, so no update is lost. The tiles run in the header's order (tok[5]):
// strided, the tiles running together lie far enough apart that their windows share no
// position (config::Order::tile_stride).

const IS_CBOW: bool = {{CBOW}};
// Centre positions per workgroup.
const TILE: u32 = {{CHUNK}}u;
// The noise words are drawn once per tile, at its first position, and shared by its
// windows (--gpu-tile-noise), so each noise row is loaded once and gets one add per tile;
// otherwise each window draws its own at its centre's position.
const TILE_NOISE: bool = {{TILE_NOISE}};
// Input-row slots: positions p0-WINDOW ..= p0+TILE-1+WINDOW.
const SLOTS: u32 = TILE + 2u * WINDOW;
// Output slots: NOUT per window (its centre, then its noise words); with TILE_NOISE the
// TILE centres, then the NEG noise words every window of the tile trains against.
const TOUT: u32 = {{TOUT}}u;
// Mean context rows kept for CBOW (one unused row for skip-gram).
const HROWS: u32 = {{HROWS}}u;
const NONE: u32 = 0xffffffffu;

var<workgroup> slot_rows: array<f32, SLOTS * DIM>;
var<workgroup> rows_o: array<f32, TOUT * DIM>;
var<workgroup> hvec: array<f32, HROWS * DIM>;
// Gradients of the tile's dot products, window after window: window k's cells start at
// cbase[k] (skip-gram: nc_k × NOUT of them, context-major; CBOW: NOUT, or none without a
// context).
var<workgroup> grad: array<f32, TILE * MAXC * NOUT>;
var<workgroup> cbase: array<u32, TILE + 1u>;
// Per window: bits 0-7 positions to the left, 8-15 to the right (0: no window).
var<workgroup> win: array<u32, TILE>;
var<workgroup> ids_o: array<u32, TOUT>;
var<workgroup> ids_s: array<u32, SLOTS>;
// The next slot holding the same word (NONE after the last), and whether a slot is the
// first to hold its word (the one that adds the merged delta).
var<workgroup> next_o: array<u32, TOUT>;
var<workgroup> lead_o: array<u32, TOUT>;
var<workgroup> next_s: array<u32, SLOTS>;
var<workgroup> lead_s: array<u32, SLOTS>;

// Window k's left extent and context count.
fn win_left(k: u32) -> u32 {
    return win[k] & 0xffu;
}

fn win_nc(k: u32) -> u32 {
    return (win[k] & 0xffu) + (win[k] >> 8u);
}

// The slot of context word i of window k (the centre, slot k + WINDOW, is skipped).
fn ctx_slot(k: u32, left: u32, i: u32) -> u32 {
    return k + WINDOW - left + i + select(0u, 1u, i >= left);
}

// The last cell this invocation looked up and its window (window_logits asks three times
// per cell).
var<private> memo_cell: u32 = NONE;
var<private> memo_k: u32;

// The window that cell `cell` belongs to: the last window whose cells start at or before it
// (a window without cells starts where the next one does).
fn cell_window(cell: u32) -> u32 {
    if (cell == memo_cell) {
        return memo_k;
    }
    var k = 0u;
    for (var m = 1u; m < TILE; m++) {
        if (cbase[m] <= cell) {
            k = m;
        }
    }
    memo_cell = cell;
    memo_k = k;
    return k;
}

// The context side for window_logits: skip-gram reads the cell's context slot, CBOW the
// mean h of its window.
fn input_base(p: u32, left: u32, cell: u32) -> u32 {
    let k = cell_window(cell);
    if (IS_CBOW) {
        return k * DIM;
    }
    return ctx_slot(k, win_left(k), (cell - cbase[k]) / NOUT) * DIM;
}

fn input_at(base: u32, d: u32) -> f32 {
    if (IS_CBOW) {
        return hvec[base + d];
    }
    return slot_rows[base + d];
}

// The output slot of window k's output j (0 its centre, then its noise words).
fn out_slot(k: u32, j: u32) -> u32 {
    if (TILE_NOISE) {
        return select(TILE + j - 1u, k, j == 0u);
    }
    return k * NOUT + j;
}

fn output_slot(cell: u32) -> u32 {
    return out_slot(cell_window(cell), cell % NOUT);
}

// The output slot of the centre of cell `cell`'s window (`o` is the cell's slot, `j` its
// output).
fn centre_slot(cell: u32, o: u32, j: u32) -> u32 {
    if (TILE_NOISE) {
        return cell_window(cell);
    }
    return o - j;
}

// The tile's first position.
var<private> tile_p0: u32;

// The rate at the cell's centre position (the tile's windows have positions of their own,
// so window_logits' one rate is not used).
fn cell_rate(alpha: f32, cell: u32) -> f32 {
    return position_rate(tile_p0 + cell_window(cell));
}

// Whether output slot o takes part: its window has a context, and a noise word equal to
// the window's centre gets no gradient (a shared noise word: in some window with a context
// and another centre).
fn live_o(o: u32) -> bool {
    if (TILE_NOISE) {
        if (o < TILE) {
            return win[o] != 0u;
        }
        for (var k = 0u; k < TILE; k++) {
            if (win[k] != 0u && ids_o[k] != ids_o[o]) {
                return true;
            }
        }
        return false;
    }
    let k = o / NOUT;
    let j = o % NOUT;
    return win[k] != 0u && (j == 0u || ids_o[o] != ids_o[k * NOUT]);
}

// The change of slot s's row in dimension d from every window of the tile that has s
// among its contexts: skip-gram Σ_j g_ij O_j[d], CBOW dh[d] = Σ_j g_j O_j[d].
fn slot_delta(s: u32, d: u32) -> f32 {
    var delta = 0.0;
    let k_lo = max(i32(s) - 2 * i32(WINDOW), 0);
    let k_hi = min(s, TILE - 1u);
    for (var k = u32(k_lo); k <= k_hi; k++) {
        let w = win[k];
        if (w == 0u) {
            continue;
        }
        let left = w & 0xffu;
        let off = i32(s) - i32(WINDOW) - i32(k);
        if (off == 0 || off < -i32(left) || off > i32(w >> 8u)) {
            continue;
        }
        var g0 = cbase[k];
        if (!IS_CBOW) {
            let i = u32(off + i32(left)) - select(0u, 1u, off > 0);
            g0 += i * NOUT;
        }
        for (var j = 0u; j < NOUT; j++) {
            delta += grad[g0 + j] * rows_o[out_slot(k, j) * DIM + d];
        }
    }
    return delta;
}

// The change of output slot o's row in dimension d from its window (a shared noise word:
// from every window with a context): skip-gram Σ_i g_ij C_i[d], CBOW g_j h[d].
fn out_delta(o: u32, d: u32) -> f32 {
    if (TILE_NOISE) {
        if (o < TILE) {
            return window_out_delta(o, 0u, d);
        }
        var delta = 0.0;
        for (var k = 0u; k < TILE; k++) {
            if (win[k] != 0u) {
                delta += window_out_delta(k, o - TILE + 1u, d);
            }
        }
        return delta;
    }
    return window_out_delta(o / NOUT, o % NOUT, d);
}

// The change of window k's output j in dimension d (a noise word equal to the centre has
// a zero gradient).
fn window_out_delta(k: u32, j: u32, d: u32) -> f32 {
    if (IS_CBOW) {
        return grad[cbase[k] + j] * hvec[k * DIM + d];
    }
    let left = win_left(k);
    var delta = 0.0;
    for (var i = 0u; i < win_nc(k); i++) {
        delta += grad[cbase[k] + i * NOUT + j] * slot_rows[ctx_slot(k, left, i) * DIM + d];
    }
    return delta;
}

@compute @workgroup_size(WG)
fn train(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
{{SG_PARAMS}}
) {
{{SG_LAYOUT}}
    let key = tok[1];
    let n = tok[2];
    // The tile: strided_index over the step's ⌈n/TILE⌉ tiles with the header's tile
    // stride (tok[5], config::Order::tile_stride; backend::tile_order); past them, none.
    let tile = strided_index(group_index(wid, nwg), (n + TILE - 1u) / TILE, tok[5]);
    let p0 = tile * TILE;
    tile_p0 = p0;
    if (p0 >= n) {
        return;
    }
    enter_group(lid);
    let cnt = min(TILE, n - p0);

    // Phase 1: every window's extent and output words (the centre and its noise words).
    for (var k = lid; k < TILE; k += WG) {
        let p = p0 + k;
        var w = 0u;
        if (k < cnt && tok[HEADER + p] != SENT) {
            let span = window_span(key, p, n);
            w = (p - span.x) | ((span.y - p) << 8u);
        }
        win[k] = w;
    }
    for (var o = lid; o < TOUT; o += WG) {
        let k = o / NOUT;
        let j = o % NOUT;
        var id = SENT;
        if (TILE_NOISE) {
            if (o >= TILE) {
                id = sample_noise(key, p0, o - TILE);
            } else if (o < cnt) {
                id = tok[HEADER + p0 + o];
            }
        } else if (k < cnt) {
            if (j == 0u) {
                id = tok[HEADER + p0 + k];
            } else {
                id = sample_noise(key, p0 + k, j - 1u);
            }
        }
        ids_o[o] = id;
    }
    workgroupBarrier();

    // Phase 2: where each window's cells start; the word of every slot some window reads.
    if (lid == 0u) {
        var c = 0u;
        for (var k = 0u; k < TILE; k++) {
            cbase[k] = c;
            let nc = win_nc(k);
            if (IS_CBOW) {
                c += select(0u, NOUT, nc > 0u);
            } else {
                c += nc * NOUT;
            }
        }
        cbase[TILE] = c;
    }
    for (var s = lid; s < SLOTS; s += WG) {
        let q = i32(p0) - i32(WINDOW) + i32(s);
        var id = NONE;
        let k_lo = max(i32(s) - 2 * i32(WINDOW), 0);
        let k_hi = min(s, cnt - 1u);
        for (var k = u32(k_lo); k <= k_hi; k++) {
            let w = win[k];
            let off = i32(s) - i32(WINDOW) - i32(k);
            if (w != 0u && off != 0 && off >= -i32(w & 0xffu) && off <= i32(w >> 8u)) {
                id = tok[HEADER + u32(q)];
                break;
            }
        }
        ids_s[s] = id;
    }
    workgroupBarrier();

    // Phase 3: the merge lists (slots holding the same word) and the loads.
    for (var s = lid; s < SLOTS; s += WG) {
        let id = ids_s[s];
        var lead = 0u;
        var next = NONE;
        if (id != NONE) {
            lead = 1u;
            for (var t = 0u; t < s; t++) {
                if (ids_s[t] == id) {
                    lead = 0u;
                }
            }
            for (var t = SLOTS - 1u; t > s; t--) {
                if (ids_s[t] == id) {
                    next = t;
                }
            }
        }
        lead_s[s] = lead;
        next_s[s] = next;
    }
    for (var o = lid; o < TOUT; o += WG) {
        var lead = 0u;
        var next = NONE;
        if (live_o(o)) {
            let id = ids_o[o];
            lead = 1u;
            for (var t = 0u; t < o; t++) {
                if (ids_o[t] == id && live_o(t)) {
                    lead = 0u;
                }
            }
            for (var t = TOUT - 1u; t > o; t--) {
                if (ids_o[t] == id && live_o(t)) {
                    next = t;
                }
            }
        }
        lead_o[o] = lead;
        next_o[o] = next;
    }
    for (var e = lid; e < SLOTS * DIM; e += WG) {
        let id = ids_s[e / DIM];
        if (id != NONE) {
            slot_rows[e] = in_load(id, e % DIM);
        }
    }
    for (var e = lid; e < TOUT * DIM; e += WG) {
        let o = e / DIM;
        // Every row a live cell reads (shared noise words: all of them, as a window with
        // their word for its centre still multiplies their row by its zero gradient).
        var used = win[o / NOUT] != 0u;
        if (TILE_NOISE) {
            used = o >= TILE || win[o] != 0u;
        }
        if (used) {
            rows_o[e] = out_load(ids_o[o], e % DIM);
        }
    }
    let cells = workgroupUniformLoad(&cbase[TILE]);
    var loss = vec2<f32>(0.0, 0.0);
    if (cells > 0u) {
        if (IS_CBOW) {
            for (var e = lid; e < TILE * DIM; e += WG) {
                let k = e / DIM;
                let nc = win_nc(k);
                if (nc > 0u) {
                    let left = win_left(k);
                    let d = e % DIM;
                    var s = 0.0;
                    for (var i = 0u; i < nc; i++) {
                        s += slot_rows[ctx_slot(k, left, i) * DIM + d];
                    }
                    hvec[e] = s * (1.0 / f32(nc));
                }
            }
            workgroupBarrier();
        }

        // Phase 4: logits, gradients and loss of every window (matrices.wgsl); the rate
        // is each cell's own centre position's (cell_rate).
        window_logits(p0, 0u, cells, 0.0, sg_size, lane_index, &loss);
        workgroupBarrier();

        // Phase 5: one add per touched row and dimension, merged over the slots holding
        // the same word.
        for (var e = lid; e < SLOTS * DIM; e += WG) {
            let s = e / DIM;
            if (lead_s[s] != 0u) {
                let d = e % DIM;
                var delta = 0.0;
                var t = s;
                loop {
                    delta += slot_delta(t, d);
                    t = next_s[t];
                    if (t == NONE) {
                        break;
                    }
                }
                in_add(ids_s[s], d, delta);
            }
        }
        for (var e = lid; e < TOUT * DIM; e += WG) {
            let o = e / DIM;
            if (lead_o[o] != 0u) {
                let d = e % DIM;
                var delta = 0.0;
                var t = o;
                loop {
                    delta += out_delta(t, d);
                    t = next_o[t];
                    if (t == NONE) {
                        break;
                    }
                }
                out_add(ids_o[o], d, delta);
            }
        }
    }

    // The adds counted; the tile's loss goes to its first position, the others report zero.
    finish_group(lid, loss, p0, p0 + cnt);
}
