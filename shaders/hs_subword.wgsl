// Hierarchical softmax with subword units (--hs --subwords, fastText's -loss hs): one
// workgroup per centre position. The hidden vector h is the mean of the window's input bag
// (bag.wgsl: skip-gram the centre word's own row and n-gram rows, CBOW those of every
// context word). Skip-gram trains h along each context word's Huffman path, one context
// after another as fastText does; CBOW along the centre word's path. Inner node n of a path
// is trained against the label 1 - code (word2vec.c's g = (1 - code - sigma(f)) * alpha,
// as hs.wgsl); a node whose logit is at or beyond +-MAX_EXP gets no update, its loss still
// counted.
//
// fastText adds each context's input-side gradient e to every bag row before the next
// context and recomputes h as their mean, so h moves by exactly e: here h += e in workgroup
// memory, the bag rows get the window's summed gradient once, when it ends. The node rows
// are not held in workgroup memory: each block of NB path nodes reads them from the tree's
// matrix (bound where the other kernels bind the output matrix), takes e from them as found
// and adds g h to them atomically; a storage barrier after each block, so the next context
// (whose path shares the nodes near the root) reads them as this one left them.
// With --negative > 0 this kernel runs after the subword kernel of the same step (same
// window, from the same counter-based draw) and adds its loss to that kernel's.
//
// Every lane writes the workgroup memory it reads before reading it (hvec, dh, e owned per
// dimension; ids_o, labels, grad per block), so the pipeline skips wgpu's zero-initialisation.

const IS_CBOW: bool = {{CBOW}};
// Path nodes per block.
const NB: u32 = {{NB}}u;

// The Huffman paths, as hs.wgsl's (word w's entries tree[tree[w]] .. tree[tree[w + 1]],
// root first, each (inner node << 1) | code).
@group(0) @binding(13) var<storage, read> tree: array<u32>;

// The current target's first entry in `tree` and its path length.
var<workgroup> path: vec2<u32>;
var<workgroup> ids_o: array<u32, NB>;
var<workgroup> labels: array<f32, NB>;
var<workgroup> grad: array<f32, NB>;
var<workgroup> hvec: array<f32, DIM>;
// The window's input-side gradient, and the current target's.
var<workgroup> dh: array<f32, DIM>;
var<workgroup> e: array<f32, DIM>;

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

    // Phase 2: h, the mean of the bag's input rows; the window's gradient cleared.
    for (var d = lid; d < DIM; d += WG) {
        hvec[d] = bag_mean(centre, nc, doc, d);
        dh[d] = 0.0;
    }

    // Phase 3: the targets' paths, one target after another, each in blocks.
    var loss = vec2<f32>(0.0, 0.0);
    let targets = select(nc, 1u, IS_CBOW);
    for (var t = 0u; t < targets; t++) {
        if (lid == 0u) {
            let w = select(ids_c[t], centre, IS_CBOW);
            path = vec2<u32>(tree[w], tree[w + 1u] - tree[w]);
        }
        let p = workgroupUniformLoad(&path);
        for (var d = lid; d < DIM; d += WG) {
            e[d] = 0.0;
        }
        for (var b0 = 0u; b0 < p.y; b0 += NB) {
            let blen = min(NB, p.y - b0);
            if (lid < blen) {
                let entry = tree[p.x + b0 + lid];
                ids_o[lid] = entry >> 1u;
                labels[lid] = 1.0 - f32(entry & 1u);
            }
            workgroupBarrier();
            // Logits, gradients and loss, a segment of lanes per node (as subword.wgsl).
            let lpc = lanes_per_cell(blen, sg_size);
            let seg_lane = lane_index % lpc;
            for (var base = 0u; base < blen; base += WG / lpc) {
                let cell = base + lane_index / lpc;
                let live = cell < blen;
                let o = ids_o[min(cell, blen - 1u)];
                var f = 0.0;
                if (live) {
                    var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
                    var d = seg_lane;
                    for (; d + 3u * lpc < DIM; d += 4u * lpc) {
                        let x = vec4<f32>(
                            hvec[d],
                            hvec[d + lpc],
                            hvec[d + 2u * lpc],
                            hvec[d + 3u * lpc],
                        );
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
                if (live && seg_lane == 0u) {
                    let r = sigmoid_bce(f, labels[cell], alpha);
                    var g = r.x;
                    if (f <= -MAX_EXP || f >= MAX_EXP) {
                        g = 0.0;
                    }
                    loss.x += r.y;
                    loss.y += 1.0;
                    grad[cell] = g;
                }
            }
            workgroupBarrier();
            // Each lane owns its dimensions: e from the node rows as found, then their adds.
            for (var d = lid; d < DIM; d += WG) {
                let h = hvec[d];
                var s = 0.0;
                for (var j = 0u; j < blen; j++) {
                    let g = grad[j];
                    if (g != 0.0) {
                        s += g * out_load(ids_o[j], d);
                        if (!FROZEN) {
                            out_add(ids_o[j], d, g * h);
                        }
                    }
                }
                e[d] += s;
            }
            // The next block reuses ids_o and grad; the next target reads the node rows.
            storageBarrier();
            workgroupBarrier();
        }
        // h moves by the target's gradient (skip-gram: the next context sees it).
        for (var d = lid; d < DIM; d += WG) {
            hvec[d] += e[d];
            dh[d] += e[d];
        }
        workgroupBarrier();
    }

    // Phase 4: every bag row receives the window's gradient.
    for (var d = lid; d < DIM; d += WG) {
        bag_add(centre, nc, doc, d, dh[d]);
    }
    finish_group(lid, loss, pos, pos + 1u);
}
