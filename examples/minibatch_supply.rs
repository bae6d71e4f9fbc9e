//! How fast the host side of the minibatch engines (`--optimizer adam|adagrad|rmsprop`,
//! `--deterministic`) supplies minibatches: the training pipeline (subsampling, cutting,
//! building each minibatch's windows and noise words on `--builders` threads, the engine
//! taking them in corpus order) driven into an engine that does nothing. A GPU minibatch
//! engine cannot train faster than this; the `train` subcommand gives a GPU engine
//! `--threads` builders (at most 8) and the CPU engine one.
//!
//! ```sh
//! cargo run --release --example minibatch_supply -- --input CORPUS --output UNUSED --builders N \
//!     --optimizer adam --epochs 1 --sample 1e-4 [train's flags: --model cbow --batch-size 512 ...]
//! ```
//!
//! `--output` is checked as `train` checks it, and not written. Prints the corpus words per
//! second of the run (the vocabulary is counted first and not timed), the minibatches and
//! the examples they hold.

use clap::Parser;
use w2v_gpu::backend::{SparseBackend, StepLoss, SyncRows};
use w2v_gpu::minibatch::Minibatch;
use w2v_gpu::model::Model;
use w2v_gpu::optim::OptimState;
use w2v_gpu::sampling::AliasTable;
use w2v_gpu::train::{load_corpus, train_minibatches, Checkpointer, Reporter};

/// Counts what it is given and trains nothing.
#[derive(Default)]
struct Counter {
    steps: u64,
    examples: u64,
}

impl SyncRows for Counter {}

impl SparseBackend for Counter {
    fn step(&mut self, mb: &Minibatch, _lr: f32) -> w2v_gpu::error::Result<()> {
        self.steps += 1;
        self.examples += mb.examples() as u64;
        Ok(())
    }
    fn take_loss(&mut self) -> w2v_gpu::error::Result<Option<StepLoss>> {
        Ok(None)
    }
    fn download(&mut self) -> w2v_gpu::error::Result<(Model, OptimState)> {
        Err(w2v_gpu::error::Error::Gpu(
            "the counting engine has no model".into(),
        ))
    }
    fn describe(&self) -> String {
        "a counting engine".into()
    }
    fn backend_name(&self) -> &'static str {
        "none"
    }
}

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    train: w2v_gpu::cli::TrainArgs,
    /// Threads building minibatches.
    #[arg(long, default_value_t = 1)]
    builders: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let builders = args.builders;
    let cfg = args.train.to_config()?;
    cfg.validate()?;
    if !cfg.minibatches() {
        return Err("pass --optimizer adam|adagrad|rmsprop or --deterministic: the minibatch engines' flags".into());
    }
    let corpus = load_corpus(&cfg)?;
    let table = cfg
        .active_subwords()
        .map(|p| w2v_gpu::subword::SubwordTable::new(corpus.vocab.words(), &p));
    let alias = AliasTable::unigram(corpus.vocab.counts(), cfg.ns_exponent);
    let reporter = Reporter::quiet();
    let mut ck = Checkpointer::new(&cfg, &corpus, "counter", &reporter)?;
    let mut engine = Counter::default();
    let t = std::time::Instant::now();
    let report = train_minibatches(
        &mut engine,
        &corpus,
        &cfg,
        table,
        &alias,
        builders,
        &reporter,
        &mut ck,
        None,
    )?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} words in {secs:.2} s: {:.2}M words/s with {builders} builder thread(s); {} minibatches, {} examples",
        report.words,
        report.words as f64 / secs / 1e6,
        engine.steps,
        engine.examples
    );
    Ok(())
}
