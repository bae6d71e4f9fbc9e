//! WGSL sources, specialised for a run by substituting the `{{NAME}}` constants (array
//! sizes in workgroup memory must be compile-time constants).

use crate::backend::{DocRows, DocTraining, KernelParams};
use crate::config::ModelKind;
pub use crate::config::{Atomics, ContextRows, FeatureVariant, Kernel, Precision, Reduce, Updates};
use crate::optim::{OptimParams, OptimizerKind};

pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");
pub const MATRICES: &str = include_str!("../../../shaders/matrices.wgsl");
pub const ACCESS_F32: &str = include_str!("../../../shaders/access_f32.wgsl");
pub const ACCESS_F16: &str = include_str!("../../../shaders/access_f16.wgsl");
pub const LOGITS: &str = include_str!("../../../shaders/logits.wgsl");
pub const CONTEXT: &str = include_str!("../../../shaders/context.wgsl");
pub const SUBWORD: &str = include_str!("../../../shaders/subword.wgsl");
pub const BAG: &str = include_str!("../../../shaders/bag.wgsl");
pub const HS_SUBWORD: &str = include_str!("../../../shaders/hs_subword.wgsl");
pub const HS: &str = include_str!("../../../shaders/hs.wgsl");
pub const TRAIN: &str = include_str!("../../../shaders/train.wgsl");
pub const CHUNK: &str = include_str!("../../../shaders/chunk.wgsl");
pub const TILE: &str = include_str!("../../../shaders/tile.wgsl");
pub const REDUCE: &str = include_str!("../../../shaders/reduce.wgsl");
pub const ADD_ROWS: &str = include_str!("../../../shaders/add_rows.wgsl");
pub const SPARSE: &str = include_str!("../../../shaders/sparse.wgsl");
pub const CLASSIFY: &str = include_str!("../../../shaders/classify.wgsl");
pub const CONCAT: &str = include_str!("../../../shaders/concat.wgsl");

/// Rows updated with compare-and-swap in [`Updates::Hybrid`] mode.
pub const HOT_ROWS: u32 = 8192;

/// Invocations per workgroup of the training kernels unless `--gpu-workgroup` says
/// otherwise, and of the minibatch kernels.
pub const WORKGROUP: u32 = crate::config::DEFAULT_GPU_WORKGROUP;

/// How an SGD kernel is launched: centre positions per workgroup of the chunk kernel and
/// invocations per workgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    pub chunk: u32,
    pub workgroup: u32,
    /// The tile kernel draws its noise words once per tile and shares them among the tile's
    /// windows (`--gpu-tile-noise`).
    pub tile_noise: bool,
    /// Where the window kernel keeps skip-gram's context rows (`--gpu-context-rows`).
    pub context: ContextRows,
    /// How the kernel sums dot products: with subgroup sums the window, chunk and tile
    /// kernels keep one count slot per subgroup instead of one per lane ([`lane_slots`]).
    pub reduce: Reduce,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            chunk: DEFAULT_CHUNK,
            workgroup: WORKGROUP,
            tile_noise: false,
            context: ContextRows::Workgroup,
            reduce: Reduce::Serial,
        }
    }
}

impl Launch {
    /// `--gpu-chunk`, `--gpu-workgroup` (by `--dim` where not given), `--gpu-tile-noise`
    /// and `--gpu-context-rows` (by `--dim` and `--window` where not given; the engine
    /// moves them to the matrix where they do not fit).
    /// The defaults read the kernels' `params`; `reduce` is the engine's choice.
    pub fn of(cfg: &crate::config::TrainConfig, params: &KernelParams, reduce: Reduce) -> Launch {
        Launch {
            chunk: cfg.gpu_chunk.max(1),
            workgroup: cfg.gpu_workgroup.unwrap_or_else(|| {
                crate::config::default_gpu_workgroup(params.dim, params.precision)
            }),
            tile_noise: cfg.gpu_tile_noise,
            context: cfg
                .gpu_context_rows
                .unwrap_or_else(|| crate::config::default_context_rows(params.dim, params.window)),
            reduce,
        }
    }
}

/// One shader module the engines can build: its WGSL after substitution, the entry point,
/// and the adapter features it needs (the engine selects it only where they are present).
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub source: String,
    pub entry: &'static str,
    pub needs: wgpu::Features,
}

/// The optional features a wgpu backend can offer that change which variant runs: float32
/// atomic add exists on Vulkan (VK_EXT_shader_atomic_float) and Metal 3 only; wgpu 30 does
/// not expose it on DX12 or GL. Subgroup operations: Vulkan 1.1, Metal, DX12 (SM 6.0);
/// not GL.
pub fn features_possible_on(backend: wgpu::Backend) -> wgpu::Features {
    match backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal => {
            wgpu::Features::SHADER_FLOAT32_ATOMIC | wgpu::Features::SUBGROUP
        }
        wgpu::Backend::Dx12 => wgpu::Features::SUBGROUP,
        _ => wgpu::Features::empty(),
    }
}

/// Every shader module the engines can build for `params` (`rows_per_part` rows per
/// binding, `vocab` rows, minibatches of `max_examples`): each SGD kernel (window, chunk, tile,
/// subword, hierarchical softmax) × update mode × atomics × reduction, each sparse optimizer, the loss
/// reduction and the row-range add of distributed syncs. The portability test compiles
/// each for every backend where [`features_possible_on`] allows it.
pub fn variants(
    params: &KernelParams,
    rows_per_part: u32,
    vocab: usize,
    max_examples: usize,
) -> Vec<Variant> {
    let mut out = Vec::new();
    let shape = params;
    // Half-precision storage always adds by compare-and-swap (`expand_access`).
    let storage = Precision::ALL.into_iter().flat_map(|precision| {
        Atomics::ALL
            .into_iter()
            .filter(move |&a| precision == Precision::F32 || a == Atomics::CompareAndSwap)
            .map(move |a| (precision, a))
    });
    for (precision, atomics) in storage {
        let params = &KernelParams {
            precision,
            ..*shape
        };
        let atomics_name = format!("{atomics:?} {}", precision.name());
        for kernel in Kernel::ALL {
            for updates in Updates::ALL {
                for reduce in Reduce::ALL {
                    let needs = if updates == Updates::Racy {
                        wgpu::Features::empty()
                    } else {
                        atomics.required_features()
                    } | reduce.required_features();
                    out.push(Variant {
                        name: format!(
                            "train {} {:?} {:?} {} {:?}",
                            kernel.name(),
                            params.model,
                            updates,
                            atomics_name,
                            reduce
                        ),
                        source: kernel_source(
                            kernel,
                            params,
                            rows_per_part,
                            updates,
                            atomics,
                            Launch {
                                reduce,
                                ..Launch::default()
                            },
                        ),
                        entry: "train",
                        needs,
                    });
                    if kernel == Kernel::Window {
                        out.push(Variant {
                            name: format!(
                                "train subword {:?} {:?} {} {:?}",
                                params.model, updates, atomics_name, reduce
                            ),
                            source: subword_source(
                                params,
                                rows_per_part,
                                vocab,
                                updates,
                                atomics,
                                reduce,
                                WORKGROUP,
                            ),
                            entry: "train",
                            needs,
                        });
                        // Paragraph vectors' bags (CBOW-shaped whatever the model; both
                        // DOC values compile the same code, a constant apart).
                        out.push(Variant {
                            name: format!(
                                "train doc dm {:?} {} {:?}",
                                updates, atomics_name, reduce
                            ),
                            source: doc_source(
                                params,
                                rows_per_part,
                                vocab,
                                (updates, atomics, reduce),
                                WORKGROUP,
                                DocTraining::train(DocRows::Dm, false),
                                false,
                            ),
                            entry: "train",
                            needs,
                        });
                        out.push(Variant {
                            name: format!(
                                "train hs doc dbow {:?} {} {:?} add_loss",
                                updates, atomics_name, reduce
                            ),
                            source: hs_doc_source(
                                params,
                                rows_per_part,
                                vocab,
                                (updates, atomics, reduce),
                                (WORKGROUP, HS_TEST_BLOCK),
                                DocTraining {
                                    infer: true,
                                    ..DocTraining::train(DocRows::Dbow, false)
                                },
                                true,
                            ),
                            entry: "train",
                            needs,
                        });
                        for add_loss in [false, true] {
                            out.push(Variant {
                                name: format!(
                                    "train hs subword {:?} {:?} {} {:?} add_loss {add_loss}",
                                    params.model, updates, atomics_name, reduce
                                ),
                                source: hs_subword_source(
                                    params,
                                    rows_per_part,
                                    vocab,
                                    (updates, atomics, reduce),
                                    WORKGROUP,
                                    HS_TEST_BLOCK,
                                    add_loss,
                                ),
                                entry: "train",
                                needs,
                            });
                        }
                        // Both values of each switch, paired to keep the list short.
                        for (add_loss, local_context) in [(false, true), (true, false)] {
                            out.push(Variant {
                                name: format!(
                                    "train hs {:?} {:?} {} {:?} add_loss {add_loss} local_context {local_context}",
                                    params.model, updates, atomics_name, reduce
                                ),
                                source: hs_source(
                                    params,
                                    rows_per_part,
                                    (updates, atomics, reduce),
                                    WORKGROUP,
                                    HsBlock {
                                        nodes: HS_TEST_BLOCK,
                                        local_context,
                                    },
                                    add_loss,
                                ),
                                entry: "train",
                                needs,
                            });
                        }
                    }
                }
            }
        }
    }
    for atomics in Atomics::ALL {
        for reduce in Reduce::ALL {
            // Softmax with the output matrix in workgroup memory (7 label rows), logistic
            // cells with it where it lives.
            for (softmax, local) in [(true, 7 * params.dim), (false, 0)] {
                let src = classify_source(
                    params.dim,
                    rows_per_part,
                    (atomics, reduce),
                    softmax,
                    local,
                    WORKGROUP,
                );
                for entry in ["hidden", "labels", "apply"] {
                    out.push(Variant {
                        name: format!(
                            "classify {entry} {atomics:?} {reduce:?} softmax {softmax} local {local}"
                        ),
                        source: src.clone(),
                        entry,
                        needs: atomics.required_features() | reduce.required_features(),
                    });
                }
            }
        }
    }
    for atomics in Atomics::ALL {
        for frozen in [false, true] {
            out.push(Variant {
                name: format!("concat {atomics:?} frozen {frozen}"),
                source: concat_source(
                    params.dim,
                    params.window,
                    vocab,
                    rows_per_part,
                    (atomics, frozen),
                    WORKGROUP,
                ),
                entry: "concat",
                needs: atomics.required_features(),
            });
        }
    }
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Adagrad,
        OptimizerKind::Adam,
        OptimizerKind::Rmsprop,
    ] {
        // The parameters a run with this optimizer and default flags uses.
        for dense in [false, true] {
            let opt = crate::config::TrainConfig {
                optimizer: kind,
                dense_optimizer: dense,
                ..crate::config::TrainConfig::default()
            }
            .optim_params();
            let src = sparse_source(params, &opt, rows_per_part, (vocab, vocab), max_examples);
            let entries: &[&'static str] = if dense {
                &["grad", "apply", "decay"]
            } else {
                &["grad", "apply"]
            };
            for &entry in entries {
                out.push(Variant {
                    name: format!(
                        "sparse {entry} {:?} {:?}{}",
                        kind,
                        params.model,
                        if dense { " dense" } else { "" }
                    ),
                    source: src.clone(),
                    entry,
                    needs: wgpu::Features::empty(),
                });
            }
        }
    }
    out.push(Variant {
        name: "reduce".into(),
        source: reduce_source(),
        entry: "reduce",
        needs: wgpu::Features::empty(),
    });
    out.push(Variant {
        name: "add_rows".into(),
        source: ADD_ROWS.to_string(),
        entry: "add_rows",
        needs: wgpu::Features::empty(),
    });
    out
}

/// The kernel `--gpu-kernel auto` runs, chosen by measurement (BENCHMARKS.md, H200, dim
/// 100): with subgroup sums the window kernel, for both models (CBOW: 80.8M words/s at
/// analogy 7.5% against the chunk kernel's 58.6M at 7.1%; dim 300 18.2M against 9.9M, at
/// equal quality). With serial sums CBOW needs the chunk kernel's in-order windows for its
/// quality (analogy 5.2% with the window kernel, 7.2% with the chunk kernel), where it
/// fits in `wg_limit` bytes of workgroup memory. (That 5.2% was the window kernel's
/// sequential order; the strided order, `--gpu-order`, is meant to keep the quality there
/// too, which `gpu_table.sh` row `cb100winserial` will measure before `auto` changes.)
pub fn auto_kernel(params: &KernelParams, reduce: Reduce, launch: Launch, wg_limit: u64) -> Kernel {
    if params.model == ModelKind::Cbow
        && reduce == Reduce::Serial
        && kernel_workgroup_bytes(Kernel::Chunk, params, launch) <= wg_limit
    {
        Kernel::Chunk
    } else {
        Kernel::Window
    }
}

/// Centre positions per workgroup of the chunk kernel (the tile kernel's most) unless
/// `--gpu-chunk` says otherwise.
pub const DEFAULT_CHUNK: u32 = crate::config::DEFAULT_GPU_CHUNK;

/// The `kernel` variant for `params`, with `rows_per_part` rows per matrix binding,
/// launched as `launch` says (its dot-product sums `launch.reduce`).
pub fn kernel_source(
    kernel: Kernel,
    params: &KernelParams,
    rows_per_part: u32,
    updates: Updates,
    atomics: Atomics,
    launch: Launch,
) -> String {
    let reduce = launch.reduce;
    let cbow = params.model == ModelKind::Cbow;
    let src = match kernel {
        Kernel::Window => format!("{COMMON}\n{MATRICES}\n{LOGITS}\n{CONTEXT}\n{TRAIN}"),
        Kernel::Chunk => format!("{COMMON}\n{MATRICES}\n{LOGITS}\n{CHUNK}"),
        Kernel::Tile => format!("{COMMON}\n{MATRICES}\n{LOGITS}\n{TILE}"),
    }
    .replace(
        "{{LANE_SLOTS}}",
        &lane_slots(launch.workgroup, reduce).to_string(),
    );
    sgd_source(
        &src,
        params,
        rows_per_part,
        (updates, atomics, reduce),
        launch.workgroup,
    )
    .replace(
        "{{CROWS}}",
        &window_context_rows(params, launch).to_string(),
    )
    .replace(
        "{{CTX_LOCAL}}",
        if launch.context == ContextRows::Workgroup {
            "true"
        } else {
            "false"
        },
    )
    .replace("{{CHUNK}}", &launch.chunk.max(1).to_string())
    .replace("{{TILE_NOISE}}", &launch.tile_noise.to_string())
    .replace("{{TOUT}}", &tile_outputs(params, launch).to_string())
    .replace(
        "{{HROWS}}",
        &if cbow { launch.chunk.max(1) } else { 1 }.to_string(),
    )
    .replace("{{HVEC}}", &hvec_len(params).to_string())
}

/// The tile kernel's output slots: each window's centre and noise words, or with
/// `--gpu-tile-noise` the centres and the noise words all windows share.
fn tile_outputs(p: &KernelParams, launch: Launch) -> u64 {
    let tile = launch.chunk.max(1) as u64;
    if launch.tile_noise {
        tile + p.negative as u64
    } else {
        tile * (p.negative as u64 + 1)
    }
}

/// Elements of CBOW's mean row in the window and chunk kernels (one for skip-gram).
fn hvec_len(p: &KernelParams) -> u64 {
    if p.model == ModelKind::Cbow {
        p.dim as u64
    } else {
        1
    }
}

/// The tile kernel's positions per workgroup: `launch.chunk` (`--gpu-chunk`), halved
/// until its workgroup memory fits in `wg_limit` bytes (at least 1).
pub fn tile_positions(p: &KernelParams, launch: Launch, wg_limit: u64) -> u32 {
    let mut t = launch.chunk.max(1);
    while t > 1 && kernel_workgroup_bytes(Kernel::Tile, p, Launch { chunk: t, ..launch }) > wg_limit
    {
        t /= 2;
    }
    t
}

/// The classifier's kernels (`hidden`, `labels`, `apply`: fastText's `supervised` on the
/// GPU) for rows of `dim` weights, `rows_per_part` rows per matrix binding, softmax or
/// logistic cells, adding with `atomics`, dot products summed as `reduce` says, the output
/// matrix's `out_local` weights kept in workgroup memory by `labels` (0: not kept).
pub fn classify_source(
    dim: usize,
    rows_per_part: u32,
    (atomics, reduce): (Atomics, Reduce),
    softmax: bool,
    out_local: usize,
    workgroup: u32,
) -> String {
    let params = KernelParams {
        model: ModelKind::SkipGram,
        dim,
        window: 1,
        negative: 0,
        precision: Precision::F32,
    };
    let mut src = sgd_source(
        &format!("{COMMON}\n{MATRICES}\n{CLASSIFY}"),
        &params,
        rows_per_part,
        (Updates::Atomic, atomics, reduce),
        workgroup,
    )
    .replace("{{SOFTMAX}}", if softmax { "true" } else { "false" })
    .replace("{{OUT_LOCAL}}", &out_local.to_string());
    for p in 0..4 {
        let store = match atomics {
            Atomics::Native => format!("atomicStore(&out{p}[i], v);"),
            Atomics::CompareAndSwap => format!("atomicStore(&out{p}[i], bitcast<u32>(v));"),
        };
        src = src.replace(&format!("{{{{STORE{p}}}}}"), &store);
    }
    src
}

/// The dm_concat kernel (`doc2vec --dm-concat` on the GPU): layers of `1 + 2·window` rows
/// of `dim`, output rows from `tree_base` on are tree nodes, `rows_per_part` rows (of
/// `dim`) per matrix binding; `frozen` (inference) trains the document's row alone.
pub fn concat_source(
    dim: usize,
    window: usize,
    tree_base: usize,
    rows_per_part: u32,
    (atomics, frozen): (Atomics, bool),
    workgroup: u32,
) -> String {
    let params = KernelParams {
        model: ModelKind::Cbow,
        dim,
        window,
        negative: 0,
        precision: Precision::F32,
    };
    sgd_source(
        &format!("{COMMON}\n{MATRICES}\n{CONCAT}"),
        &params,
        rows_per_part,
        (Updates::Atomic, atomics, Reduce::Serial),
        workgroup,
    )
    .replace("{{TREE_BASE}}", &tree_base.to_string())
    .replace("{{FROZEN}}", if frozen { "true" } else { "false" })
}

/// Bytes of workgroup memory the dm_concat kernel declares: the layer and its gradient,
/// the logit's partial sums, and matrices.wgsl's per-invocation add and loss parts.
pub fn concat_workgroup_bytes(dim: usize, window: usize, workgroup: u32) -> u64 {
    let layer = ((1 + 2 * window) * dim) as u64;
    4 * 2 * layer + 4 * workgroup as u64 + 12 * workgroup as u64 + 8
}

/// Bytes of workgroup memory the classifier's kernels declare with `out_local` output
/// weights kept by `labels` (its loss lanes and the output matrix, at least one element,
/// and matrices.wgsl's per-invocation add and loss parts, counted whether or not the
/// compiler drops them).
pub fn classify_workgroup_bytes(workgroup: u32, out_local: usize) -> u64 {
    16 * workgroup as u64 + 4 * out_local.max(1) as u64
}

/// The subword kernel (`--subwords` on the GPU) for `params`, with `rows_per_part` rows
/// per matrix binding (the input matrix: `vocab` word rows, then the bucket rows) and a
/// vocabulary of `vocab` words, `workgroup` invocations per workgroup.
pub fn subword_source(
    params: &KernelParams,
    rows_per_part: u32,
    vocab: usize,
    updates: Updates,
    atomics: Atomics,
    reduce: Reduce,
    workgroup: u32,
) -> String {
    let modes = (updates, atomics, reduce);
    let doc = DocTraining::NONE;
    doc_source(params, rows_per_part, vocab, modes, workgroup, doc, false)
}

/// The subword kernel as paragraph vectors train with it (`doc2vec` on the GPU): CBOW-shaped
/// (each position's bag predicts its word, whatever `params.model` says), the bag as
/// `doc.rows` says, the document rows after the `vocab` word rows, only those learning when
/// `doc.infer`; `add_loss` when it runs after another kernel of the same step
/// (`--dbow-words`' skip-gram). With [`DocTraining::NONE`] it is [`subword_source`]'s kernel.
pub fn doc_source(
    params: &KernelParams,
    rows_per_part: u32,
    vocab: usize,
    modes: (Updates, Atomics, Reduce),
    workgroup: u32,
    doc: DocTraining,
    add_loss: bool,
) -> String {
    let src = format!("{COMMON}\n{MATRICES}\n{CONTEXT}\n{BAG}\n{SUBWORD}")
        .replace("{{ADD_LOSS}}", if add_loss { "true" } else { "false" });
    let src = sgd_source(
        &src,
        &bag_shape(params, doc),
        rows_per_part,
        modes,
        workgroup,
    );
    bag_constants(&src, vocab, doc)
}

/// The kernel shape of a bag kernel: paragraph vectors' is CBOW's whatever `params.model`
/// says (each position's bag predicts its word).
fn bag_shape(params: &KernelParams, doc: DocTraining) -> KernelParams {
    match doc.rows {
        DocRows::None => *params,
        _ => KernelParams {
            model: ModelKind::Cbow,
            ..*params
        },
    }
}

/// bag.wgsl's constants: the vocabulary, the document rows, inference.
fn bag_constants(src: &str, vocab: usize, doc: DocTraining) -> String {
    src.replace("{{VOCAB}}", &vocab.to_string())
        .replace("{{DOC}}", &doc.rows.code().to_string())
        .replace("{{FROZEN}}", if doc.infer { "true" } else { "false" })
}

/// How the hierarchical-softmax kernel walks a path: `nodes` node rows per block in
/// workgroup memory, and whether the window's context rows are kept there too
/// (`local_context`; skip-gram reads them from the input matrix where they are used when
/// they do not fit beside one node row; CBOW's mean is always kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HsBlock {
    /// Path nodes per block (at most the workgroup's lanes).
    pub nodes: u32,
    /// Whether the context rows are held in workgroup memory.
    pub local_context: bool,
}

impl HsBlock {
    /// Blocks of `nodes` nodes with the context rows in workgroup memory.
    pub fn local(nodes: u32) -> Self {
        HsBlock {
            nodes,
            local_context: true,
        }
    }
}

/// Path nodes per block of the hierarchical-softmax kernel in [`variants`] (fewer than a
/// path holds, so that the block loop is compiled as it runs).
pub const HS_TEST_BLOCK: u32 = 5;

/// The hierarchical-softmax kernel (`--hs` on the GPU) for `params`, with `rows_per_part`
/// rows per matrix binding, `workgroup` invocations per workgroup and paths walked in
/// `block`s (at most `workgroup` nodes each); `add_loss` when it runs after the
/// negative-sampling kernel of the same step.
pub fn hs_source(
    params: &KernelParams,
    rows_per_part: u32,
    (updates, atomics, reduce): (Updates, Atomics, Reduce),
    workgroup: u32,
    block: HsBlock,
    add_loss: bool,
) -> String {
    let src = format!("{COMMON}\n{MATRICES}\n{CONTEXT}\n{HS}")
        .replace("{{ADD_LOSS}}", if add_loss { "true" } else { "false" });
    let local = hs_local_context(params, block);
    sgd_source(
        &src,
        params,
        rows_per_part,
        (updates, atomics, reduce),
        workgroup,
    )
    .replace("{{CROWS}}", &context_rows(params).to_string())
    .replace("{{NB}}", &block.nodes.clamp(1, workgroup).to_string())
    .replace("{{LOCAL_CONTEXT}}", if local { "true" } else { "false" })
    .replace(
        "{{CROWS_LOCAL}}",
        &if local { context_rows(params) } else { 1 }.to_string(),
    )
}

/// The hierarchical-softmax kernel with subword units (`--hs --subwords` on the GPU):
/// `vocab` words' bags as [`subword_source`], paths walked in blocks of `nodes` (at most
/// `workgroup`); `add_loss` when it runs after the subword kernel of the same step.
pub fn hs_subword_source(
    params: &KernelParams,
    rows_per_part: u32,
    vocab: usize,
    modes: (Updates, Atomics, Reduce),
    workgroup: u32,
    nodes: u32,
    add_loss: bool,
) -> String {
    let doc = DocTraining::NONE;
    hs_doc_source(
        params,
        rows_per_part,
        vocab,
        modes,
        (workgroup, nodes),
        doc,
        add_loss,
    )
}

/// The subword hierarchical-softmax kernel as paragraph vectors train with it
/// (`doc2vec --hs` on the GPU): CBOW-shaped, the bag as `doc` says (see [`doc_source`]),
/// paths walked in blocks of `nodes`. With [`DocTraining::NONE`] it is
/// [`hs_subword_source`]'s kernel.
pub fn hs_doc_source(
    params: &KernelParams,
    rows_per_part: u32,
    vocab: usize,
    modes: (Updates, Atomics, Reduce),
    (workgroup, nodes): (u32, u32),
    doc: DocTraining,
    add_loss: bool,
) -> String {
    let src = format!("{COMMON}\n{MATRICES}\n{CONTEXT}\n{BAG}\n{HS_SUBWORD}")
        .replace("{{ADD_LOSS}}", if add_loss { "true" } else { "false" });
    let src = sgd_source(
        &src,
        &bag_shape(params, doc),
        rows_per_part,
        modes,
        workgroup,
    )
    .replace("{{NB}}", &nodes.clamp(1, workgroup).to_string());
    bag_constants(&src, vocab, doc)
}

/// Bytes of workgroup memory the subword hierarchical-softmax kernel declares with blocks
/// of `nodes` path nodes.
pub fn hs_subword_workgroup_bytes(p: &KernelParams, workgroup: u32, nodes: u32) -> u64 {
    let maxc = 2 * p.window as u64;
    let nb = nodes.clamp(1, workgroup) as u64;
    // ids_c, n_ctx, path; ids_o, labels, grad; hvec, dh, e.
    4 * (maxc + 1 + 2 + 3 * nb + 3 * p.dim as u64) + 12 * workgroup as u64
}

/// Whether the tree kernel keeps its context rows in workgroup memory (CBOW keeps its one
/// mean row whatever `block` says).
fn hs_local_context(p: &KernelParams, block: HsBlock) -> bool {
    block.local_context || p.model == ModelKind::Cbow
}

/// Context rows the window and hierarchical-softmax kernels keep in workgroup memory: the
/// window's (skip-gram; CBOW keeps their mean in its own row or, in the tree kernel, in row 0).
fn context_rows(p: &KernelParams) -> u64 {
    if p.model == ModelKind::Cbow {
        1
    } else {
        2 * p.window as u64
    }
}

/// Context rows the window kernel keeps in workgroup memory: [`context_rows`] with
/// `--gpu-context-rows workgroup`, one (unused by skip-gram) with `device`.
fn window_context_rows(p: &KernelParams, launch: Launch) -> u64 {
    match launch.context {
        ContextRows::Workgroup => context_rows(p),
        ContextRows::Device => 1,
    }
}

/// Bytes of workgroup memory the hierarchical-softmax kernel declares with `block`.
pub fn hs_workgroup_bytes(p: &KernelParams, workgroup: u32, block: HsBlock) -> u64 {
    let maxc = 2 * p.window as u64;
    let rows = context_rows(p);
    let local_rows = if hs_local_context(p, block) { rows } else { 1 };
    let nb = block.nodes.clamp(1, workgroup) as u64;
    let dim = p.dim as u64;
    // ids_c, n_ctx, path; ids_o, labels, grad; rows_c, dc; rows_o, d_o.
    4 * (maxc + 1 + 2 + 3 * nb + (local_rows + rows) * dim + 2 * nb * dim) + 12 * workgroup as u64
}

/// The hierarchical-softmax kernel's blocks: as many path nodes as the longest path
/// (`depth`), at most `limit` (`--gpu-chunk`) and the workgroup's lanes, halved until the
/// workgroup memory fits in `wg_limit` bytes; when not even one node fits beside the
/// context rows, the context rows move out of workgroup memory and the halving starts
/// again. `None` when one node does not fit even so.
pub fn hs_block(
    p: &KernelParams,
    workgroup: u32,
    limit: u32,
    depth: usize,
    wg_limit: u64,
) -> Option<HsBlock> {
    let most = (depth.max(1) as u32).min(limit.max(1)).min(workgroup);
    [true, false].into_iter().find_map(|local_context| {
        let mut block = HsBlock {
            nodes: most,
            local_context,
        };
        while block.nodes > 1 && hs_workgroup_bytes(p, workgroup, block) > wg_limit {
            block.nodes /= 2;
        }
        (hs_workgroup_bytes(p, workgroup, block) <= wg_limit).then_some(block)
    })
}

/// The subword hierarchical-softmax kernel's path nodes per block: as [`hs_block`] (the
/// longest path, at most `limit` and the workgroup's lanes, halved to fit `wg_limit`).
pub fn hs_subword_block(
    p: &KernelParams,
    workgroup: u32,
    limit: u32,
    depth: usize,
    wg_limit: u64,
) -> Option<u32> {
    let mut nb = (depth.max(1) as u32).min(limit.max(1)).min(workgroup);
    while nb > 1 && hs_subword_workgroup_bytes(p, workgroup, nb) > wg_limit {
        nb /= 2;
    }
    (hs_subword_workgroup_bytes(p, workgroup, nb) <= wg_limit).then_some(nb)
}

/// The substitutions every SGD kernel shares: constants, the matrix accessors for the
/// update mode, the model, the dot-product reduction and the workgroup size.
fn sgd_source(
    src: &str,
    params: &KernelParams,
    rows_per_part: u32,
    (updates, atomics, reduce): (Updates, Atomics, Reduce),
    workgroup: u32,
) -> String {
    let (access, elem) = match (params.precision, updates, atomics) {
        (Precision::F32, Updates::Racy, _) => (ACCESS_F32, "f32"),
        (Precision::F32, _, Atomics::Native) => (ACCESS_F32, "atomic<f32>"),
        (Precision::F32, _, Atomics::CompareAndSwap) => (ACCESS_F32, "atomic<u32>"),
        (Precision::F16, Updates::Racy, _) => (ACCESS_F16, "u32"),
        (Precision::F16, _, _) => (ACCESS_F16, "atomic<u32>"),
    };
    let cbow = params.model == ModelKind::Cbow;
    let src = src.replace("{{ACCESS}}", access);
    substitute(
        &expand_access(&src, updates, atomics, params.precision),
        params,
        rows_per_part,
        workgroup,
    )
    .replace("{{MATRIX_ELEM}}", elem)
    .replace(
        "{{IN_FLIGHT}}",
        if super::in_flight_peak() {
            "true"
        } else {
            "false"
        },
    )
    .replace("{{ADD_LOSS}}", "false")
    .replace("{{CBOW}}", if cbow { "true" } else { "false" })
    .replace("{{SG_PARAMS}}", reduce_params(reduce))
    .replace("{{SG_LAYOUT}}", reduce_layout(reduce))
    .replace("{{SEG_SUM}}", reduce_sum(reduce))
    .replace("{{GROUP_SUM}}", reduce_group(reduce))
    .replace("{{LANE_SLOTS}}", &workgroup.to_string())
}

/// finish_group's count slots in the window, chunk and tile kernels: one per lane with
/// serial sums, one per subgroup of at least 4 lanes (wgpu's smallest subgroup) with
/// subgroup sums. The other kernels keep one per lane.
pub fn lane_slots(workgroup: u32, reduce: Reduce) -> u32 {
    match reduce {
        Reduce::Serial => workgroup,
        Reduce::Subgroup => workgroup.div_ceil(4),
    }
}

/// The entry point's extra builtins for `reduce`.
fn reduce_params(reduce: Reduce) -> &'static str {
    match reduce {
        Reduce::Serial => "",
        Reduce::Subgroup => {
            "    @builtin(subgroup_size) sg_size: u32,\n    @builtin(subgroup_invocation_id) sg_lane: u32,\n    @builtin(subgroup_id) sg_index: u32,"
        }
    }
}

/// The subgroup size and the invocation's lane index in the workgroup (subgroup by
/// subgroup, so that a segment of lanes never straddles two subgroups); serial: subgroups
/// of one.
fn reduce_layout(reduce: Reduce) -> &'static str {
    match reduce {
        Reduce::Serial => "    let sg_size = 1u;\n    let lane_index = lid;",
        Reduce::Subgroup => {
            "    let lane_index = sg_index * sg_size + sg_lane;\n    sg_slot = sg_index;\n    sg_first = sg_lane == 0u;\n    sg_slots = (WG + sg_size - 1u) / sg_size;"
        }
    }
}

/// finish_group's sums over a subgroup before its slots (nothing for serial: a slot per
/// lane).
fn reduce_group(reduce: Reduce) -> &'static str {
    match reduce {
        Reduce::Serial => "",
        Reduce::Subgroup => {
            "    lane_adds = subgroupAdd(adds);\n    lane_loss = subgroupAdd(loss);\n    slot = sg_slot;\n    writer = sg_first;\n    slots = sg_slots;"
        }
    }
}

/// The body of `seg_sum`: a butterfly over the segment's lanes (every lane ends with the
/// same sum, added in the same order), or nothing to add for serial reduction.
fn reduce_sum(reduce: Reduce) -> &'static str {
    match reduce {
        Reduce::Serial => "    return v;",
        Reduce::Subgroup => {
            "    var s = v;\n    if (lpc > 32u) { s += subgroupShuffleXor(s, 32u); }\n    if (lpc > 16u) { s += subgroupShuffleXor(s, 16u); }\n    if (lpc > 8u) { s += subgroupShuffleXor(s, 8u); }\n    if (lpc > 4u) { s += subgroupShuffleXor(s, 4u); }\n    if (lpc > 2u) { s += subgroupShuffleXor(s, 2u); }\n    if (lpc > 1u) { s += subgroupShuffleXor(s, 1u); }\n    return s;"
        }
    }
}

/// The minibatch optimizer kernels (`grad`, `apply`) for `params` and `opt`, with
/// `rows_per_part` row records per matrix binding, `in_rows` input rows (the vocabulary's,
/// then any subword bucket rows) and room for `max_examples` examples per step.
/// The sparse optimizer kernels (`grad`, `apply`, and with `opt.dense` `decay`) for
/// matrices of `in_rows` input and `out_rows` output rows.
pub fn sparse_source(
    params: &KernelParams,
    opt: &OptimParams,
    rows_per_part: u32,
    (in_rows, out_rows): (usize, usize),
    max_examples: usize,
) -> String {
    let code = match opt.kind {
        OptimizerKind::Adagrad => 0,
        OptimizerKind::Adam => 1,
        OptimizerKind::Rmsprop => 2,
        OptimizerKind::Sgd => 3,
    };
    substitute(
        &format!("{COMMON}\n{SPARSE}"),
        params,
        rows_per_part,
        WORKGROUP,
    )
    .replace("{{NSTATE}}", &opt.kind.state_vectors().to_string())
    .replace("{{OPT}}", &code.to_string())
    .replace("{{BETA1}}", &wgsl_f32(opt.beta1))
    .replace("{{BETA2}}", &wgsl_f32(opt.beta2))
    .replace("{{EPS}}", &wgsl_f32(opt.eps))
    .replace("{{IN_ROWS}}", &in_rows.to_string())
    .replace("{{OUT_ROWS}}", &out_rows.to_string())
    .replace("{{DENSE}}", if opt.dense { "true" } else { "false" })
    .replace("{{MAXEX}}", &max_examples.max(1).to_string())
    .replace("{{SGD_SUM_LIMIT}}", &wgsl_f32(crate::optim::SGD_SUM_LIMIT))
}

/// A WGSL literal that parses to exactly `x` (Rust prints the shortest round-tripping
/// decimal).
fn wgsl_f32(x: f32) -> String {
    let s = format!("{x:?}");
    if s.contains(['.', 'e']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// Bytes of workgroup memory the sparse `grad` kernel declares.
pub fn sparse_workgroup_bytes(p: &KernelParams) -> u64 {
    let nout = p.negative as u64 + 1;
    4 * (nout * WORKGROUP as u64 + nout + 2 * nout + 1)
}

/// The loss-reduction kernel.
pub fn reduce_source() -> String {
    REDUCE.to_string()
}

/// Rewrites the kernel's `LOAD(m[i])` and `ADD(m[i], v);` accessors of the matrix bindings
/// for the chosen update mode. The native atomic add is one `atomicAdd` on `atomic<f32>`;
/// the compare-and-swap add is a loop on the element's bit pattern that retries until no
/// other invocation changed the element between the read and the write. Half-precision
/// storage (access_f16.wgsl) reads the half `hi` selects from the 32-bit word holding it and
/// replaces the word with `half_add`'s result, in a compare-and-swap loop whatever `atomics`
/// says (no 16-bit float atomic add exists).
fn expand_access(src: &str, updates: Updates, atomics: Atomics, precision: Precision) -> String {
    let mut src = src.to_string();
    for m in ["in0", "in1", "in2", "in3", "out0", "out1", "out2", "out3"] {
        let e = format!("{m}[i]");
        let (atomic_load, atomic_add, relaxed_add) = match (precision, atomics) {
            (Precision::F16, _) => (
                format!("half_of(atomicLoad(&{e}), hi)"),
                format!(
                    "var old = atomicLoad(&{e}); loop {{ let r = atomicCompareExchangeWeak(&{e}, old, half_add(old, hi, v)); if (r.exchanged) {{ break; }} old = r.old_value; }}"
                ),
                format!("atomicStore(&{e}, half_add(atomicLoad(&{e}), hi, v));"),
            ),
            (Precision::F32, Atomics::Native) => (
                format!("atomicLoad(&{e})"),
                format!("atomicAdd(&{e}, v);"),
                format!("atomicStore(&{e}, atomicLoad(&{e}) + v);"),
            ),
            (Precision::F32, Atomics::CompareAndSwap) => (
                format!("bitcast<f32>(atomicLoad(&{e}))"),
                format!(
                    "var old = atomicLoad(&{e}); loop {{ let r = atomicCompareExchangeWeak(&{e}, old, bitcast<u32>(bitcast<f32>(old) + v)); if (r.exchanged) {{ break; }} old = r.old_value; }}"
                ),
                format!("atomicStore(&{e}, bitcast<u32>(bitcast<f32>(atomicLoad(&{e})) + v));"),
            ),
        };
        let plain_load = match precision {
            Precision::F32 => e.clone(),
            Precision::F16 => format!("half_of({e}, hi)"),
        };
        let (load, add) = match updates {
            Updates::Atomic => (atomic_load, atomic_add),
            Updates::Hybrid => (
                atomic_load,
                format!("if (row < {HOT_ROWS}u) {{ {atomic_add} }} else {{ {relaxed_add} }}"),
            ),
            Updates::Racy if precision == Precision::F16 => {
                (plain_load, format!("{e} = half_add({e}, hi, v);"))
            }
            Updates::Racy => (plain_load, format!("{e} = {e} + v;")),
        };
        src = src
            .replace(&format!("LOAD({e})"), &load)
            .replace(&format!("ADD({e}, v);"), &add);
    }
    src
}

fn substitute(src: &str, p: &KernelParams, rows_per_part: u32, workgroup: u32) -> String {
    src.replace("{{DIM}}", &p.dim.to_string())
        .replace("{{WINDOW}}", &p.window.to_string())
        .replace("{{NEG}}", &p.negative.to_string())
        .replace("{{WG}}", &workgroup.to_string())
        .replace("{{RPP}}", &rows_per_part.to_string())
}

/// Bytes of workgroup memory `kernel` declares for `p`, launched as `launch` says.
pub fn kernel_workgroup_bytes(kernel: Kernel, p: &KernelParams, launch: Launch) -> u64 {
    let wg = lane_slots(launch.workgroup, launch.reduce) as u64;
    match kernel {
        Kernel::Window => workgroup_bytes(p, launch),
        Kernel::Chunk => {
            let maxc = 2 * p.window as u64;
            let ring = maxc + 1;
            let nout = p.negative as u64 + 1;
            let dim = p.dim as u64;
            let chunk = launch.chunk.max(1) as u64;
            4 * (2 * ring * dim
                + chunk * (1 + p.negative as u64)
                + nout
                + nout * dim
                + hvec_len(p)
                + maxc * nout)
                + 12 * wg
        }
        Kernel::Tile => {
            let tile = launch.chunk.max(1) as u64;
            let slots = tile + 2 * p.window as u64;
            let nout = p.negative as u64 + 1;
            let tout = tile_outputs(p, launch);
            let hrows = if p.model == ModelKind::Cbow { tile } else { 1 };
            let dim = p.dim as u64;
            // Rows of the slots, the outputs and CBOW's means; gradients; cbase, win;
            // ids, merge lists and leads of the outputs and the slots.
            4 * ((slots + tout + hrows) * dim
                + tile * 2 * p.window as u64 * nout
                + 2 * tile
                + 1
                + 3 * tout
                + 3 * slots)
                + 12 * wg
        }
    }
}

/// Bytes of workgroup memory the subword kernel declares.
pub fn subword_workgroup_bytes(p: &KernelParams, workgroup: u32) -> u64 {
    let maxc = 2 * p.window as u64;
    let nout = p.negative as u64 + 1;
    4 * (maxc + 2 * maxc * nout + 1 + p.dim as u64) + 12 * workgroup as u64
}

/// Bytes of workgroup memory the window kernel declares.
pub fn workgroup_bytes(p: &KernelParams, launch: Launch) -> u64 {
    let workgroup = lane_slots(launch.workgroup, launch.reduce);
    let maxc = 2 * p.window as u64;
    let nout = p.negative as u64 + 1;
    let crows = window_context_rows(p, launch);
    let dim = p.dim as u64;
    4 * (maxc + nout + 1 + crows * dim + nout * dim + hvec_len(p) + 2 * maxc * nout)
        + 12 * workgroup as u64
}
