// The bindings and row accessors shared by the SGD training kernels (train.wgsl, chunk.wgsl,
// tile.wgsl, subword.wgsl, hs.wgsl, hs_subword.wgsl). A matrix larger than one storage binding
// is split by row range over four bindings.

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
// Adds into the matrices issued by all workgroups so far, a 64-bit count (low word, high
// word), for the report's atomic adds per word; with IN_FLIGHT, the workgroups running now
// (word 2) and the most seen running at once (word 3).
@group(0) @binding(12) var<storage, read_write> add_count: array<atomic<u32>, 4>;
// Whether workgroups count themselves in and out (W2V_GPU_IN_FLIGHT_PEAK, for measuring:
// three more atomics per workgroup on two words every workgroup shares).
const IN_FLIGHT: bool = {{IN_FLIGHT}};
// Whether the kernel adds its loss to what an earlier kernel of the same step wrote
// (hierarchical softmax after negative sampling) instead of writing it.
const ADD_LOSS: bool = {{ADD_LOSS}};

// The index of this dispatch's first workgroup in the step's kernel (x; 0 unless
// --gpu-in-flight splits the step into dispatches of that many workgroups, one after
// another; a dynamic offset gives each split its own).
@group(0) @binding(14) var<uniform> dispatch_base: vec4<u32>;

// The index of workgroup `wid` in the step's kernel, from a dispatch of `nwg` (laid out in
// two dimensions past 32,768 workgroups): the centre position, chunk or tile it trains.
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return dispatch_base.x + wid.x + wid.y * nwg.x;
}

// Item (g mod ⌈n/S⌉)·S + ⌊g / ⌈n/S⌉⌋ of n in the order of stride S (1 or 0: in order), for
// the g-th workgroup (backend::run_order: 0, S, 2S, ..., then 1, 1 + S, ...); n, which
// trains nothing, for a workgroup past them. The dispatch has ⌈n/S⌉·S workgroups or more.
fn strided_index(g: u32, n: u32, stride: u32) -> u32 {
    let s = max(stride, 1u);
    let per = (n + s - 1u) / s;
    if (per == 0u || g / per >= s) {
        return n;
    }
    return min((g % per) * s + g / per, n);
}

// The position the workgroup (wid, nwg) trains on the window-per-position kernels (window,
// subword, hierarchical softmax): strided_index over the step's n positions with the
// header's order stride (tok[4]).
fn window_position(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return strided_index(group_index(wid, nwg), tok[2], tok[4]);
}

// The learning rate at position `pos` of this step (the header's first and last rates,
// tok[0] and tok[3], over its tok[2] positions).
fn position_rate(pos: u32) -> f32 {
    return rate_at(bitcast<f32>(tok[0]), bitcast<f32>(tok[3]), pos, tok[2]);
}

// This invocation's adds into the matrices; summed per workgroup by finish_group.
var<private> adds: u32;
// finish_group's slots: one per lane, or with subgroup sums one per subgroup (at most WG / 4:
// no adapter has subgroups of fewer than 4 lanes) where the kernel declares that few.
// Workgroup memory is what bounds how many workgroups a compute unit runs (an H200 held
// 48 KiB of them per SM: BENCHMARKS.md), so a 512-lane workgroup's 6 KiB of slots cost lanes.
const LANE_SLOTS: u32 = {{LANE_SLOTS}}u;
var<workgroup> adds_part: array<u32, LANE_SLOTS>;
var<workgroup> loss_part: array<vec2<f32>, LANE_SLOTS>;
// With subgroup sums, set by the kernel's layout: this invocation's subgroup, whether it is
// its subgroup's first lane, and the workgroup's subgroups (finish_group's slots).
var<private> sg_slot: u32;
var<private> sg_first: bool;
var<private> sg_slots: u32;

// The start of every SGD workgroup that reaches finish_group (after its early return):
// with IN_FLIGHT, invocation 0 counts the workgroup in and raises the peak.
fn enter_group(lid: u32) {
    if (IN_FLIGHT && lid == 0u) {
        let running = atomicAdd(&add_count[2], 1u) + 1u;
        atomicMax(&add_count[3], running);
    }
}

// The end of every SGD workgroup: called by every invocation, in uniform control flow, after
// its last add, with its (loss, terms). Each lane's counts (with subgroup sums: each
// subgroup's, summed by subgroupAdd) go to a slot, one barrier, then invocation 0 sums the
// slots (WG of them, or one per subgroup: a loop of WG steps at the end of every workgroup
// was a measurable part of a window's time on a hardware GPU), adds the workgroup's adds to
// add_count (one global atomic per workgroup; a carry into the high word) and writes the
// workgroup's loss to loss_out[first] (adds it, with ADD_LOSS); positions first+1 .. end
// (the rest of a chunk or tile) report zero.
fn finish_group(lid: u32, loss: vec2<f32>, first: u32, end: u32) {
    var lane_adds = adds;
    var lane_loss = loss;
    var slot = lid;
    var writer = true;
    var slots = WG;
{{GROUP_SUM}}
    if (writer) {
        adds_part[slot] = lane_adds;
        loss_part[slot] = lane_loss;
    }
    workgroupBarrier();
    if (lid == 0u) {
        var n = 0u;
        var t = vec2<f32>(0.0, 0.0);
        for (var k = 0u; k < slots; k++) {
            n += adds_part[k];
            t += loss_part[k];
        }
        if (IN_FLIGHT) {
            atomicSub(&add_count[2], 1u);
        }
        let old = atomicAdd(&add_count[0], n);
        if (old > 0xffffffffu - n) {
            atomicAdd(&add_count[1], 1u);
        }
        if (ADD_LOSS) {
            loss_out[first] = loss_out[first] + t;
        } else {
            loss_out[first] = t;
        }
    }
    for (var q = first + 1u + lid; q < end; q += WG) {
        loss_out[q] = vec2<f32>(0.0, 0.0);
    }
}

// Where weight d of row r of a part lives, from access_f32.wgsl or access_f16.wgsl
// (--precision), in place of this placeholder: the word's index, and 1 for the high half of
// a word of two halves.
{{ACCESS}}

// Row accessors. Their LOAD and ADD placeholders are rewritten for the update mode and the
// storage (src/backend/gpu/shaders.rs): with halves, LOAD reads the half `hi` selects and ADD
// replaces it with half_add's result (access_f16.wgsl); `hi` is unused with f32.
fn in_load(row: u32, d: u32) -> f32 {
    let part = row / RPP;
    let at = element(row - part * RPP, d);
    let i = at.x;
    let hi = at.y != 0u;
    switch part {
        case 0u: { return LOAD(in0[i]); }
        case 1u: { return LOAD(in1[i]); }
        case 2u: { return LOAD(in2[i]); }
        default: { return LOAD(in3[i]); }
    }
}

fn in_add(row: u32, d: u32, v: f32) {
    adds += 1u;
    let part = row / RPP;
    let at = element(row - part * RPP, d);
    let i = at.x;
    let hi = at.y != 0u;
    switch part {
        case 0u: { ADD(in0[i], v); }
        case 1u: { ADD(in1[i], v); }
        case 2u: { ADD(in2[i], v); }
        default: { ADD(in3[i], v); }
    }
}

fn out_load(row: u32, d: u32) -> f32 {
    let part = row / RPP;
    let at = element(row - part * RPP, d);
    let i = at.x;
    let hi = at.y != 0u;
    switch part {
        case 0u: { return LOAD(out0[i]); }
        case 1u: { return LOAD(out1[i]); }
        case 2u: { return LOAD(out2[i]); }
        default: { return LOAD(out3[i]); }
    }
}

fn out_add(row: u32, d: u32, v: f32) {
    adds += 1u;
    let part = row / RPP;
    let at = element(row - part * RPP, d);
    let i = at.x;
    let hi = at.y != 0u;
    switch part {
        case 0u: { ADD(out0[i], v); }
        case 1u: { ADD(out1[i], v); }
        case 2u: { ADD(out2[i], v); }
        default: { ADD(out3[i], v); }
    }
}


// The context span [lo, hi] of the centre at `pos` among `n` tokens: the effective window
// (uniform in 1..=WINDOW, from the counter-based hash) cut at sentence ends; identical to
// backend::cpu::window_at.
fn window_span(key: u32, pos: u32, n: u32) -> vec2<u32> {
    let eff = WINDOW - mulhi(rand_at(key, pos, 0u), WINDOW);
    var lo = pos;
    loop {
        if (lo == 0u || pos - lo >= eff) { break; }
        if (tok[HEADER + lo - 1u] == SENT) { break; }
        lo = lo - 1u;
    }
    var hi = pos;
    loop {
        if (hi + 1u >= n || hi + 1u - pos > eff) { break; }
        if (tok[HEADER + hi + 1u] == SENT) { break; }
        hi = hi + 1u;
    }
    return vec2<u32>(lo, hi);
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

// Dot products over the dimensions are cut into segments of `lpc` lanes (a power of two, at
// most the subgroup size): lane `lane` of a segment sums dimensions lane, lane + lpc, ...
// and seg_sum adds the segment's partial sums (subgroup shuffles; with serial reduction
// lpc is 1 and seg_sum returns its argument). The layout placeholders below give each
// invocation its subgroup size, lane and subgroup (serial: a subgroup of one).
fn seg_sum(v: f32, lpc: u32) -> f32 {
{{SEG_SUM}}
}

// The lanes per dot product for `cells` dot products in a workgroup: the largest power of
// two with lpc * cells <= WG, lpc <= sg_size and lpc <= DIM.
fn lanes_per_cell(cells: u32, sg_size: u32) -> u32 {
    var lpc = 1u;
    loop {
        let next = lpc * 2u;
        if (next > sg_size || next * cells > WG || next > DIM) {
            break;
        }
        lpc = next;
    }
    return lpc;
}
