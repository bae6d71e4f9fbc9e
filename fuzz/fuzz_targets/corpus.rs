//! Corpora: the input's bytes after a 2-byte settings prefix are a corpus file, trained on
//! the CPU end to end as `train` trains it (counting, the vocabulary, subsampling, the
//! batches, the trainer, writing the vectors) with tiny settings the prefix picks: skip-gram
//! or CBOW, negative sampling and/or hierarchical softmax, subwords, the Hogwild or the
//! minibatch engine, lower-casing and punctuation stripping, the window. Any corpus must
//! train or give an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use w2v_gpu::config::{BackendKind, ModelKind, TrainConfig};
use w2v_gpu::optim::OptimizerKind;
use w2v_gpu::progress::Reporter;
use w2v_gpu::subword::SubwordParams;

fuzz_target!(|data: &[u8]| {
    let [a, b, text @ ..] = data else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("corpus.txt");
    std::fs::write(&input, text).unwrap();
    let mut cfg = TrainConfig {
        input,
        output: dir.path().join("v.txt"),
        model: if a & 1 == 0 {
            ModelKind::SkipGram
        } else {
            ModelKind::Cbow
        },
        dim: 4,
        window: 1 + (b % 4) as usize,
        negative: if a & 2 == 0 { 2 } else { 0 },
        hs: a & 6 != 0,
        min_count: 1,
        sample: if a & 8 == 0 { 0.0 } else { 1e-3 },
        epochs: 1,
        threads: 1,
        backend: BackendKind::Cpu,
        seed: 1,
        ..TrainConfig::default()
    };
    if a & 16 != 0 {
        cfg.subwords = Some(SubwordParams {
            minn: 1 + (b >> 4 & 3) as usize,
            maxn: 3,
            bucket: 50,
        });
    }
    if a & 32 != 0 {
        cfg.optimizer = OptimizerKind::Adam;
        cfg.batch_size = Some(4);
    }
    cfg.normalize.lowercase = a & 64 != 0;
    cfg.normalize.strip_punctuation = a & 128 != 0;
    if cfg.validate().is_ok() {
        let _ = w2v_gpu::train::train(&cfg, &Reporter::quiet());
    }
});
