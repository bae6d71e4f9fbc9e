//! The GPU SGD engine's math without a GPU: the CPU reference of the kernels
//! (`CpuReference`, what the parity tests compare the shaders with) driven through the GPU
//! engine's pipeline (batcher, `--streams`, per-position learning rate), windows applied in
//! order. It answers "what do the kernels compute when no two windows overlap in time", to
//! set beside a GPU run, where thousands of windows are in flight at once.
//!
//! ```sh
//! cargo run --release --example reference_engine -- CORPUS OUT.bin [--model cbow] \
//!     [--streams 16] [--seed 1] [--epochs 1] [--sample 1e-4]
//! ```
//!
//! Writes the input vectors as word2vec binary and prints the run's words, seconds and final
//! loss. Other settings are `train`'s defaults (dim 100, window 5, negative 5, min-count 5).

use w2v_gpu::backend::cpu::CpuReference;
use w2v_gpu::backend::{Backend, KernelParams};
use w2v_gpu::config::{Format, ModelKind, TrainConfig};
use w2v_gpu::model::Model;
use w2v_gpu::sampling::AliasTable;
use w2v_gpu::train::{train_with_backend, Checkpointer, Reporter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: reference_engine CORPUS OUT.bin [--model skipgram|cbow] [--streams N] [--seed S] [--epochs E] [--sample T]";
    let [input, output, flags @ ..] = &args[..] else {
        return Err(usage.into());
    };
    let mut cfg = TrainConfig {
        input: input.into(),
        output: output.into(),
        ..TrainConfig::default()
    };
    for pair in flags.chunks(2) {
        let [flag, value] = pair else {
            return Err(usage.into());
        };
        match flag.as_str() {
            "--model" if value == "cbow" => cfg.model = ModelKind::Cbow,
            "--model" if value == "skipgram" => cfg.model = ModelKind::SkipGram,
            "--streams" => cfg.streams = value.parse()?,
            "--seed" => cfg.seed = value.parse()?,
            "--epochs" => cfg.epochs = value.parse()?,
            "--sample" => cfg.sample = value.parse()?,
            _ => return Err(format!("{flag} {value}: {usage}").into()),
        }
    }
    cfg.validate()?;
    let opts = w2v_gpu::corpus::LoadOptions {
        min_count: cfg.min_count,
        max_vocab: None,
        fixed_vocab: None,
        normalize: cfg.normalize,
        table_limit: cfg.max_vocab_size,
        cache_dir: None,
    };
    let corpus = w2v_gpu::corpus::load_with(std::slice::from_ref(&cfg.input), opts)?;
    let model = Model::new(corpus.vocab.len(), cfg.dim, cfg.seed);
    let alias = AliasTable::unigram(corpus.vocab.counts(), cfg.ns_exponent);
    let mut engine = CpuReference::new(model, KernelParams::of(&cfg), alias);
    let reporter = Reporter::quiet();
    let mut ck = Checkpointer::new(&cfg, &corpus, "reference", &reporter)?;
    let report = train_with_backend(&mut engine, &corpus, &cfg, &reporter, &mut ck, None)?;
    let model = engine.download()?;
    w2v_gpu::io::write_vectors(
        &cfg.output,
        corpus.vocab.words(),
        model.dim,
        &model.input,
        Format::Binary,
    )?;
    println!(
        "{} words in {:.1} s, final loss {:.4}",
        report.words,
        report.train_seconds,
        report.final_loss.unwrap_or(f64::NAN)
    );
    Ok(())
}
