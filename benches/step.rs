//! CPU training throughput: one batch of the Hogwild trainer (skip-gram and CBOW), the GPU
//! kernels' CPU reference, and a full epoch of the shipped corpus.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use w2v_gpu::backend::cpu::{CpuReference, Hogwild, Worker};
use w2v_gpu::backend::{Backend, KernelParams, Rate};
use w2v_gpu::batch::{Batch, Batcher};
use w2v_gpu::config::{ModelKind, TrainConfig};
use w2v_gpu::corpus::synthetic_zipf as synthetic_zipf_corpus;
use w2v_gpu::loss::SigmoidTable;
use w2v_gpu::model::Model;
use w2v_gpu::sampling::{AliasTable, Subsampler};
use w2v_gpu::train::{train_model, Reporter};

fn batch_of(words: usize) -> (w2v_gpu::corpus::Corpus, Batch) {
    let corpus = synthetic_zipf_corpus(30_000, words, 3);
    let sub = Subsampler::new(corpus.vocab.counts(), 1e-4);
    let mut b = Batcher::new(
        &corpus.ids,
        0..corpus.ids.len(),
        1,
        &sub,
        true,
        1,
        usize::MAX,
    );
    let mut batch = Batch::default();
    b.next_batch(&mut batch);
    (corpus, batch)
}

fn cpu_batch(c: &mut Criterion) {
    let (corpus, batch) = batch_of(100_000);
    let alias = AliasTable::unigram(corpus.vocab.counts(), 0.75);
    let sig = SigmoidTable::default();
    let mut g = c.benchmark_group("cpu_batch_100k_words");
    g.throughput(Throughput::Elements(batch.words));
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let params = KernelParams {
            precision: w2v_gpu::config::Precision::F32,
            model,
            dim: 100,
            window: 5,
            negative: 5,
        };
        let mut m = Model::new(corpus.vocab.len(), 100, 1);
        let hog = Hogwild::new(&mut m);
        let mut worker = Worker::new(1, &alias, &sig, &params);
        g.bench_function(model.name(), |b| {
            b.iter(|| black_box(worker.train_batch(&hog, &batch, Rate::constant(0.01))))
        });
    }
    g.finish();
}

fn reference_batch(c: &mut Criterion) {
    let (corpus, batch) = batch_of(20_000);
    let alias = AliasTable::unigram(corpus.vocab.counts(), 0.75);
    let params = KernelParams {
        precision: w2v_gpu::config::Precision::F32,
        model: ModelKind::SkipGram,
        dim: 100,
        window: 5,
        negative: 5,
    };
    let mut r = CpuReference::new(Model::new(corpus.vocab.len(), 100, 1), params, alias);
    let mut g = c.benchmark_group("gpu_math_cpu_reference_20k_words");
    g.throughput(Throughput::Elements(batch.words));
    g.sample_size(10);
    g.bench_function("skipgram", |b| {
        b.iter(|| r.step(&batch, Rate::constant(0.01), 7).unwrap())
    });
    g.finish();
}

fn shipped_corpus_epoch(c: &mut Criterion) {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/text8-4m.gz");
    let dir = std::env::temp_dir();
    let cfg = TrainConfig {
        input: corpus,
        output: dir.join("w2v-gpu-bench.bin"),
        epochs: 1,
        ..TrainConfig::default()
    };
    let mut g = c.benchmark_group("shipped_corpus_epoch");
    g.sample_size(10);
    g.bench_function("skipgram_all_threads", |b| {
        b.iter(|| train_model(&cfg, &Reporter::quiet()).unwrap().2.words)
    });
    g.finish();
}

criterion_group!(benches, cpu_batch, reference_batch, shipped_corpus_epoch);
criterion_main!(benches);
