// fastText's supervised classifier on the GPU (src/classify_batch.rs describes a step and
// its CPU reference). Three kernels, dispatched in this order:
// - `hidden`, a workgroup per line: h, the mean of the line's input rows (summed in order),
//   from the input matrix as it was before the step;
// - `labels`, one workgroup: the output layer, block after block of LABEL_BLOCK lines (the
//   header's word 8; 1 is fastText's line-after-line order): the block's logits from the
//   output matrix as the previous block left it, each line's cell coefficients g (softmax
//   over its cells, or a logistic loss per cell), its dh = Σ g · output row / rows, then
//   every cell's g · h added to its output row. The output rows — every label's row is in
//   every softmax line — are thus never added to by two lines at once;
// - `apply`, a workgroup per group of an input row's occurrences (at most GROUP, made on
//   the host): their lines' dh summed in order and added to the row once per weight
//   (atomic: a frequent word's row has several groups).
//
// The upload (`tok`): [lines, lr bits, line records at, rows at, cells at, groups at,
// entries at, groups, label block, 0, 0, 0]; a line record is [rows lo, rows hi, cells lo,
// cells hi] (into the rows and cells arrays), a cell is `output row << 1 | label`, a group
// is [row, entries lo, entries hi, scale (f32 bits)], an entry is a line.

const SOFTMAX: bool = {{SOFTMAX}};
// The output matrix's weights when `labels` keeps it in workgroup memory (copied in at its
// start, out at its end: no other kernel of a step reads or writes it), 0 when it reads and
// adds to the matrix where it lives.
const OUT_LOCAL: u32 = {{OUT_LOCAL}}u;

@group(0) @binding(13) var<storage, read_write> hbuf: array<f32>;
@group(0) @binding(14) var<storage, read_write> dhbuf: array<f32>;
@group(0) @binding(15) var<storage, read_write> gbuf: array<f32>;

var<workgroup> loss_lanes: array<f32, WG>;
var<workgroup> o_local: array<f32, max(OUT_LOCAL, 1u)>;

// Weight d of output row `row` becomes v (the end of `labels` with OUT_LOCAL); the store for
// the matrix's element type is written in by src/backend/gpu/shaders.rs.
fn out_store(row: u32, d: u32, v: f32) {
    let part = row / RPP;
    let i = element(row - part * RPP, d).x;
    switch part {
        case 0u: { {{STORE0}} }
        case 1u: { {{STORE1}} }
        case 2u: { {{STORE2}} }
        default: { {{STORE3}} }
    }
}

fn o_get(row: u32, d: u32) -> f32 {
    if (OUT_LOCAL > 0u) {
        return o_local[row * DIM + d];
    }
    return out_load(row, d);
}

// Only the invocation of dimension d adds to weight d of a row (no race in the workgroup).
fn o_add(row: u32, d: u32, v: f32) {
    if (OUT_LOCAL > 0u) {
        o_local[row * DIM + d] += v;
    } else {
        out_add(row, d, v);
    }
}

fn line_rec(l: u32, k: u32) -> u32 {
    return tok[tok[2] + 4u * l + k];
}

@compute @workgroup_size(WG)
fn hidden(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let line = wid.x + wid.y * nwg.x;
    if (line >= tok[0]) {
        return;
    }
    let r_lo = tok[3] + line_rec(line, 0u);
    let r_hi = tok[3] + line_rec(line, 1u);
    let inv = 1.0 / f32(r_hi - r_lo);
    for (var d = lid; d < DIM; d += WG) {
        var s = 0.0;
        for (var r = r_lo; r < r_hi; r++) {
            s += in_load(tok[r], d);
        }
        hbuf[line * DIM + d] = s * inv;
    }
}

@compute @workgroup_size(WG)
fn labels(
    @builtin(local_invocation_index) lid: u32,
{{SG_PARAMS}}
) {
{{SG_LAYOUT}}
    let n = tok[0];
    let lr = bitcast<f32>(tok[1]);
    let cells_at = tok[4];
    let block = max(tok[8], 1u);
    var loss = 0.0;
    if (OUT_LOCAL > 0u) {
        for (var i = lid; i < OUT_LOCAL; i += WG) {
            o_local[i] = out_load(i / DIM, i % DIM);
        }
        workgroupBarrier();
    }
    for (var b0 = 0u; b0 < n; b0 += block) {
        let b1 = min(b0 + block, n);
        let c_first = line_rec(b0, 2u);
        let cells = line_rec(b1 - 1u, 3u) - c_first;

        // The block's logits, a segment of lanes per cell, into gbuf.
        let lpc = lanes_per_cell(cells, sg_size);
        let seg_lane = lane_index % lpc;
        for (var base = 0u; base < cells; base += WG / lpc) {
            let cell = base + lane_index / lpc;
            var f = 0.0;
            if (cell < cells) {
                let c = c_first + cell;
                var l = b0;
                while (line_rec(l, 3u) <= c) {
                    l++;
                }
                let o = tok[cells_at + c] >> 1u;
                let h = l * DIM;
                var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
                var d = seg_lane;
                for (; d + 3u * lpc < DIM; d += 4u * lpc) {
                    let x = vec4<f32>(
                        hbuf[h + d],
                        hbuf[h + d + lpc],
                        hbuf[h + d + 2u * lpc],
                        hbuf[h + d + 3u * lpc],
                    );
                    let y = vec4<f32>(
                        o_get(o, d),
                        o_get(o, d + lpc),
                        o_get(o, d + 2u * lpc),
                        o_get(o, d + 3u * lpc),
                    );
                    acc += x * y;
                }
                for (; d < DIM; d += lpc) {
                    acc.x += hbuf[h + d] * o_get(o, d);
                }
                f = (acc.x + acc.y) + (acc.z + acc.w);
            }
            f = seg_sum(f, lpc);
            if (cell < cells && seg_lane == 0u) {
                gbuf[c_first + cell] = f;
            }
        }
        storageBarrier();
        workgroupBarrier();

        // Each line's g = lr (label − p) and loss, an invocation per line.
        for (var l = b0 + lid; l < b1; l += WG) {
            let lo = line_rec(l, 2u);
            let hi = line_rec(l, 3u);
            if (SOFTMAX) {
                var m = gbuf[lo];
                for (var c = lo + 1u; c < hi; c++) {
                    m = max(m, gbuf[c]);
                }
                var s = 0.0;
                for (var c = lo; c < hi; c++) {
                    s += exp(gbuf[c] - m);
                }
                for (var c = lo; c < hi; c++) {
                    let p = exp(gbuf[c] - m) / s;
                    let label = (tok[cells_at + c] & 1u) == 1u;
                    if (label) {
                        loss += -log(max(p, 1e-30));
                    }
                    gbuf[c] = lr * (select(0.0, 1.0, label) - p);
                }
            } else {
                for (var c = lo; c < hi; c++) {
                    let f = gbuf[c];
                    let label = (tok[cells_at + c] & 1u) == 1u;
                    let z = select(f, -f, label);
                    loss += max(z, 0.0) + log(1.0 + exp(-abs(z)));
                    gbuf[c] = lr * (select(0.0, 1.0, label) - 1.0 / (1.0 + exp(-f)));
                }
            }
        }
        storageBarrier();

        // dh from the rows as the block found them, then the block's adds, an invocation
        // per dimension (so a row twice in a line is added to twice, in order, with no race).
        for (var d = lid; d < DIM; d += WG) {
            for (var l = b0; l < b1; l++) {
                var s = 0.0;
                for (var c = line_rec(l, 2u); c < line_rec(l, 3u); c++) {
                    let g = gbuf[c];
                    if (g != 0.0) {
                        s += g * o_get(tok[cells_at + c] >> 1u, d);
                    }
                }
                dhbuf[l * DIM + d] = s * (1.0 / f32(line_rec(l, 1u) - line_rec(l, 0u)));
            }
            for (var l = b0; l < b1; l++) {
                let h = hbuf[l * DIM + d];
                for (var c = line_rec(l, 2u); c < line_rec(l, 3u); c++) {
                    let g = gbuf[c];
                    if (g != 0.0) {
                        o_add(tok[cells_at + c] >> 1u, d, g * h);
                    }
                }
            }
        }
        storageBarrier();
        workgroupBarrier();
    }
    if (OUT_LOCAL > 0u) {
        for (var i = lid; i < OUT_LOCAL; i += WG) {
            out_store(i / DIM, i % DIM, o_local[i]);
        }
    }
    loss_lanes[lid] = loss;
    workgroupBarrier();
    if (lid == 0u) {
        var t = 0.0;
        for (var k = 0u; k < WG; k++) {
            t += loss_lanes[k];
        }
        loss_out[0] = loss_out[0] + vec2<f32>(t, f32(n));
    }
}

@compute @workgroup_size(WG)
fn apply(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let group = wid.x + wid.y * nwg.x;
    if (group >= tok[7]) {
        return;
    }
    let rec = tok[5] + 4u * group;
    let row = tok[rec];
    let e_lo = tok[6] + tok[rec + 1u];
    let e_hi = tok[6] + tok[rec + 2u];
    let scale = bitcast<f32>(tok[rec + 3u]);
    for (var d = lid; d < DIM; d += WG) {
        var s = 0.0;
        for (var e = e_lo; e < e_hi; e++) {
            s += dhbuf[tok[e] * DIM + d];
        }
        in_add(row, d, s * scale);
    }
}
