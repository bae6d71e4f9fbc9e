#![allow(dead_code)]
//! Helpers shared by the integration tests.

use w2v_gpu::backend::gpu::GpuContext;
use w2v_gpu::config::BackendKind;
use w2v_gpu::train::Reporter;

/// The wgpu backend the GPU tests run on: `W2V_TEST_BACKEND` (vulkan, gl, metal, dx12),
/// default vulkan.
pub fn test_backend() -> BackendKind {
    match std::env::var("W2V_TEST_BACKEND").as_deref() {
        Ok("gl") => BackendKind::Gl,
        Ok("metal") => BackendKind::Metal,
        Ok("dx12") => BackendKind::Dx12,
        _ => BackendKind::Vulkan,
    }
}

/// Opens a GPU for a test. Without an adapter the test is skipped with a message, except
/// when `CI` is set: then it fails, so a broken driver install cannot pass as "skipped".
pub fn gpu_or_skip(test: &str) -> Option<GpuContext> {
    match GpuContext::open(test_backend(), None, &Reporter::quiet()) {
        Ok(Some(ctx)) => Some(ctx),
        Ok(None) => unreachable!("an explicit backend never falls back"),
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: CI is set but no GPU adapter is usable: {e}");
            }
            skipped(test, &format!("no GPU adapter ({e})"));
            None
        }
    }
}

/// Says that a test skipped, where the normal test output shows it: written straight to
/// the process's stderr, which the test harness does not capture (its `eprintln!` capture
/// would hide the line behind the test's `ok`).
pub fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// `../shared/data/<name>` beside the repository, if present.
pub fn shared_data(name: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name);
    p.exists().then_some(p)
}

pub fn repo_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// A corpus with planted structure: `topics` groups of `per_topic` words; each sentence
/// uses words of one topic only. A trained model puts each word's nearest neighbours in
/// its own topic; a random one does so with probability 1/topics.
pub fn topic_corpus(
    topics: usize,
    per_topic: usize,
    sentences: usize,
    len: usize,
    seed: u64,
) -> String {
    let mut rng = w2v_gpu::sampling::Rng::new(seed);
    let mut s = String::new();
    for _ in 0..sentences {
        let t = rng.below(topics as u32) as usize;
        for k in 0..len {
            let w = rng.below(per_topic as u32) as usize;
            if k > 0 {
                s.push(' ');
            }
            s.push_str(&format!("t{t}w{w}"));
        }
        s.push('\n');
    }
    s
}

/// Fraction of words whose nearest neighbour (cosine) is in the same topic.
pub fn topic_purity(words: &[String], dim: usize, vectors: &[f32]) -> f64 {
    let emb = w2v_gpu::io::Embeddings {
        words: words.to_vec(),
        dim,
        vectors: vectors.to_vec(),
    };
    let space = w2v_gpu::eval::Space::new(&emb, false);
    let topic = |w: &str| w.split('w').next().unwrap_or("").to_string();
    let mut good = 0;
    for w in words {
        let n = space.similar(w, 1).unwrap();
        if topic(&n[0].0) == topic(w) {
            good += 1;
        }
    }
    good as f64 / words.len() as f64
}

/// The largest |a[i] − b[i]| over two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "slices of different lengths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// Each element of `gpu` within `tol(gpu, cpu)` of `cpu`'s; names the worst one otherwise.
pub fn assert_within(name: &str, gpu: &[f32], cpu: &[f32], tol: impl Fn(f32, f32) -> f32) {
    assert_eq!(gpu.len(), cpu.len(), "{name}: lengths");
    let mut worst = (0.0f32, 0usize);
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let err = (g - c).abs() - tol(g, c);
        if err > worst.0 {
            worst = (err, i);
        }
    }
    assert!(
        worst.0 <= 0.0,
        "{name}: element {} differs: gpu {} cpu {}",
        worst.1,
        gpu[worst.1],
        cpu[worst.1]
    );
}

/// Opens the test GPU for `atomics` and `reduce`, or skips: the native atomics and the
/// subgroup variants are skipped (visibly) on adapters without the feature, except under
/// CI on Vulkan, where lavapipe has both.
pub fn open_for(
    name: &str,
    atomics: w2v_gpu::backend::gpu::shaders::Atomics,
    reduce: w2v_gpu::backend::gpu::shaders::Reduce,
) -> Option<w2v_gpu::backend::gpu::GpuContext> {
    use w2v_gpu::config::FeatureVariant;
    let ctx = gpu_or_skip(name)?;
    let need = atomics.required_features() | reduce.required_features();
    if !ctx.features.contains(need) {
        if std::env::var_os("CI").is_some()
            && test_backend() == w2v_gpu::config::BackendKind::Vulkan
        {
            panic!("{name}: CI's Vulkan adapter (lavapipe) should offer {need:?}");
        }
        skipped(name, &format!("the adapter lacks {need:?}"));
        return None;
    }
    Some(ctx)
}
