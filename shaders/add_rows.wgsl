// Adds a block of corrections into (or writes a block over) the weights of a range of rows
// of one matrix binding: for i < count, element i % dim of row i / dim, the row's record
// starting at at + (i / dim) * stride, gets delta[i] added (overwrite = 0: a distributed sync's
// `avg - own delta`, applied between training steps so the updates of steps that ran while
// the ranks exchanged are kept) or becomes delta[i] (overwrite = 1: an exact sync's agreed rows).
// A record is the row's weights (stride = dim) or its weights then its optimizer state,
// which is left alone. Queue order puts it after every step submitted before it and before
// every step submitted after it, so no training invocation writes the matrix meanwhile;
// the training kernels' atomic element types hold plain f32 bit patterns, read here as f32.

@group(0) @binding(0) var<storage, read_write> m: array<f32>;
@group(0) @binding(1) var<storage, read> delta: array<f32>;
// [first float of the range's first record in m, elements, dim, stride, overwrite]
@group(0) @binding(2) var<storage, read> range: array<u32, 5>;

@compute @workgroup_size(256)
fn add_rows(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let at = range[0];
    let count = range[1];
    let dim = range[2];
    let stride = range[3];
    let overwrite = range[4] != 0u;
    let step = nwg.x * 256u;
    for (var i = gid.x; i < count; i += step) {
        let k = at + (i / dim) * stride + i % dim;
        if overwrite {
            m[k] = delta[i];
        } else {
            m[k] = m[k] + delta[i];
        }
    }
}
