//! Host-side pieces: the batcher (subsampling and sentence chunking) and noise sampling
//! from the alias table. The GPU path needs the batcher well above the device's words/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use w2v_gpu::batch::{Batch, Batcher};
use w2v_gpu::corpus::synthetic_zipf as synthetic_zipf_corpus;
use w2v_gpu::sampling::{AliasTable, Rng, Subsampler};

fn batcher(c: &mut Criterion) {
    let corpus = synthetic_zipf_corpus(100_000, 2_000_000, 5);
    let sub = Subsampler::new(corpus.vocab.counts(), 1e-4);
    let mut g = c.benchmark_group("batcher_2M_words");
    g.throughput(Throughput::Elements(corpus.words()));
    g.sample_size(20);
    g.bench_function("subsample_1e-4_batches_65536", |b| {
        let mut batch = Batch::default();
        b.iter(|| {
            let mut bt = Batcher::new(&corpus.ids, 0..corpus.ids.len(), 1, &sub, true, 9, 1 << 16);
            let mut n = 0;
            while bt.next_batch(&mut batch) {
                n += batch.tokens.len();
            }
            black_box(n)
        })
    });
    g.finish();
}

fn alias(c: &mut Criterion) {
    let counts: Vec<u64> = (1..=100_000u64).map(|r| 10_000_000 / r).collect();
    let table = AliasTable::unigram(&counts, 0.75);
    let mut rng = Rng::new(1);
    let mut g = c.benchmark_group("alias_sample");
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("1M_draws_100k_words", |b| {
        b.iter(|| {
            let mut s = 0u64;
            for _ in 0..1_000_000 {
                s += table.draw(&mut rng) as u64;
            }
            black_box(s)
        })
    });
    g.finish();
}

criterion_group!(benches, batcher, alias);
criterion_main!(benches);
