// Adds a block of corrections into a range of one matrix binding: m[at + i] += delta[i] for
// i < count (a distributed sync's `avg - own delta`, applied between training steps so the
// updates of steps that ran while the ranks exchanged are kept). Queue order puts it after
// every step submitted before it and before every step submitted after it, so no training
// invocation writes the matrix meanwhile; the training kernels' atomic element types hold
// plain f32 bit patterns, read here as f32.

@group(0) @binding(0) var<storage, read_write> m: array<f32>;
@group(0) @binding(1) var<storage, read> delta: array<f32>;
// [first element of the range in m, elements]
@group(0) @binding(2) var<storage, read> range: array<u32, 2>;

@compute @workgroup_size(256)
fn add_rows(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let at = range[0];
    let count = range[1];
    let stride = nwg.x * 256u;
    for (var i = gid.x; i < count; i += stride) {
        m[at + i] = m[at + i] + delta[i];
    }
}
