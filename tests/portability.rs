//! Every shader the engines can build, translated by naga for every backend where wgpu could
//! select it — SPIR-V (Vulkan), MSL (Metal), HLSL (DX12), GLSL compute (GL) — with the
//! capabilities that backend can declare; no GPU needed. A variant a backend cannot compile
//! must be one the engine never selects there, and the selection logic is checked against
//! the same table (`shaders::features_possible_on`).

use naga::valid::{Capabilities, ValidationFlags, Validator};
use w2v_gpu::backend::gpu::shaders::{self, Atomics, FeatureVariant, Reduce, Variant};
use w2v_gpu::backend::KernelParams;
use w2v_gpu::config::ModelKind;

const BACKENDS: [wgpu::Backend; 4] = [
    wgpu::Backend::Vulkan,
    wgpu::Backend::Metal,
    wgpu::Backend::Dx12,
    wgpu::Backend::Gl,
];

fn capabilities(features: wgpu::Features) -> Capabilities {
    let mut c = Capabilities::empty();
    if features.contains(wgpu::Features::SHADER_FLOAT32_ATOMIC) {
        c |= Capabilities::SHADER_FLOAT32_ATOMIC;
    }
    if features.contains(wgpu::Features::SUBGROUP) {
        c |= Capabilities::SUBGROUP;
    }
    c
}

fn validator(caps: Capabilities) -> Validator {
    let mut v = Validator::new(ValidationFlags::all(), caps);
    if caps.contains(Capabilities::SUBGROUP) {
        v.subgroup_stages(naga::valid::ShaderStages::COMPUTE)
            .subgroup_operations(naga::valid::SubgroupOperationSet::all());
    }
    v
}

fn translate(v: &Variant, backend: wgpu::Backend) -> Result<(), String> {
    let module =
        naga::front::wgsl::parse_str(&v.source).map_err(|e| e.emit_to_string(&v.source))?;
    let caps = capabilities(shaders::features_possible_on(backend));
    let info = validator(caps)
        .validate(&module)
        .map_err(|e| format!("validation: {e:?}"))?;
    let stage = naga::ShaderStage::Compute;
    match backend {
        wgpu::Backend::Vulkan => {
            let opts = naga::back::spv::Options {
                lang_version: (1, 3),
                ..Default::default()
            };
            let pipe = naga::back::spv::PipelineOptions {
                shader_stage: stage,
                entry_point: v.entry.to_string(),
            };
            naga::back::spv::write_vec(&module, &info, &opts, Some(&pipe))
                .map(|_| ())
                .map_err(|e| format!("SPIR-V: {e}"))
        }
        wgpu::Backend::Metal => {
            // Float atomics need MSL 3.0 (Metal 3); the others are written for 2.4 too.
            let versions: &[(u8, u8)] = if !v.needs.contains(wgpu::Features::SHADER_FLOAT32_ATOMIC)
            {
                &[(2, 4), (3, 0)]
            } else {
                &[(3, 0)]
            };
            for &lang_version in versions {
                let opts = naga::back::msl::Options {
                    lang_version,
                    ..Default::default()
                };
                let pipe = naga::back::msl::PipelineOptions {
                    entry_point: Some((stage, v.entry.to_string())),
                    ..Default::default()
                };
                naga::back::msl::write_string(&module, &info, &opts, &pipe)
                    .map_err(|e| format!("MSL {lang_version:?}: {e}"))?;
            }
            Ok(())
        }
        wgpu::Backend::Dx12 => {
            // Wave (subgroup) operations need shader model 6.0.
            let models: &[naga::back::hlsl::ShaderModel] = if v.needs.is_empty() {
                &[
                    naga::back::hlsl::ShaderModel::V5_1,
                    naga::back::hlsl::ShaderModel::V6_0,
                ]
            } else {
                &[naga::back::hlsl::ShaderModel::V6_0]
            };
            for &shader_model in models {
                let opts = naga::back::hlsl::Options {
                    shader_model,
                    ..Default::default()
                };
                let pipe = naga::back::hlsl::PipelineOptions {
                    entry_point: Some((stage, v.entry.to_string())),
                };
                let mut out = String::new();
                naga::back::hlsl::Writer::new(&mut out, &opts, &pipe)
                    .write(&module, &info, None)
                    .map_err(|e| format!("HLSL {shader_model:?}: {e}"))?;
            }
            Ok(())
        }
        wgpu::Backend::Gl => {
            for version in [
                naga::back::glsl::Version::Embedded {
                    version: 310,
                    is_webgl: false,
                },
                naga::back::glsl::Version::Desktop(430),
            ] {
                let opts = naga::back::glsl::Options {
                    version,
                    ..Default::default()
                };
                let pipe = naga::back::glsl::PipelineOptions {
                    shader_stage: stage,
                    entry_point: v.entry.to_string(),
                    multiview: None,
                };
                let mut out = String::new();
                naga::back::glsl::Writer::new(
                    &mut out,
                    &module,
                    &info,
                    &opts,
                    &pipe,
                    naga::proc::BoundsCheckPolicies::default(),
                )
                .and_then(|mut w| w.write().map(|_| ()))
                .map_err(|e| format!("GLSL {version:?}: {e}"))?;
            }
            Ok(())
        }
        _ => unreachable!(),
    }
}

fn shapes() -> Vec<KernelParams> {
    let mut v = Vec::new();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        for (dim, window, negative) in [(100, 5, 5), (300, 10, 15), (1, 1, 1)] {
            v.push(KernelParams {
                precision: w2v_gpu::config::Precision::F32,
                model,
                dim,
                window,
                negative,
            });
        }
    }
    v
}

#[test]
fn every_variant_translates_for_every_backend_that_can_select_it() {
    let mut translated = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for p in shapes() {
        for v in shaders::variants(&p, 4096, 10_000, 2048) {
            for backend in BACKENDS {
                let possible = shaders::features_possible_on(backend);
                if !possible.contains(v.needs) {
                    continue;
                }
                match translate(&v, backend) {
                    Ok(()) => *translated.entry(format!("{backend:?}")).or_default() += 1,
                    Err(e) => failures.push(format!(
                        "{} (d{} w{} n{}) on {backend:?}: {e}",
                        v.name, p.dim, p.window, p.negative
                    )),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("translated: {translated:?}");
    // Every backend compiled the variants it can run: Vulkan and Metal all of them, DX12 all
    // but the float-atomic ones, GL only those that need no optional feature.
    let per_shape = shaders::variants(&shapes()[0], 4096, 10_000, 2048);
    let count = |f: &dyn Fn(wgpu::Features) -> bool| {
        per_shape.iter().filter(|v| f(v.needs)).count() * shapes().len()
    };
    let all = count(&|_| true);
    let plain = count(&|n| n.is_empty());
    let no_float_atomics = count(&|n| !n.contains(wgpu::Features::SHADER_FLOAT32_ATOMIC));
    assert!(plain < no_float_atomics && no_float_atomics < all);
    assert_eq!(translated["Vulkan"], all);
    assert_eq!(translated["Metal"], all);
    assert_eq!(translated["Dx12"], no_float_atomics);
    assert_eq!(translated["Gl"], plain);
}

/// The engine's choice, given everything a backend can offer, is a variant that backend can
/// compile; and a native float-atomic variant is rejected by naga without the capability,
/// so the table above is not vacuous.
#[test]
fn selection_never_picks_what_a_backend_cannot_compile() {
    for backend in BACKENDS {
        let possible = shaders::features_possible_on(backend);
        for features in [wgpu::Features::empty(), possible] {
            let chosen = Atomics::best_for(features);
            assert!(
                possible.contains(chosen.required_features()),
                "{backend:?} with {features:?} would run {chosen:?}"
            );
        }
    }
    assert_eq!(
        Atomics::best_for(shaders::features_possible_on(wgpu::Backend::Dx12)),
        Atomics::CompareAndSwap
    );
    assert_eq!(
        Atomics::best_for(shaders::features_possible_on(wgpu::Backend::Gl)),
        Atomics::CompareAndSwap
    );
    for backend in BACKENDS {
        let possible = shaders::features_possible_on(backend);
        for features in [wgpu::Features::empty(), possible] {
            let chosen = Reduce::best_for(features);
            assert!(
                possible.contains(chosen.required_features()),
                "{backend:?} with {features:?} would run {chosen:?}"
            );
        }
    }
    assert_eq!(
        Reduce::best_for(shaders::features_possible_on(wgpu::Backend::Gl)),
        Reduce::Serial
    );
    // Each optional feature's variants fail validation without it.
    let p = shapes()[0];
    for feature in [
        wgpu::Features::SHADER_FLOAT32_ATOMIC,
        wgpu::Features::SUBGROUP,
    ] {
        let v = shaders::variants(&p, 4096, 10_000, 2048)
            .into_iter()
            .find(|v| v.needs == feature)
            .unwrap();
        let module = naga::front::wgsl::parse_str(&v.source).unwrap();
        assert!(
            validator(Capabilities::empty()).validate(&module).is_err(),
            "{} validates without {feature:?}",
            v.name
        );
        assert!(validator(capabilities(feature)).validate(&module).is_ok());
    }
}
