//! WGSL sources, specialised for a run by substituting the `{{NAME}}` constants (array
//! sizes in workgroup memory must be compile-time constants).

use crate::backend::KernelParams;
use crate::config::ModelKind;

pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");
pub const TRAIN: &str = include_str!("../../../shaders/train.wgsl");
pub const REDUCE: &str = include_str!("../../../shaders/reduce.wgsl");

/// Invocations per workgroup of the training kernel.
pub const WORKGROUP: u32 = 64;

/// The training kernel for `params`, with `rows_per_part` rows per matrix binding.
pub fn train_source(params: &KernelParams, rows_per_part: u32) -> String {
    let cbow = params.model == ModelKind::Cbow;
    let src = format!("{COMMON}\n{TRAIN}");
    substitute(&src, params, rows_per_part)
        .replace("{{CBOW}}", if cbow { "true" } else { "false" })
        .replace(
            "{{CROWS}}",
            &if cbow { 1 } else { 2 * params.window }.to_string(),
        )
}

/// The loss-reduction kernel.
pub fn reduce_source() -> String {
    REDUCE.to_string()
}

fn substitute(src: &str, p: &KernelParams, rows_per_part: u32) -> String {
    src.replace("{{DIM}}", &p.dim.to_string())
        .replace("{{WINDOW}}", &p.window.to_string())
        .replace("{{NEG}}", &p.negative.to_string())
        .replace("{{WG}}", &WORKGROUP.to_string())
        .replace("{{RPP}}", &rows_per_part.to_string())
}

/// Bytes of workgroup memory the training kernel declares.
pub fn workgroup_bytes(p: &KernelParams) -> u64 {
    let maxc = 2 * p.window as u64;
    let nout = p.negative as u64 + 1;
    let crows = if p.model == ModelKind::Cbow { 1 } else { maxc };
    let dim = p.dim as u64;
    4 * (maxc + nout + 1 + crows * dim + nout * dim + dim + 2 * maxc * nout) + 8 * WORKGROUP as u64
}
