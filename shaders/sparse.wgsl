// Minibatch optimizers (lazy Adagrad, Adam, RMSprop; plain SGD for --deterministic): one
// step in two kernels, with no atomics, so a step's result is the same on every run.
//
// `grad`: one workgroup per example. Gathers the example's input rows (their mean h),
// computes the sigma-BCE logits against its output rows, and writes, for this example
// only: h, the coefficients c_j = sigma(f_j) - y_j and dL/dh = sum_j c_j u_j. All reads see
// the rows as they were when the step began: no kernel writes a row until `apply`.
// `apply`: one workgroup per slot (unique row of the minibatch). Sums the row's gradient
// along its occurrence list in example order (output row: sum c_j h; input row: sum
// dL/dh / n), then updates the row's optimizer state and the row once. Each slot is a
// distinct row, so nothing conflicts; rows outside the minibatch are never touched.
//
// Each matrix row is stored as a record [w (DIM) | state (NSTATE * DIM)] so a row's weights
// and state sit together; a matrix larger than one storage binding is split by row range.
// The math is the CPU reference's (src/backend/cpu_sparse.rs, src/optim.rs).

const NSTATE: u32 = {{NSTATE}}u;
const REC: u32 = (1u + NSTATE) * DIM;
// 0 Adagrad, 1 Adam, 2 RMSprop, 3 SGD.
const OPT: u32 = {{OPT}}u;
const BETA1: f32 = {{BETA1}};
const BETA2: f32 = {{BETA2}};
const EPS: f32 = {{EPS}};
// Input rows (the vocabulary's, then any subword bucket rows): Adam's output-row counts
// follow the input rows' in `aux`. Output rows: the vocabulary's.
const IN_ROWS: u32 = {{IN_ROWS}}u;
const OUT_ROWS: u32 = {{OUT_ROWS}}u;
// --dense-optimizer (a measuring baseline): every row of both matrices is updated every
// step, an unused one with gradient 0 (`decay`), and Adam counts the steps of the run
// (header word 13), not each row's. `aux` then holds, per row, the last step that updated
// it in `apply`, which `decay` skips.
const DENSE: bool = {{DENSE}};
const SGD_SUM_LIMIT: f32 = {{SGD_SUM_LIMIT}};
// Values of one record kept per invocation (DIM / WG rounded up).
const DPT: u32 = (DIM + WG - 1u) / WG;
const MB_HEADER: u32 = 16u;
const SKIP: u32 = 0xffffffffu;
// Examples a step can hold: per-example arrays in `ex` are sized for it.
const MAXEX: u32 = {{MAXEX}}u;
const EX_DH: u32 = MAXEX * DIM;
const EX_COEF: u32 = 2u * MAXEX * DIM;

// Minibatch upload: [lr bits, input slots, examples, output slots, then the offsets of
// in_rows, out_rows, example offsets, input slots, output slots, input occurrence offsets,
// input occurrences, output occurrence offsets, output occurrences, the run's step count
// (from 1), 0...] then the arrays.
@group(0) @binding(0) var<storage, read> mb: array<u32>;
// Per example: h (MAXEX x DIM), dL/dh (MAXEX x DIM), coefficients (MAXEX x NOUT).
@group(0) @binding(1) var<storage, read_write> ex: array<f32>;
// Binding 2: the per-example loss (vec2<f32> bits) for `grad`; Adam's per-row update
// counts (input rows, then output rows) for `apply`, or with DENSE the step that last
// updated each row, for `apply` and `decay`. Each pipeline gets its own buffer.
@group(0) @binding(2) var<storage, read_write> aux: array<u32>;
@group(0) @binding(3) var<storage, read_write> in0: array<f32>;
@group(0) @binding(4) var<storage, read_write> in1: array<f32>;
@group(0) @binding(5) var<storage, read_write> in2: array<f32>;
@group(0) @binding(6) var<storage, read_write> in3: array<f32>;
@group(0) @binding(7) var<storage, read_write> out0: array<f32>;
@group(0) @binding(8) var<storage, read_write> out1: array<f32>;
@group(0) @binding(9) var<storage, read_write> out2: array<f32>;
@group(0) @binding(10) var<storage, read_write> out3: array<f32>;

var<workgroup> part: array<f32, NOUT * WG>;
var<workgroup> coef: array<f32, NOUT>;
var<workgroup> loss_part: array<vec2<f32>, NOUT>;
var<workgroup> t_shared: u32;

fn rec_get(out: bool, row: u32, k: u32) -> f32 {
    let p = row / RPP;
    let i = (row - p * RPP) * REC + k;
    if (out) {
        switch p {
            case 0u: { return out0[i]; }
            case 1u: { return out1[i]; }
            case 2u: { return out2[i]; }
            default: { return out3[i]; }
        }
    }
    switch p {
        case 0u: { return in0[i]; }
        case 1u: { return in1[i]; }
        case 2u: { return in2[i]; }
        default: { return in3[i]; }
    }
}

fn rec_set(out: bool, row: u32, k: u32, v: f32) {
    let p = row / RPP;
    let i = (row - p * RPP) * REC + k;
    if (out) {
        switch p {
            case 0u: { out0[i] = v; }
            case 1u: { out1[i] = v; }
            case 2u: { out2[i] = v; }
            default: { out3[i] = v; }
        }
    } else {
        switch p {
            case 0u: { in0[i] = v; }
            case 1u: { in1[i] = v; }
            case 2u: { in2[i] = v; }
            default: { in3[i] = v; }
        }
    }
}

@compute @workgroup_size(WG)
fn grad(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let e = wid.x + wid.y * nwg.x;
    let n_examples = mb[2];
    if (e >= n_examples) {
        return;
    }
    let in_rows = mb[4];
    let out_rows = mb[5];
    let offsets = mb[6];
    let inputs = mb[7];
    let outputs = mb[8];
    let beg = mb[offsets + e];
    let end = mb[offsets + e + 1u];
    let inv = 1.0 / f32(end - beg);

    // h: this invocation's components d = lid + k * WG, kept in registers.
    var h: array<f32, DPT>;
    for (var k = 0u; k < DPT; k++) {
        let d = lid + k * WG;
        if (d < DIM) {
            var s = 0.0;
            for (var i = beg; i < end; i++) {
                s += rec_get(false, mb[in_rows + mb[inputs + i]], d);
            }
            if (end - beg > 1u) {
                s = s * inv;
            }
            h[k] = s;
        }
    }
    // Partial dot products h . u_j over this invocation's components.
    for (var j = 0u; j < NOUT; j++) {
        let slot = mb[outputs + e * NOUT + j];
        var s = 0.0;
        if (slot != SKIP) {
            let row = mb[out_rows + slot];
            for (var k = 0u; k < DPT; k++) {
                let d = lid + k * WG;
                if (d < DIM) {
                    s += h[k] * rec_get(true, row, d);
                }
            }
        }
        part[j * WG + lid] = s;
    }
    workgroupBarrier();
    if (lid < NOUT) {
        let slot = mb[outputs + e * NOUT + lid];
        var c = 0.0;
        var l = vec2<f32>(0.0, 0.0);
        if (slot != SKIP) {
            var f = 0.0;
            for (var k = 0u; k < WG; k++) {
                f += part[lid * WG + k];
            }
            let r = sigmoid_bce(f, select(0.0, 1.0, lid == 0u), 1.0);
            // dL/df = sigma(f) - y = -g.
            c = -r.x;
            l = vec2<f32>(r.y, 1.0);
        }
        coef[lid] = c;
        loss_part[lid] = l;
    }
    workgroupBarrier();
    for (var k = 0u; k < DPT; k++) {
        let d = lid + k * WG;
        if (d < DIM) {
            var dh = 0.0;
            for (var j = 0u; j < NOUT; j++) {
                let slot = mb[outputs + e * NOUT + j];
                if (slot != SKIP) {
                    dh += coef[j] * rec_get(true, mb[out_rows + slot], d);
                }
            }
            ex[e * DIM + d] = h[k];
            ex[EX_DH + e * DIM + d] = dh;
        }
    }
    if (lid < NOUT) {
        ex[EX_COEF + e * NOUT + lid] = coef[lid];
    }
    if (lid == 0u) {
        var t = vec2<f32>(0.0, 0.0);
        for (var j = 0u; j < NOUT; j++) {
            t += loss_part[j];
        }
        // aux holds the per-example loss as vec2<f32> bits.
        aux[2u * e] = bitcast<u32>(t.x);
        aux[2u * e + 1u] = bitcast<u32>(t.y);
    }
}

@compute @workgroup_size(WG)
fn apply(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let q = wid.x + wid.y * nwg.x;
    let n_in_slots = mb[1];
    let n_slots = n_in_slots + mb[3];
    if (q >= n_slots) {
        return;
    }
    let lr = bitcast<f32>(mb[0]);
    let is_out = q >= n_in_slots;
    var row: u32;
    if (is_out) {
        row = mb[mb[5] + q - n_in_slots];
    } else {
        row = mb[mb[4] + q];
    }
    // Adam: this row's own update count (aux holds the counts of both matrices), or with
    // DENSE the run's; DENSE marks the row as updated by this step.
    let ti = row + select(0u, IN_ROWS, is_out);
    var rate = vec2<f32>(lr, EPS);
    if (DENSE) {
        if (lid == 0u) {
            aux[ti] = mb[13];
        }
        rate = adam_rate(lr, mb[13]);
    } else if (OPT == 1u) {
        if (lid == 0u) {
            t_shared = aux[ti] + 1u;
            aux[ti] = t_shared;
        }
        rate = adam_rate(lr, workgroupUniformLoad(&t_shared));
    }
    var occ_lo: u32;
    var occ_hi: u32;
    if (is_out) {
        occ_lo = mb[mb[11] + q - n_in_slots];
        occ_hi = mb[mb[11] + q - n_in_slots + 1u];
    } else {
        occ_lo = mb[mb[9] + q];
        occ_hi = mb[mb[9] + q + 1u];
    }
    let offsets = mb[6];
    for (var d = lid; d < DIM; d += WG) {
        // The row's gradient, summed along its occurrences in example order.
        var g = 0.0;
        if (is_out) {
            for (var o = occ_lo; o < occ_hi; o++) {
                let at = mb[mb[12] + o];
                let e = at / NOUT;
                g += ex[EX_COEF + at] * ex[e * DIM + d];
            }
        } else {
            for (var o = occ_lo; o < occ_hi; o++) {
                let e = mb[mb[10] + o];
                let n = mb[offsets + e + 1u] - mb[offsets + e];
                // SGD: every row of a bag takes the whole dL/dh, as word2vec.c updates
                // (cpu_sparse::whole_bag); the adaptive methods the gradient of the mean.
                let share = select(1.0 / f32(n), 1.0, OPT == 3u);
                g += share * ex[EX_DH + e * DIM + d];
            }
        }
        if (OPT == 3u) {
            // Minibatch SGD: at most SGD_SUM_LIMIT gradients' worth per row (src/optim.rs).
            g = g * min(1.0, SGD_SUM_LIMIT / f32(max(occ_hi - occ_lo, 1u)));
        }
        update(is_out, row, d, g, lr, rate);
    }
}

// Adam's rate and epsilon at update count t (Kingma & Ba's efficient form, src/optim.rs):
// lr·√(1−β₂ᵗ)/(1−β₁ᵗ) and ε·√(1−β₂ᵗ); (lr, ε) for the other methods.
fn adam_rate(lr: f32, count: u32) -> vec2<f32> {
    if (OPT != 1u) {
        return vec2<f32>(lr, EPS);
    }
    let t = f32(max(count, 1u));
    var c1 = 1.0;
    var c2 = 1.0;
    if (BETA1 > 0.0) {
        c1 = 1.0 - exp2(t * log2(BETA1));
    }
    if (BETA2 > 0.0) {
        c2 = 1.0 - exp2(t * log2(BETA2));
    }
    let s2 = sqrt(c2);
    return vec2<f32>(lr * s2 / c1, EPS * s2);
}

// One optimizer update of element d of a row with gradient g (src/optim.rs's update_row);
// `rate` is adam_rate's.
fn update(is_out: bool, row: u32, d: u32, g: f32, lr: f32, rate: vec2<f32>) {
    var w = rec_get(is_out, row, d);
    if (OPT == 3u) {
        w -= lr * g;
    } else if (OPT == 0u) {
        let s = rec_get(is_out, row, DIM + d) + g * g;
        rec_set(is_out, row, DIM + d, s);
        w -= lr * g / (sqrt(s) + EPS);
    } else if (OPT == 2u) {
        let s = BETA2 * rec_get(is_out, row, DIM + d) + (1.0 - BETA2) * g * g;
        rec_set(is_out, row, DIM + d, s);
        w -= lr * g / (sqrt(s) + EPS);
    } else {
        let m = BETA1 * rec_get(is_out, row, DIM + d) + (1.0 - BETA1) * g;
        let v = BETA2 * rec_get(is_out, row, 2u * DIM + d) + (1.0 - BETA2) * g * g;
        rec_set(is_out, row, DIM + d, m);
        rec_set(is_out, row, 2u * DIM + d, v);
        w -= rate.x * m / (sqrt(v) + rate.y);
    }
    rec_set(is_out, row, d, w);
}

// DENSE only: one workgroup per row of both matrices (input rows, then output rows); a row
// `apply` did not update this step takes the update of gradient 0 (Adam: the moments
// decay and the row keeps moving; RMSprop: the mean square decays; Adagrad and SGD: no
// change, so the kernel is not run for them).
@compute @workgroup_size(WG)
fn decay(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let q = wid.x + wid.y * nwg.x;
    if (q >= IN_ROWS + OUT_ROWS || aux[q] == mb[13]) {
        return;
    }
    let is_out = q >= IN_ROWS;
    let row = select(q, q - IN_ROWS, is_out);
    let lr = bitcast<f32>(mb[0]);
    let rate = adam_rate(lr, mb[13]);
    for (var d = lid; d < DIM; d += WG) {
        update(is_out, row, d, 0.0, lr, rate);
    }
}
