//! Every WGSL kernel parses and validates with naga, for the shapes the trainer builds
//! (no GPU needed).

use w2v_gpu::backend::gpu::shaders;
use w2v_gpu::backend::{DocRows, DocTraining, KernelParams};
use w2v_gpu::config::ModelKind;

fn validate(name: &str, src: &str) {
    validate_with(name, src, naga::valid::Capabilities::default());
}

fn validate_with(name: &str, src: &str, caps: naga::valid::Capabilities) {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
}

#[test]
fn training_kernels_validate_for_all_shapes() {
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        for (dim, window, negative) in [
            (1, 1, 1),
            (16, 3, 4),
            (100, 5, 5),
            (300, 10, 15),
            (64, 5, 31),
        ] {
            let p = KernelParams {
                precision: w2v_gpu::config::Precision::F32,
                model,
                dim,
                window,
                negative,
            };
            for updates in [
                shaders::Updates::Atomic,
                shaders::Updates::Hybrid,
                shaders::Updates::Racy,
            ] {
                for (kernel, atomics) in [
                    (shaders::Kernel::Window, shaders::Atomics::CompareAndSwap),
                    (shaders::Kernel::Window, shaders::Atomics::Native),
                    (shaders::Kernel::Chunk, shaders::Atomics::CompareAndSwap),
                    (shaders::Kernel::Chunk, shaders::Atomics::Native),
                    (shaders::Kernel::Tile, shaders::Atomics::CompareAndSwap),
                    (shaders::Kernel::Tile, shaders::Atomics::Native),
                ] {
                    let src = shaders::kernel_source(
                        kernel,
                        &p,
                        12345,
                        updates,
                        atomics,
                        shaders::Launch {
                            chunk: 32,
                            workgroup: [32, 64, 128, 256, 512, 1024][(dim + window + negative) % 6],
                            tile_noise: (dim + window) % 2 == 0,
                            context: if (dim + negative) % 2 == 0 {
                                shaders::ContextRows::Workgroup
                            } else {
                                shaders::ContextRows::Device
                            },
                            reduce: shaders::Reduce::Serial,
                        },
                    );
                    let name = format!(
                        "train {kernel:?} {model:?} {updates:?} {atomics:?} d{dim} w{window} n{negative}"
                    );
                    if atomics == shaders::Atomics::Native && updates != shaders::Updates::Racy {
                        // Without the capability the native variant must be rejected: it is
                        // only selected where the adapter declares the feature.
                        let m = naga::front::wgsl::parse_str(&src).unwrap();
                        assert!(
                            naga::valid::Validator::new(
                                naga::valid::ValidationFlags::all(),
                                naga::valid::Capabilities::default()
                            )
                            .validate(&m)
                            .is_err(),
                            "{name}: validated without SHADER_FLOAT32_ATOMIC"
                        );
                        validate_with(
                            &name,
                            &src,
                            naga::valid::Capabilities::SHADER_FLOAT32_ATOMIC,
                        );
                    } else {
                        validate(&name, &src);
                    }
                    assert!(!src.contains("{{"), "unsubstituted placeholder");
                    assert!(
                        !src.contains("LOAD(") && !src.contains("ADD("),
                        "unexpanded accessor"
                    );
                }
            }
        }
    }
}

/// The subword kernel for the same shapes, every update mode and both atomics (the native
/// variant only with the capability), and the subword hierarchical-softmax kernel alone
/// and after it, paths in blocks of 1 to 64 nodes.
#[test]
fn subword_kernels_validate_for_all_shapes() {
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        for (dim, window, negative) in [(1, 1, 1), (16, 3, 4), (100, 5, 5), (300, 10, 15)] {
            let p = KernelParams {
                precision: w2v_gpu::config::Precision::F32,
                model,
                dim,
                window,
                negative,
            };
            for updates in [
                shaders::Updates::Atomic,
                shaders::Updates::Hybrid,
                shaders::Updates::Racy,
            ] {
                for atomics in [shaders::Atomics::CompareAndSwap, shaders::Atomics::Native] {
                    let src = shaders::subword_source(
                        &p,
                        12345,
                        70_000,
                        updates,
                        atomics,
                        shaders::Reduce::Serial,
                        [32, 64, 128, 256][(dim + window + negative) % 4],
                    );
                    let name = format!(
                        "subword {model:?} {updates:?} {atomics:?} d{dim} w{window} n{negative}"
                    );
                    let caps = if atomics == shaders::Atomics::Native {
                        naga::valid::Capabilities::SHADER_FLOAT32_ATOMIC
                    } else {
                        naga::valid::Capabilities::default()
                    };
                    validate_with(&name, &src, caps);
                    assert!(!src.contains("{{"), "{name}: unsubstituted placeholder");
                    let nodes = [1, 5, 30, 64][(dim + window) % 4];
                    let src = shaders::hs_subword_source(
                        &p,
                        12345,
                        70_000,
                        (updates, atomics, shaders::Reduce::Serial),
                        [32, 64, 128, 256][(dim + negative) % 4],
                        nodes,
                        negative % 2 == 1,
                    );
                    let name = format!("hs {name} b{nodes}");
                    validate_with(&name, &src, caps);
                    assert!(!src.contains("{{"), "{name}: unsubstituted placeholder");
                    // Paragraph vectors' bags (doc2vec on the GPU), training and inferring.
                    let modes = (updates, atomics, shaders::Reduce::Serial);
                    for (rows, infer) in [(DocRows::Dbow, false), (DocRows::Dm, true)] {
                        let doc = DocTraining {
                            infer,
                            ..DocTraining::train(rows, false)
                        };
                        let wg = [32, 64, 128, 256][(dim + window) % 4];
                        let add = negative % 2 == 0;
                        let src = shaders::doc_source(&p, 12345, 70_000, modes, wg, doc, add);
                        let name = format!("doc {doc:?} {name}");
                        validate_with(&name, &src, caps);
                        assert!(!src.contains("{{"), "{name}: unsubstituted placeholder");
                        let src = shaders::hs_doc_source(
                            &p,
                            12345,
                            70_000,
                            modes,
                            (wg, nodes),
                            doc,
                            !add,
                        );
                        let name = format!("hs {name}");
                        validate_with(&name, &src, caps);
                        assert!(!src.contains("{{"), "{name}: unsubstituted placeholder");
                    }
                }
            }
        }
    }
}

/// The hierarchical-softmax kernel for the same shapes, alone and after negative sampling,
/// every update mode and both atomics, paths in blocks of 1 to a workgroup's lanes, the
/// context rows in workgroup memory and read from the matrix.
#[test]
fn hs_kernels_validate_for_all_shapes() {
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        for (dim, window, negative, block) in [
            (1, 1, 0, 1),
            (16, 3, 4, 5),
            (100, 5, 0, 30),
            (300, 10, 15, 64),
        ] {
            let p = KernelParams {
                precision: w2v_gpu::config::Precision::F32,
                model,
                dim,
                window,
                negative,
            };
            for updates in [
                shaders::Updates::Atomic,
                shaders::Updates::Hybrid,
                shaders::Updates::Racy,
            ] {
                for (atomics, local_context) in [
                    (shaders::Atomics::CompareAndSwap, true),
                    (shaders::Atomics::CompareAndSwap, false),
                    (shaders::Atomics::Native, true),
                    (shaders::Atomics::Native, false),
                ] {
                    let workgroup = [32, 64, 128, 256][(dim + window + block) % 4];
                    let src = shaders::hs_source(
                        &p,
                        12345,
                        (updates, atomics, shaders::Reduce::Serial),
                        workgroup,
                        shaders::HsBlock {
                            nodes: block as u32,
                            local_context,
                        },
                        negative > 0,
                    );
                    let name = format!(
                        "hs {model:?} {updates:?} {atomics:?} d{dim} w{window} n{negative} b{block} local {local_context}"
                    );
                    let caps = if atomics == shaders::Atomics::Native {
                        naga::valid::Capabilities::SHADER_FLOAT32_ATOMIC
                    } else {
                        naga::valid::Capabilities::default()
                    };
                    validate_with(&name, &src, caps);
                    assert!(!src.contains("{{"), "{name}: unsubstituted placeholder");
                }
            }
        }
    }
}

#[test]
fn sparse_optimizer_kernels_validate() {
    use w2v_gpu::optim::{OptimParams, OptimizerKind};
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Adagrad,
        OptimizerKind::Adam,
        OptimizerKind::Rmsprop,
    ] {
        for (model, dim, negative) in [
            (ModelKind::SkipGram, 1, 1),
            (ModelKind::SkipGram, 100, 5),
            (ModelKind::Cbow, 300, 31),
            (ModelKind::Cbow, 4096, 5),
        ] {
            let p = KernelParams {
                precision: w2v_gpu::config::Precision::F32,
                model,
                dim,
                window: 5,
                negative,
            };
            for dense in [false, true] {
                let opt = OptimParams {
                    kind,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    dense,
                };
                let src = shaders::sparse_source(&p, &opt, 777, (1000, 900), 5000);
                validate(
                    &format!("sparse {kind:?} {model:?} d{dim} n{negative} dense {dense}"),
                    &src,
                );
                assert!(!src.contains("{{"), "unsubstituted placeholder");
            }
        }
    }
}

#[test]
fn reduce_kernel_validates() {
    validate("reduce", &shaders::reduce_source());
}

#[test]
fn a_broken_shader_is_rejected() {
    // The validator is not a no-op: an out-of-type store must fail.
    let bad = "@group(0) @binding(0) var<storage, read_write> a: array<u32>;\n@compute @workgroup_size(1) fn main() { a[0] = 1.5; }";
    let parsed = naga::front::wgsl::parse_str(bad);
    assert!(
        parsed.is_err() || {
            let m = parsed.unwrap();
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), Default::default())
                .validate(&m)
                .is_err()
        }
    );
}

/// Bytes of workgroup memory `src` declares: the sizes of its workgroup variables, summed.
fn declared_workgroup_bytes(src: &str) -> u64 {
    let module = naga::front::wgsl::parse_str(src).expect("parses");
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).expect("layout");
    module
        .global_variables
        .iter()
        .filter(|(_, g)| g.space == naga::AddressSpace::WorkGroup)
        .map(|(_, g)| layouter[g.ty].size as u64)
        .sum()
}

/// The engine decides which kernel fits an adapter (and how many positions a tile takes)
/// from its own count of each kernel's workgroup memory; that count must be what the
/// shaders declare, for every kernel, model, shape and workgroup size, and for the tile
/// kernel with shared noise words.
#[test]
fn workgroup_memory_estimates_match_the_declarations() {
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        for (dim, window, negative) in [(1, 1, 1), (27, 3, 4), (100, 5, 5), (300, 10, 15)] {
            let p = KernelParams {
                precision: w2v_gpu::config::Precision::F32,
                model,
                dim,
                window,
                negative,
            };
            for (chunk, workgroup, context) in [
                (1, 32, shaders::ContextRows::Workgroup),
                (7, 64, shaders::ContextRows::Device),
                (32, 256, shaders::ContextRows::Workgroup),
                (32, 1024, shaders::ContextRows::Device),
            ] {
                let launch = shaders::Launch {
                    chunk,
                    workgroup,
                    tile_noise: false,
                    context,
                    reduce: shaders::Reduce::Subgroup,
                };
                // The tile kernel also with its noise words shared (its own output slots).
                let shared = shaders::Launch {
                    tile_noise: true,
                    ..launch
                };
                let kernels = shaders::Kernel::ALL.map(|k| (k, launch));
                // Both sums: one count slot per lane (serial) or per subgroup.
                for (kernel, launch) in kernels
                    .into_iter()
                    .chain([(shaders::Kernel::Tile, shared)])
                    .flat_map(|(k, l)| {
                        shaders::Reduce::ALL.map(|reduce| (k, shaders::Launch { reduce, ..l }))
                    })
                {
                    let src = shaders::kernel_source(
                        kernel,
                        &p,
                        1000,
                        shaders::Updates::Atomic,
                        shaders::Atomics::Native,
                        launch,
                    );
                    assert_eq!(
                        declared_workgroup_bytes(&src),
                        shaders::kernel_workgroup_bytes(kernel, &p, launch),
                        "{kernel:?} {model:?} d{dim} w{window} n{negative} {launch:?}"
                    );
                }
                let src = shaders::subword_source(
                    &p,
                    1000,
                    500,
                    shaders::Updates::Atomic,
                    shaders::Atomics::Native,
                    shaders::Reduce::Subgroup,
                    workgroup,
                );
                assert_eq!(
                    declared_workgroup_bytes(&src),
                    shaders::subword_workgroup_bytes(&p, workgroup),
                    "subword {model:?} d{dim} w{window} n{negative} {launch:?}"
                );
                let src = shaders::hs_subword_source(
                    &p,
                    1000,
                    500,
                    (
                        shaders::Updates::Atomic,
                        shaders::Atomics::Native,
                        shaders::Reduce::Subgroup,
                    ),
                    workgroup,
                    chunk,
                    true,
                );
                assert_eq!(
                    declared_workgroup_bytes(&src),
                    shaders::hs_subword_workgroup_bytes(&p, workgroup, chunk),
                    "hs subword {model:?} d{dim} w{window} {launch:?}"
                );
                for local_context in [true, false] {
                    let block = shaders::HsBlock {
                        nodes: chunk,
                        local_context,
                    };
                    let src = shaders::hs_source(
                        &p,
                        1000,
                        (
                            shaders::Updates::Atomic,
                            shaders::Atomics::Native,
                            shaders::Reduce::Subgroup,
                        ),
                        workgroup,
                        block,
                        false,
                    );
                    assert_eq!(
                        declared_workgroup_bytes(&src),
                        shaders::hs_workgroup_bytes(&p, workgroup, block),
                        "hs {model:?} d{dim} w{window} {launch:?} {block:?}"
                    );
                }
            }
        }
    }
}

/// The classifier's workgroup memory, with and without the output matrix kept there.
#[test]
fn classifier_workgroup_memory_estimate_matches_the_declarations() {
    for (dim, out_local, workgroup) in [(1, 0, 32), (27, 27 * 18, 64), (100, 0, 256)] {
        for softmax in [true, false] {
            let src = shaders::classify_source(
                dim,
                1000,
                (shaders::Atomics::Native, shaders::Reduce::Subgroup),
                softmax,
                out_local,
                workgroup,
            );
            assert_eq!(
                declared_workgroup_bytes(&src),
                shaders::classify_workgroup_bytes(workgroup, out_local),
                "d{dim} local {out_local} wg {workgroup}"
            );
        }
    }
}

/// The dm_concat kernel's workgroup memory: the layer and its gradient.
#[test]
fn concat_workgroup_memory_estimate_matches_the_declarations() {
    for (dim, window, workgroup) in [(1, 1, 32), (100, 5, 64), (33, 2, 256)] {
        let src = shaders::concat_source(
            dim,
            window,
            1000,
            1000,
            (shaders::Atomics::CompareAndSwap, false),
            workgroup,
        );
        assert_eq!(
            declared_workgroup_bytes(&src),
            shaders::concat_workgroup_bytes(dim, window, workgroup),
            "d{dim} w{window} wg {workgroup}"
        );
    }
}

/// The tree kernel's blocks: the whole path where it fits, halved where not, and the context
/// rows moved out of workgroup memory only when not even one node fits beside them; what
/// fits declares no more workgroup memory than the limit.
#[test]
fn hs_blocks_fit_the_workgroup_memory() {
    let shape = |model, dim, window| KernelParams {
        precision: w2v_gpu::config::Precision::F32,
        model,
        dim,
        window,
        negative: 0,
    };
    let lavapipe = 32_768;
    let sg100 = shape(ModelKind::SkipGram, 100, 5);
    assert_eq!(
        shaders::hs_block(&sg100, 64, 64, 20, lavapipe),
        Some(shaders::HsBlock::local(20))
    );
    assert_eq!(
        shaders::hs_block(&sg100, 64, 8, 20, lavapipe),
        Some(shaders::HsBlock::local(8)),
        "--gpu-chunk caps the block"
    );
    let sg300 = shape(ModelKind::SkipGram, 300, 10);
    let wide = shaders::hs_block(&sg300, 64, 64, 20, lavapipe).expect("fits without rows");
    assert!(!wide.local_context && wide.nodes >= 1, "{wide:?}");
    let cbow300 = shape(ModelKind::Cbow, 300, 10);
    let cbow = shaders::hs_block(&cbow300, 64, 64, 20, lavapipe).unwrap();
    assert!(cbow.local_context && cbow.nodes >= 8, "{cbow:?}");
    let halved = shaders::hs_block(&sg100, 64, 64, 20, 16_384).unwrap();
    assert!(
        halved.local_context && (1..20).contains(&halved.nodes),
        "{halved:?}"
    );
    assert_eq!(shaders::hs_block(&sg300, 64, 64, 20, 20_000), None);
    for (p, limit) in [
        (sg100, lavapipe),
        (sg300, lavapipe),
        (sg300, 49_152),
        (cbow300, 16_384),
    ] {
        for workgroup in [32, 64, 256] {
            let b = shaders::hs_block(&p, workgroup, 64, 25, limit).unwrap();
            let src = shaders::hs_source(
                &p,
                1000,
                (
                    shaders::Updates::Atomic,
                    shaders::Atomics::Native,
                    shaders::Reduce::Subgroup,
                ),
                workgroup,
                b,
                false,
            );
            assert!(declared_workgroup_bytes(&src) <= limit, "{p:?} {b:?}");
        }
    }
}
