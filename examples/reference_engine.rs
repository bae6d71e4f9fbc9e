//! The GPU SGD engine's math without a GPU: the CPU reference of the kernels
//! (`CpuReference`, what the parity tests compare the shaders with) driven through the GPU
//! engine's pipeline (batcher, `--streams`, per-position learning rate), windows applied in
//! order. It answers "what do the kernels compute when no two windows overlap in time", to
//! set beside a GPU run, where thousands of windows are in flight at once. With
//! `--gpu-kernel tile --gpu-chunk T` the windows of each tile of T positions read the rows
//! as the tile began, as the tile kernel's do (give the T the GPU run reports: it halves
//! `--gpu-chunk` until the tile fits the adapter's workgroup memory), and with
//! `--gpu-tile-noise` share the noise words drawn at the tile's first position; the tiles
//! run in the tile kernel's order (`--gpu-order`, strided by default). Otherwise the
//! windows run in the window kernel's order (`--gpu-order`). With `--in-flight N` the
//! windows (or tiles) run in groups of N that read the rows as the group began: a model of
//! a GPU running N workgroups at once. With `--subwords` it runs
//! the subword kernel's reference and writes each word's mean of its rows, as `train` does;
//! with `--hs` the hierarchical-softmax kernel's after the negative-sampling windows (none
//! with `--negative 0`).
//!
//! ```sh
//! cargo run --release --example reference_engine -- --input CORPUS --output OUT.bin \
//!     [train's flags: --model cbow --streams 16 --seed 1 --epochs 1 --sample 1e-4 ...]
//! ```
//!
//! Writes the input vectors as word2vec binary and prints the run's words, seconds and final
//! loss. It takes `train`'s flags and defaults (dim 100, window 5, negative 5, min-count 5,
//! 5 epochs); those of another engine (the optimizer, the GPU's other kernel choices) do not
//! apply.

use clap::Parser;
use w2v_gpu::backend::cpu::CpuReference;
use w2v_gpu::backend::{Backend, KernelParams};
use w2v_gpu::config::Format;
use w2v_gpu::model::Model;
use w2v_gpu::sampling::AliasTable;
use w2v_gpu::subword::{vocab_vectors, SubwordTable};
use w2v_gpu::train::{load_corpus, train_with_backend, Checkpointer, Reporter};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    train: w2v_gpu::cli::TrainArgs,
    /// A model of a GPU running N workgroups at once: each window reads the rows as they
    /// were when its group of N windows (with `--gpu-kernel tile`, tiles) consecutive in the
    /// run order (`--gpu-order`) began, the group's updates summed when it ends.
    #[arg(long, value_name = "N")]
    in_flight: Option<usize>,
    /// The stride of the order in windows (with `--gpu-kernel tile`, tiles) instead of
    /// `--gpu-order`'s.
    #[arg(long, value_name = "S")]
    order_stride: Option<usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cfg = args.train.to_config()?;
    cfg.validate()?;
    let corpus = load_corpus(&cfg)?;
    let mut model = Model::new(corpus.vocab.len(), cfg.dim, cfg.seed);
    let sub = cfg.active_subwords();
    if let Some(p) = sub {
        model = model.with_subwords(p.bucket, cfg.seed);
    }
    if cfg.hs {
        model = model.with_hs();
    }
    let alias = AliasTable::unigram(corpus.vocab.counts(), cfg.ns_exponent);
    let mut engine = CpuReference::new(model, KernelParams::of(&cfg), alias);
    if let Some(p) = sub {
        engine = engine.with_subwords(SubwordTable::new(corpus.vocab.words(), &p));
    }
    if cfg.hs {
        engine = engine.with_hs(w2v_gpu::huffman::HuffmanTree::new(corpus.vocab.counts()));
    }
    use w2v_gpu::config::Kernel;
    let tile = cfg.gpu_chunk as usize;
    match cfg.gpu_kernel {
        Some(Kernel::Tile) => {
            let stride = args
                .order_stride
                .unwrap_or(cfg.gpu_order.tile_stride(cfg.window, tile));
            engine = engine
                .with_order(cfg.gpu_order.stride(cfg.window))
                .with_tile_order(tile, stride)
                .with_tile_reads(tile);
            if cfg.gpu_tile_noise {
                engine = engine.with_shared_noise(tile);
            }
        }
        // The chunk kernel walks its positions in order.
        Some(Kernel::Chunk) if args.in_flight.is_some() || args.order_stride.is_some() => {
            return Err("--in-flight and --order-stride model the window and tile kernels".into())
        }
        Some(Kernel::Chunk) => {}
        _ => {
            let stride = args
                .order_stride
                .unwrap_or(cfg.gpu_order.stride(cfg.window));
            engine = engine.with_order(stride);
        }
    }
    if let Some(n) = args.in_flight {
        engine = engine.with_in_flight(n);
    }
    let reporter = Reporter::quiet();
    let mut ck = Checkpointer::new(&cfg, &corpus, "reference", &reporter)?;
    let report = train_with_backend(&mut engine, &corpus, &cfg, &reporter, &mut ck, None)?;
    let model = engine.download()?;
    // With subwords, each word's vector is the mean of its rows, as `train` writes them.
    let vectors = match sub {
        None => model.input,
        Some(p) => {
            let all = [&model.input[..], &model.subwords[..]].concat();
            vocab_vectors(&all, model.dim, corpus.vocab.words(), &p)
        }
    };
    w2v_gpu::io::write_vectors(
        &cfg.output,
        corpus.vocab.words(),
        model.dim,
        &vectors,
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
