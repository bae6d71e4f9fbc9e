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

@group(0) @binding(0) var<storage, read> tok: array<u32>;
@group(0) @binding(1) var<storage, read> alias_table: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> loss_out: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> in0: array<{{MATRIX_ELEM}}>;
@group(0) @binding(4) var<storage, read_write> in1: array<{{MATRIX_ELEM}}>;
@group(0) @binding(5) var<storage, read_write> in2: array<{{MATRIX_ELEM}}>;
@group(0) @binding(6) var<storage, read_write> in3: array<{{MATRIX_ELEM}}>;
@group(0) @binding(7) var<storage, read_write> out0: array<{{MATRIX_ELEM}}>;
@group(0) @binding(8) var<storage, read_write> out1: array<{{MATRIX_ELEM}}>;
@group(0) @binding(9) var<storage, read_write> out2: array<{{MATRIX_ELEM}}>;
@group(0) @binding(10) var<storage, read_write> out3: array<{{MATRIX_ELEM}}>;

var<workgroup> ids_c: array<u32, MAXC>;
var<workgroup> ids_o: array<u32, NOUT>;
var<workgroup> n_ctx: u32;
var<workgroup> rows_c: array<f32, CROWS * DIM>;
var<workgroup> rows_o: array<f32, NOUT * DIM>;
var<workgroup> hvec: array<f32, DIM>;
var<workgroup> grad: array<f32, MAXC * NOUT>;
var<workgroup> gm: array<f32, MAXC * NOUT>;
var<workgroup> loss_part: array<vec2<f32>, WG>;

fn in_load(row: u32, d: u32) -> f32 {
    let part = row / RPP;
    let i = (row - part * RPP) * DIM + d;
    switch part {
        case 0u: { return LOAD(in0[i]); }
        case 1u: { return LOAD(in1[i]); }
        case 2u: { return LOAD(in2[i]); }
        default: { return LOAD(in3[i]); }
    }
}

fn in_add(row: u32, d: u32, v: f32) {
    let part = row / RPP;
    let i = (row - part * RPP) * DIM + d;
    switch part {
        case 0u: { ADD(in0[i], v); }
        case 1u: { ADD(in1[i], v); }
        case 2u: { ADD(in2[i], v); }
        default: { ADD(in3[i], v); }
    }
}

fn out_load(row: u32, d: u32) -> f32 {
    let part = row / RPP;
    let i = (row - part * RPP) * DIM + d;
    switch part {
        case 0u: { return LOAD(out0[i]); }
        case 1u: { return LOAD(out1[i]); }
        case 2u: { return LOAD(out2[i]); }
        default: { return LOAD(out3[i]); }
    }
}

fn out_add(row: u32, d: u32, v: f32) {
    let part = row / RPP;
    let i = (row - part * RPP) * DIM + d;
    switch part {
        case 0u: { ADD(out0[i], v); }
        case 1u: { ADD(out1[i], v); }
        case 2u: { ADD(out2[i], v); }
        default: { ADD(out3[i], v); }
    }
}

fn first_c(i: u32) -> bool {
    for (var k = 0u; k < i; k++) {
        if (ids_c[k] == ids_c[i]) {
            return false;
        }
    }
    return true;
}

fn first_o(j: u32) -> bool {
    for (var k = 0u; k < j; k++) {
        if (ids_o[k] == ids_o[j]) {
            return false;
        }
    }
    return true;
}

fn sample_noise(key: u32, pos: u32, j: u32) -> u32 {
    let n = arrayLength(&alias_table);
    let i = mulhi(rand_at(key, pos, 1u + 2u * j), n);
    let e = alias_table[i];
    if (e.x == 0xffffffffu || rand_at(key, pos, 2u + 2u * j) < e.x) {
        return i;
    }
    return e.y;
}

@compute @workgroup_size(WG)
fn train(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let pos = wid.x + wid.y * nwg.x;
    let alpha = bitcast<f32>(tok[0]);
    let key = tok[1];
    let n_tokens = tok[2];

    // Phase 1: the window (one invocation) and the noise words (NEG invocations).
    if (lid == 0u) {
        var nc = 0u;
        if (pos < n_tokens) {
            let centre = tok[HEADER + pos];
            if (centre != SENT) {
                let eff = WINDOW - mulhi(rand_at(key, pos, 0u), WINDOW);
                var lo = pos;
                loop {
                    if (lo == 0u || pos - lo >= eff) { break; }
                    if (tok[HEADER + lo - 1u] == SENT) { break; }
                    lo = lo - 1u;
                }
                var hi = pos;
                loop {
                    if (hi + 1u >= n_tokens || hi + 1u - pos > eff) { break; }
                    if (tok[HEADER + hi + 1u] == SENT) { break; }
                    hi = hi + 1u;
                }
                for (var c = lo; c <= hi; c++) {
                    if (c != pos) {
                        ids_c[nc] = tok[HEADER + c];
                        nc = nc + 1u;
                    }
                }
                ids_o[0] = centre;
            }
        }
        n_ctx = nc;
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
    } else {
        for (var e = lid; e < nc * DIM; e += WG) {
            rows_c[e] = in_load(ids_c[e / DIM], e % DIM);
        }
    }
    for (var e = lid; e < NOUT * DIM; e += WG) {
        rows_o[e] = out_load(ids_o[e / DIM], e % DIM);
    }
    workgroupBarrier();

    // Phase 3: logits, gradients and loss.
    var lsum = 0.0;
    var lterms = 0.0;
    let cells = select(nc * NOUT, NOUT, IS_CBOW);
    for (var cell = lid; cell < cells; cell += WG) {
        let i = cell / NOUT;
        let j = cell % NOUT;
        var g = 0.0;
        if (j == 0u || ids_o[j] != ids_o[0]) {
            var f = 0.0;
            for (var d = 0u; d < DIM; d++) {
                var x: f32;
                if (IS_CBOW) {
                    x = hvec[d];
                } else {
                    x = rows_c[i * DIM + d];
                }
                f += x * rows_o[j * DIM + d];
            }
            let r = sigmoid_bce(f, select(0.0, 1.0, j == 0u), alpha);
            g = r.x;
            lsum += r.y;
            lterms += 1.0;
        }
        grad[cell] = g;
    }
    loss_part[lid] = vec2<f32>(lsum, lterms);
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
        for (var e = lid; e < NOUT * DIM; e += WG) {
            let j = e / DIM;
            let d = e % DIM;
            if (first_o(j)) {
                var delta = 0.0;
                for (var i = 0u; i < nc; i++) {
                    delta += gm[i * NOUT + j] * rows_c[i * DIM + d];
                }
                out_add(ids_o[j], d, delta);
            }
        }
    }

    // The window's loss, for the progress bar.
    if (lid == 0u) {
        var t = vec2<f32>(0.0, 0.0);
        for (var k = 0u; k < WG; k++) {
            t += loss_part[k];
        }
        loss_out[pos] = t;
    }
}
