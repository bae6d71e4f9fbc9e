//! Which engine a run uses: the Hogwild CPU trainer, the GPU SGD engine, or a minibatch
//! engine (adaptive optimizers, `--deterministic`) on the CPU or the GPU.

use super::pipeline::{train_minibatches, train_with_backend};
use super::{hogwild::train_cpu, Checkpointer, TrainReport};
use crate::backend::cpu_sparse::CpuSparse;
use crate::backend::{gpu, Backend, KernelParams, SparseBackend};
use crate::config::{BackendKind, FeatureVariant, TrainConfig};
use crate::corpus::{self, Corpus};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::OptimState;
use crate::progress::Reporter;
use crate::sampling::AliasTable;
use crate::vocab::Vocab;
use std::path::PathBuf;
use std::time::Instant;

/// Copies the rows of `path` (word2vec text or binary) into the input matrix for every
/// vocabulary word the file has (fastText's `-pretrainedVectors`, gensim's continued
/// training); other words keep their fresh initialisation. Returns how many were copied.
/// With `output`, the rows go into the output (context) matrix instead (`--init-context`,
/// a file written by `--save-context`).
fn init_from_vectors(
    model: &mut Model,
    corpus: &Corpus,
    path: &std::path::Path,
    flag: &str,
    output: bool,
) -> Result<usize> {
    let emb = crate::io::read_vectors(path, None)?;
    if emb.dim != model.dim {
        return Err(Error::usage(
            flag,
            format!(
                "{} has dimension {}, this run --dim {}; use --dim {} or other vectors",
                path.display(),
                emb.dim,
                model.dim,
                emb.dim
            ),
        ));
    }
    let d = model.dim;
    let mut copied = 0;
    for (i, w) in emb.words.iter().enumerate() {
        if let Some(id) = corpus.vocab.id(w) {
            let id = id as usize;
            let m = if output {
                &mut model.output
            } else {
                &mut model.input
            };
            m[id * d..(id + 1) * d].copy_from_slice(&emb.vectors[i * d..(i + 1) * d]);
            copied += 1;
        }
    }
    Ok(copied)
}

/// The corpus files of `cfg` (`--input`, in order) and how to read them (its vocabulary
/// flags, `--read-vocab` loaded, the id cache in `--cache-dir`).
fn corpus_options(cfg: &TrainConfig) -> Result<(Vec<PathBuf>, corpus::LoadOptions)> {
    let fixed = match &cfg.read_vocab {
        Some(p) => Some(Vocab::load(p, cfg.min_count, cfg.max_vocab)?),
        None => None,
    };
    let mut inputs = vec![cfg.input.clone()];
    inputs.extend(cfg.more_inputs.iter().cloned());
    let opts = corpus::LoadOptions {
        min_count: cfg.min_count,
        max_vocab: cfg.max_vocab,
        fixed_vocab: fixed,
        normalize: cfg.normalize,
        table_limit: cfg.max_vocab_size,
        cache_dir: Some(cfg.cache_dir()),
    };
    Ok((inputs, opts))
}

/// Reads the corpus `cfg` trains on, as `train` reads it in one process.
pub fn load_corpus(cfg: &TrainConfig) -> Result<Corpus> {
    let (inputs, opts) = corpus_options(cfg)?;
    corpus::load_with(&inputs, opts)
}

/// Trains and returns the model without writing it (the library entry point for tests
/// and benchmarks).
pub fn train_model(cfg: &TrainConfig, reporter: &Reporter) -> Result<(Model, Corpus, TrainReport)> {
    let comm = crate::dist::initialized();
    match comm {
        Some(c) => crate::dist::agree(c, cfg.validate())?,
        None => cfg.validate()?,
    }
    super::report::MEMORY.start();
    // Open the GPU first: a missing adapter should fail before minutes of corpus reading.
    let engine = match cfg.backend {
        BackendKind::Cpu => None,
        // The subword and hierarchical-softmax kernels are tested against the CPU reference
        // but not yet measured on a hardware GPU (BENCHMARKS.md): auto keeps them on the
        // CPU trainer; a named backend runs them.
        BackendKind::Auto if cfg.hs || cfg.subwords.is_some() => {
            reporter.note("--hs/--subwords train on the CPU with --backend auto (name a GPU backend, e.g. --backend vulkan, to train them there)");
            None
        }
        kind => gpu::GpuContext::open(kind, cfg.adapter, reporter)?,
    };
    if engine.is_some() && comm.is_some() && cfg.dist.input_tail == Some(true) {
        reporter.warning(
            "--sync-input-tail applies to the CPU trainer; the GPU engine's rows beyond a sync's prefix move at full syncs",
        );
    }
    let t0 = Instant::now();
    let (inputs, opts) = corpus_options(cfg)?;
    let corpus = match comm {
        Some(c) => corpus::load_distributed(&inputs, opts, c)?,
        None => corpus::load_with(&inputs, opts)?,
    };
    if corpus.prunes > 0 {
        reporter.warning(&format!(
            "the vocabulary table passed --max-vocab-size {} and was pruned {} times (word2vec.c's ReduceVocab): counts of words that were pruned are approximate, at most {} below the truth",
            cfg.max_vocab_size, corpus.prunes, corpus.max_undercount
        ));
    }
    if let Some(p) = &cfg.save_vocab {
        if comm.is_none_or(|c| c.rank() == 0) {
            corpus.vocab.save(p)?;
        }
    }
    if cfg.classes > corpus.vocab.len() {
        // Refused before training: k-means cannot make more classes than there are words.
        return Err(Error::usage(
            "--classes",
            format!(
                "{} classes for a vocabulary of {} words; use at most {}",
                cfg.classes,
                corpus.vocab.len(),
                corpus.vocab.len()
            ),
        ));
    }
    let corpus_seconds = t0.elapsed().as_secs_f64();
    reporter.note(&format!(
        "corpus: {} tokens, vocabulary {} words, {} training words per epoch ({:.1}s); encoded ids {:.1} MiB {}",
        corpus.tokens_read,
        corpus.vocab.len(),
        corpus.words(),
        corpus_seconds,
        corpus.ids.len() as f64 * 4.0 / (1u64 << 20) as f64,
        match corpus.ids.cache_bytes() {
            0 => "in memory".to_string(),
            _ => format!("memory-mapped from a cache file in {}", cfg.cache_dir().display()),
        }
    ));
    let (model, mut report) = train_corpus(&corpus, engine, cfg, reporter).map_err(|e| match (e, &cfg.checkpoint_dir) {
        // What can be saved is on disk already: point at it.
        (e @ (Error::Gpu(_) | Error::GpuDeviceLost { .. } | Error::GpuOutOfMemory { .. }), Some(dir))
            if crate::checkpoint::list(dir).is_ok_and(|l| !l.is_empty()) => Error::Gpu(format!(
            "{e}\nThe newest checkpoint in {} is intact: rerun the same command with --resume {} to continue from it.",
            dir.display(),
            dir.display()
        )),
        (e, _) => e,
    })?;
    report.corpus_seconds = corpus_seconds;
    report.cache_bytes = corpus.ids.cache_bytes();
    report.vocab_prunes = corpus.prunes;
    report.vocab_table_peak = corpus.table_peak;
    Ok((model, corpus, report))
}

/// Trains on an already encoded corpus with the given engine (`None`: the CPU trainer),
/// resuming from `cfg.resume` and checkpointing into `cfg.checkpoint_dir` when set.
pub fn train_corpus(
    corpus: &Corpus,
    engine: Option<gpu::GpuContext>,
    cfg: &TrainConfig,
    reporter: &Reporter,
) -> Result<(Model, TrainReport)> {
    let params = KernelParams::of(cfg);
    let cpu_threads = cfg.threads.min(corpus.ids.len().max(1));
    let engine_name = if cfg.minibatches() {
        "minibatch".to_string()
    } else if engine.is_some() {
        format!("gpu-sgd, --gpu-batch {}", cfg.gpu_batch)
    } else {
        format!("hogwild, {cpu_threads} threads")
    };
    // The stream count changes what is trained (one stream, one part per Hogwild thread:
    // as before).
    let engine_name = if cfg.minibatches() || engine.is_some() {
        match cfg.stepped_streams() {
            1 => engine_name,
            s => format!("{engine_name}, --streams {s}"),
        }
    } else {
        match cfg.parts_per_thread() {
            1 => engine_name,
            p => format!("{engine_name}, {p} parts each"),
        }
    };
    let comm = crate::dist::initialized().filter(|c| c.size() > 1);
    let engine_name = match comm {
        Some(c) => format!("{engine_name}, {} MPI ranks", c.size()),
        None => engine_name,
    };
    if cfg.precision != crate::config::Precision::F32 {
        // (The minibatch engines were refused with f16 by the configuration's validation.)
        if engine.is_none() {
            return Err(Error::usage(
                "--precision",
                format!(
                    "{} is the GPU engine's storage, but this run trains on the CPU (--backend {} chose it); pick a GPU backend (vulkan|metal|dx12|gl) or drop --precision",
                    cfg.precision.name(),
                    cfg.backend.name()
                ),
            ));
        }
        if comm.is_some() {
            return Err(Error::usage(
                "--precision",
                "f16 rows cannot take part in distributed syncs (the ranks exchange f32 rows); drop --precision for a distributed run",
            ));
        }
    }
    let ck = Checkpointer::new(cfg, corpus, &engine_name, reporter);
    let mut ck = match comm {
        Some(c) => crate::dist::agree(c, ck)?,
        None => ck?,
    };
    let resumed_from = ck.resume.as_ref().map(|c| c.words_done);
    let mut model = match ck.resume.as_mut() {
        Some(c) => std::mem::replace(&mut c.model, Model::new(0, 1, 0)),
        None if cfg.uniform_init => Model::new_uniform(corpus.vocab.len(), cfg.dim, cfg.seed),
        None => Model::new(corpus.vocab.len(), cfg.dim, cfg.seed),
    };
    if cfg.hs {
        model = model.with_hs();
    }
    if let Some(p) = cfg.active_subwords() {
        if let Some(ctx) = &engine {
            let state = if cfg.minibatches() {
                cfg.optim_params().kind.state_vectors()
            } else {
                0
            };
            gpu::check_subwords_fit(ctx, cfg, corpus.vocab.len(), p.bucket, cfg.dim, state)?;
        }
        let bytes = (p.bucket * cfg.dim * 4) as f64;
        reporter.note(&format!(
            "memory: subword buckets {} × {} f32 = {:.2} GiB, on top of the word matrices",
            p.bucket,
            cfg.dim,
            bytes / (1u64 << 30) as f64
        ));
        model = model.with_subwords(p.bucket, cfg.seed);
    }
    if ck.resume.is_none() {
        for (path, flag, output) in [
            (&cfg.init_vectors, "--init-vectors", false),
            (&cfg.init_context, "--init-context", true),
        ] {
            if let Some(path) = path {
                let n = init_from_vectors(&mut model, corpus, path, flag, output)?;
                reporter.note(&format!(
                    "{flag}: {n} of {} words start from {}",
                    corpus.vocab.len(),
                    path.display()
                ));
            }
        }
    }
    if !cfg.minibatches() {
        reporter.note(&format!(
            "memory: model {:.1} MiB on the heap; {}",
            model.bytes() as f64 / (1u64 << 20) as f64,
            ids_note(corpus)
        ));
    }
    let dist = match comm {
        Some(c) => {
            let kinds = c.gather_bytes(&[u8::from(engine.is_some())]);
            if kinds.iter().any(|k| k != &kinds[0]) {
                return Err(Error::usage(
                    "--backend",
                    "the ranks chose different engines (a GPU on some, the CPU on others); name the backend (--backend cpu or vulkan, ...) so every rank trains the same way",
                ));
            }
            let mut w = [corpus.words()];
            c.sum_u64(&mut w);
            reporter.note(&format!(
                "distributed: {} ranks, {} training words per epoch in all; syncs every {} words per rank",
                c.size(),
                w[0],
                cfg.dist.schedule.period_words
            ));
            Some(super::hogwild::DistRun {
                comm: c,
                opts: cfg.dist,
                global_words: w[0],
            })
        }
        None => None,
    };
    if cfg.minibatches() {
        let (model, mut r) =
            train_sparse_corpus(corpus, engine, cfg, model, reporter, &mut ck, dist.as_ref())?;
        r.resumed_from = resumed_from;
        return Ok((model, r));
    }
    let mut report = match engine {
        None => train_cpu(
            corpus,
            cfg,
            &params,
            &mut model,
            reporter,
            &mut ck,
            dist.as_ref(),
        )?,
        Some(ctx) => {
            let alias = AliasTable::unigram(corpus.vocab.counts(), cfg.ns_exponent);
            let mut gpu = match cfg.active_subwords() {
                Some(p) => {
                    let table = crate::subword::SubwordTable::new(corpus.vocab.words(), &p);
                    if cfg.hs {
                        let tree = crate::huffman::HuffmanTree::new(corpus.vocab.counts());
                        gpu::GpuBackend::with_subwords_hs(
                            ctx, &model, params, &alias, cfg, &table, &tree,
                        )?
                    } else {
                        gpu::GpuBackend::with_subwords(ctx, &model, params, &alias, cfg, &table)?
                    }
                }
                None if cfg.hs => {
                    let tree = crate::huffman::HuffmanTree::new(corpus.vocab.counts());
                    gpu::GpuBackend::with_hs(ctx, &model, params, &alias, cfg, &tree)?
                }
                None => gpu::GpuBackend::new(ctx, &model, params, &alias, cfg)?,
            };
            reporter.note(&format!(
                "training on {} (kernel: {}); device matrices {:.1} MiB ({})",
                gpu.describe(),
                gpu.kernel_name(),
                gpu.matrix_bytes() as f64 / (1u64 << 20) as f64,
                cfg.precision.name()
            ));
            let mut r = train_with_backend(
                &mut gpu,
                corpus,
                cfg,
                reporter,
                &mut ck,
                dist.as_ref().map(|d| (d, &model)),
            )?;
            model = gpu.download()?;
            r.adapter = Some(gpu.describe());
            r.kernel = Some(gpu.kernel_name());
            r.atomics = Some(gpu.atomics().name().to_string());
            r.reduce = Some(gpu.reduce().name().to_string());
            r.workgroup = Some(gpu.workgroup());
            r.context_rows = gpu.context_rows().map(|c| c.name().to_string());
            r.precision = Some(cfg.precision.name().to_string());
            r.device_matrix_bytes = Some(gpu.matrix_bytes());
            r.kernel_reason = Some(gpu.kernel_reason().to_string());
            r.backend = gpu.backend_name().to_string();
            r
        }
    };
    report.tokens_read = corpus.tokens_read;
    report.vocab_size = corpus.vocab.len();
    report.run_words = dist.as_ref().map_or(corpus.words(), |d| d.global_words) * cfg.epochs as u64;
    report.optimizer = cfg.optimizer.name().into();
    report.model_bytes = model.bytes();
    report.resumed_from = resumed_from;
    Ok((model, report))
}

/// The corpus side of the memory estimate: the id stream's size and where it lives.
fn ids_note(corpus: &Corpus) -> String {
    let mib = corpus.ids.len() as f64 * 4.0 / (1u64 << 20) as f64;
    if corpus.ids.cache_bytes() > 0 {
        format!(
            "the corpus ids ({mib:.1} MiB) are a memory-mapped cache file (page cache, not heap)"
        )
    } else {
        format!("the corpus ids take {mib:.1} MiB of heap")
    }
}

/// The adaptive optimizers: prints the memory the model and its state need, then trains
/// minibatches on the CPU or the GPU.
fn train_sparse_corpus(
    corpus: &Corpus,
    engine: Option<gpu::GpuContext>,
    cfg: &TrainConfig,
    model: Model,
    reporter: &Reporter,
    ck: &mut Checkpointer,
    dist: Option<&super::hogwild::DistRun>,
) -> Result<(Model, TrainReport)> {
    let params = KernelParams::of(cfg);
    let opt = cfg.optim_params();
    // A distributed run's syncs start from the initial model, identical on every rank.
    let initial = dist.map(|_| model.clone());
    let vocab = corpus.vocab.len();
    // With subwords the input side (rows and state) holds the bucket rows too.
    let in_rows = vocab + model.subwords.len() / cfg.dim.max(1);
    let state_bytes = OptimState::bytes_for_rows(opt.kind, in_rows, vocab, cfg.dim);
    let model_bytes = model.bytes();
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    reporter.note(&format!(
        "memory: model {:.1} MiB (2 × {vocab} × {} f32) + {} state {:.1} MiB = {:.1} MiB on the heap; {}",
        mib(model_bytes),
        cfg.dim,
        opt.kind.name(),
        mib(state_bytes),
        mib(model_bytes + state_bytes),
        ids_note(corpus)
    ));
    let state = match ck.resume.as_mut().and_then(|c| c.state.take()) {
        Some(s) if s.kind == opt.kind => s,
        _ => OptimState::with_rows(opt.kind, in_rows, vocab, cfg.dim),
    };
    let alias = AliasTable::unigram(corpus.vocab.counts(), cfg.ns_exponent);
    // The subword table, built once: it sizes the GPU engine's buffers (the largest bag)
    // and feeds the minibatches.
    let table = cfg
        .active_subwords()
        .map(|p| crate::subword::SubwordTable::new(corpus.vocab.words(), &p));
    let gpu_engine = engine.is_some();
    let mut engine: Box<dyn SparseBackend> = match engine {
        None if in_rows > vocab => Box::new(crate::backend::SubwordSparse {
            inner: CpuSparse::new(model.merged_subwords(), state, opt).with_threads(cfg.threads)?,
            vocab,
        }),
        None => Box::new(CpuSparse::new(model, state, opt).with_threads(cfg.threads)?),
        Some(ctx) => {
            let bag = table.as_ref().map_or(1, |t| t.max_bag());
            let model = if table.is_some() {
                model.merged_subwords()
            } else {
                model
            };
            let gpu = gpu::sparse::GpuSparse::new(
                ctx,
                &model,
                &state,
                params,
                opt,
                cfg.batch_size(),
                bag,
                cfg.max_binding_bytes,
            )?;
            if table.is_some() {
                Box::new(crate::backend::SubwordSparse { inner: gpu, vocab })
            } else {
                Box::new(gpu)
            }
        }
    };
    // The CPU engine's threads are busy training, and one thread builds minibatches faster
    // than they train them; a GPU engine waits on the host unless several build them. Each
    // builder holds row → slot tables as long as the input and output matrices (8 MB more per
    // builder with 2M subword buckets); eight supply about 20M words/s of skip-gram (2.5M
    // each, BENCHMARKS.md), 22,000 steps of 512 centre words a second, more than a step's
    // submission and two dispatches allow.
    let builders = if gpu_engine { cfg.threads.min(8) } else { 1 };
    reporter.note(&format!(
        "training on {} with {} (lazy{}), minibatches of {} centre words built by {builders} host thread{}, lr {}",
        engine.describe(),
        opt.kind.name(),
        if opt.dense {
            ": off, dense updates"
        } else {
            ""
        },
        cfg.batch_size(),
        if builders == 1 { "" } else { "s" },
        cfg.start_alpha()
    ));
    let dist = dist.zip(initial.as_ref());
    let mut report = train_minibatches(
        engine.as_mut(),
        corpus,
        cfg,
        table,
        &alias,
        builders,
        reporter,
        ck,
        dist,
    )?;
    let (model, _state) = engine.download()?;
    report.backend = engine.backend_name().into();
    if cfg.backend == BackendKind::Cpu {
        report.threads = cfg.threads;
    }
    if cfg.backend != BackendKind::Cpu {
        report.adapter = Some(engine.describe());
    }
    report.tokens_read = corpus.tokens_read;
    report.vocab_size = vocab;
    report.optimizer = opt.kind.name().into();
    report.model_bytes = model_bytes;
    report.state_bytes = state_bytes;
    Ok((model, report))
}
