// Sums the per-position (loss, terms) of the last step into one vec2 for the host.

@group(0) @binding(0) var<storage, read> tok: array<u32>;
@group(0) @binding(1) var<storage, read> loss_in: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> loss_sum: array<vec2<f32>>;

var<workgroup> part: array<vec2<f32>, 256>;

@compute @workgroup_size(256)
fn reduce(@builtin(local_invocation_index) lid: u32) {
    let n = tok[2];
    var s = vec2<f32>(0.0, 0.0);
    for (var i = lid; i < n; i += 256u) {
        s += loss_in[i];
    }
    part[lid] = s;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            part[lid] += part[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        loss_sum[0] = part[0];
    }
}
