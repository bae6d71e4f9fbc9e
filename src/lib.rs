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
//! ```no_run
//! use w2v_gpu::{config::TrainConfig, train};
//! let mut cfg = TrainConfig::default();
//! cfg.input = "corpus.txt".into();
//! cfg.output = "vectors.bin".into();
//! let report = train::train(&cfg, &train::Reporter::quiet()).unwrap();
//! println!("{} words/s", report.words_per_second);
//! ```

pub mod backend;
pub mod batch;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod files;
pub mod io;
pub mod linalg;
pub mod loss;
pub mod map;
pub mod minibatch;
pub mod model;
pub mod optim;
pub mod progress;
pub mod sampling;
pub mod train;
pub mod vocab;

pub use error::{Error, Result};
