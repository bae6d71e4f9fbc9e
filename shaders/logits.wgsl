// The window kernels' logit loop (train.wgsl, chunk.wgsl, tile.wgsl); each defines ids_o,
// rows_o, grad, input_base, input_at, output_slot, centre_slot and cell_rate.

// Logits, gradients and loss of one window, shared by the SGD kernels: `cells` (context,
// output) dot products, a segment of lanes_per_cell lanes each. Cell `cell` pairs a context
// row, read through the kernel's input_base(p, left, cell) (where it starts) and
// input_at(base, d) (CBOW: the mean h), with output slot output_slot(cell) (ids_o, rows_o),
// which is output cell % NOUT of its window: 0 the centre, then the noise words; a noise
// word equal to its window's centre gets no gradient. The rate is cell_rate(alpha, cell).
// Writes grad[cell] and adds this lane's (loss, terms) to *loss.
fn window_logits(
    p: u32,
    left: u32,
    cells: u32,
    alpha: f32,
    sg_size: u32,
    lane_index: u32,
    loss: ptr<function, vec2<f32>>,
) {
    let lpc = lanes_per_cell(cells, sg_size);
    let seg_lane = lane_index % lpc;
    for (var base = 0u; base < cells; base += WG / lpc) {
        let cell = base + lane_index / lpc;
        let j = cell % NOUT;
        let o = output_slot(min(cell, cells - 1u));
        let live = cell < cells && (j == 0u || ids_o[o] != ids_o[centre_slot(cell, o, j)]);
        var f = 0.0;
        if (live) {
            let in_base = input_base(p, left, cell);
            let o_base = o * DIM;
            // Four partial sums, so that a lane's dot product is four independent
            // multiply-add chains instead of one DIM / lpc long (at dim 300 and one lane per
            // cell, 75 dependent steps instead of 300).
            var acc = vec4<f32>(0.0, 0.0, 0.0, 0.0);
            var d = seg_lane;
            for (; d + 3u * lpc < DIM; d += 4u * lpc) {
                let x = vec4<f32>(
                    input_at(in_base, d),
                    input_at(in_base, d + lpc),
                    input_at(in_base, d + 2u * lpc),
                    input_at(in_base, d + 3u * lpc),
                );
                let y = vec4<f32>(
                    rows_o[o_base + d],
                    rows_o[o_base + d + lpc],
                    rows_o[o_base + d + 2u * lpc],
                    rows_o[o_base + d + 3u * lpc],
                );
                acc += x * y;
            }
            for (; d < DIM; d += lpc) {
                acc.x += input_at(in_base, d) * rows_o[o_base + d];
            }
            f = (acc.x + acc.y) + (acc.z + acc.w);
        }
        f = seg_sum(f, lpc);
        if (cell < cells && seg_lane == 0u) {
            var g = 0.0;
            if (live) {
                let r = sigmoid_bce(f, select(0.0, 1.0, j == 0u), cell_rate(alpha, cell));
                g = r.x;
                (*loss).x += r.y;
                (*loss).y += 1.0;
            }
            grad[cell] = g;
        }
    }
}
