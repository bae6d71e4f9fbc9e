//! w2v-gpu: word2vec (skip-gram and CBOW with negative sampling) trained by WGSL compute
//! shaders on any `wgpu` adapter (Vulkan, Metal, DX12, GL), with a multi-threaded CPU
//! trainer that is also the numerical reference for every shader.
//!
//! The data path runs one way:
//!
//! ```text
//! corpus ──memmap──▶ tokens ──▶ Vocab + id stream (encoded once, reused every epoch)
//! id stream ──▶ subsampling ──▶ Batcher ──▶ Batch (kept ids, sentence separators, lr)
//! Batch ──▶ backend (cpu | gpu) ──▶ Model { input, output } ──▶ io / eval
//! ```
//!
//! # The library API
//!
//! * [`train::train`] (read, train, write) and [`train::train_model`] (return the model),
//!   configured by [`config::TrainConfig`] (word2vec.c's defaults), reporting
//!   [`train::TrainReport`];
//! * [`io`]: word2vec text/binary vectors, read and written (atomically);
//! * [`eval`]: nearest neighbours, analogies and word-similarity scores equal to gensim's;
//! * [`corpus`], [`vocab`]: reading and encoding corpora, vocabularies;
//! * [`backend`]: the engines, one `step` per batch (`backend::cpu::CpuReference`,
//!   `backend::gpu::GpuBackend`, the sparse optimizer engines) for custom loops;
//! * [`doc2vec`]: paragraph vectors (gensim's `Doc2Vec`) and inference for new text;
//! * [`Error`]: every failure, naming the file or flag; [`map`]: PCA plots.
//!
//! Modules not listed (`cli`, `batch`, `minibatch`, `sampling`, ...) are public for the
//! binary, the tests and the benchmarks; their items may change between versions.
//!
//! ```no_run
//! use w2v_gpu::{config::TrainConfig, train};
//! let mut cfg = TrainConfig::default();
//! cfg.input = "corpus.txt".into();
//! cfg.output = "vectors.bin".into();
//! let report = train::train(&cfg, &train::Reporter::quiet()).unwrap();
//! println!("{} words/s", report.words_per_second);
//! ```

pub mod autotune;
pub mod backend;
pub mod batch;
mod bytes;
pub mod checkpoint;
pub mod classes;
pub mod classifier;
pub mod classify_batch;
pub mod cli;
pub mod concat_batch;
pub mod config;
pub mod corpus;
pub mod dist;
pub mod doc2vec;
pub mod error;
pub mod eval;
pub mod fasttext;
pub mod fasttext_args;
pub mod files;
pub mod huffman;
pub mod io;
pub mod linalg;
pub mod loss;
pub mod map;
pub mod minibatch;
pub mod model;
pub mod optim;
pub mod phrases;
pub mod progress;
pub mod quantize;
pub mod sampling;
pub mod subword;
pub mod train;
pub mod vocab;
pub mod w2vc_args;
pub mod w2vc_tools;

pub use error::{Error, Result};
