// doc2vec --dm-concat: one workgroup per position. The layer l1 is the concatenation of
// the position's document row and its 2 * WINDOW context rows (SLOTS rows of DIM), kept in
// workgroup memory with its gradient; the cells (tree nodes, then the centre word and the
// noise words) are scored one after another: each cell's logit is summed over the
// workgroup, its gradient added to the layer's, and its row updated (atomic adds) before
// the next cell is scored. Last, every input row of the layer gets its slice of the
// gradient (with FROZEN only the document's row). The CPU reference is
// concat_batch::reference_step.
//
// An output row is SLOTS * DIM floats long; matrices.wgsl addresses rows of DIM, so
// output row r is its sub-rows r * SLOTS .. r * SLOTS + SLOTS - 1 (the same layout).
//
// Upload: [0, 0, positions, offset of inputs, offset of cell offsets, offset of cells,
// offset of rates, 0] then the arrays (concat_batch::ConcatStep).

const SLOTS: u32 = 1u + 2u * WINDOW;
const LAYER: u32 = SLOTS * DIM;
// Output rows from here on are tree nodes (skipped when their logit saturates).
const TREE_BASE: u32 = {{TREE_BASE}}u;
// Inference (infer on the GPU): the output rows and the word rows stay as they are; only
// the document's row (slot 0) learns.
const FROZEN: bool = {{FROZEN}};

var<workgroup> l1: array<f32, LAYER>;
var<workgroup> work: array<f32, LAYER>;
var<workgroup> red: array<f32, WG>;
var<workgroup> span: vec2<u32>;

fn out_at(row: u32, e: u32) -> f32 {
    return out_load(row * SLOTS + e / DIM, e % DIM);
}

// The input row of slot s of position p.
fn input_row(p: u32, s: u32) -> u32 {
    return tok[tok[3] + p * SLOTS + s];
}

@compute @workgroup_size(WG)
fn concat(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let p = wid.x + wid.y * nwg.x;
    if (lid == 0u) {
        if (p < tok[2]) {
            span = vec2<u32>(tok[tok[4] + p], tok[tok[4] + p + 1u]);
        } else {
            span = vec2<u32>(1u, 0u);
        }
    }
    let cells = workgroupUniformLoad(&span);
    if (cells.x > cells.y) {
        return;
    }
    enter_group(lid);
    let alpha = bitcast<f32>(tok[tok[6] + p]);
    for (var e = lid; e < LAYER; e += WG) {
        l1[e] = in_load(input_row(p, e / DIM), e % DIM);
        work[e] = 0.0;
    }
    // Each lane reads and writes only its own elements of l1 and work (e = lid + k * WG),
    // so only the logit's sum needs the workgroup.
    var loss = vec2<f32>(0.0, 0.0);
    for (var c = cells.x; c < cells.y; c++) {
        let cell = tok[tok[5] + c];
        let row = cell >> 1u;
        let label = f32(cell & 1u);
        var s = 0.0;
        for (var e = lid; e < LAYER; e += WG) {
            s += l1[e] * out_at(row, e);
        }
        red[lid] = s;
        workgroupBarrier();
        for (var k = WG / 2u; k > 0u; k = k / 2u) {
            if (lid < k) {
                red[lid] += red[lid + k];
            }
            workgroupBarrier();
        }
        let f = red[0];
        workgroupBarrier();
        let r = sigmoid_bce(f, label, alpha);
        if (lid == 0u) {
            loss += vec2<f32>(r.y, 1.0);
        }
        if (row < TREE_BASE || (f > -MAX_EXP && f < MAX_EXP)) {
            for (var e = lid; e < LAYER; e += WG) {
                let o = row * SLOTS + e / DIM;
                let d = e % DIM;
                work[e] += r.x * out_load(o, d);
                if (!FROZEN) {
                    out_add(o, d, r.x * l1[e]);
                }
            }
        }
    }
    for (var e = lid; e < select(LAYER, DIM, FROZEN); e += WG) {
        in_add(input_row(p, e / DIM), e % DIM, work[e]);
    }
    finish_group(lid, loss, p, p + 1u);
}
