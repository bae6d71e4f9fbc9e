//! End-to-end training quality: thresholds that a broken or random model cannot reach.

mod common;

use w2v_gpu::config::{BackendKind, ModelKind, Precision, TrainConfig};
use w2v_gpu::eval::{evaluate_similarity, Space};
use w2v_gpu::io::Embeddings;
use w2v_gpu::model::Model;
use w2v_gpu::train::{train_model, Reporter};

fn ws353(words: &[String], m: &Model) -> (f64, usize) {
    let emb = Embeddings {
        words: words.to_vec(),
        dim: m.dim,
        vectors: m.input.clone(),
    };
    let r = evaluate_similarity(
        &Space::new(&emb, true),
        &common::repo_file("data/ws353.txt"),
        300_000,
    )
    .unwrap();
    (r.spearman, r.pairs)
}

/// The shipped corpus (4 MB of text8) with word2vec's defaults on the CPU: WordSim-353
/// Spearman must clear 0.2. The untrained model scores about 0 (±0.06 for 250 pairs), which
/// the test also checks, so the threshold is 3 standard deviations above chance.
#[test]
fn cpu_skipgram_learns_similarity_on_shipped_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        input: common::repo_file("data/text8-4m.gz"),
        output: dir.path().join("v.bin"),
        threads: 2,
        ..TrainConfig::default()
    };
    let (model, corpus, report) = train_model(&cfg, &Reporter::quiet()).unwrap();
    let (rho, pairs) = ws353(corpus.vocab.words(), &model);
    let untrained = Model::new(corpus.vocab.len(), cfg.dim, cfg.seed);
    let (rho0, _) = ws353(corpus.vocab.words(), &untrained);
    eprintln!(
        "WS-353 spearman {rho:.3} over {pairs} pairs (untrained {rho0:.3}); loss {:?}",
        report.final_loss
    );
    assert!(pairs > 200);
    assert!(rho0.abs() < 0.15, "untrained model scores {rho0}");
    assert!(rho > 0.2, "trained model scores only {rho}");
    assert_eq!(report.words, 5 * corpus.words());
    assert!(report.final_loss.unwrap() < 0.5);
}

fn topic_config(dir: &std::path::Path, model: ModelKind, backend: BackendKind) -> TrainConfig {
    let corpus = dir.join("topics.txt");
    if !corpus.exists() {
        std::fs::write(&corpus, common::topic_corpus(8, 25, 1500, 12, 42)).unwrap();
    }
    TrainConfig {
        input: corpus,
        output: dir.join("v.txt"),
        model,
        backend,
        dim: 32,
        window: 4,
        epochs: 4,
        min_count: 1,
        sample: 0.0,
        threads: 1,
        gpu_batch: 4096,
        ..TrainConfig::default()
    }
}

#[test]
fn cpu_single_thread_is_deterministic_and_learns_topics() {
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let cfg = topic_config(dir.path(), model, BackendKind::Cpu);
        let (a, corpus, _) = train_model(&cfg, &Reporter::quiet()).unwrap();
        let (b, _, _) = train_model(&cfg, &Reporter::quiet()).unwrap();
        assert_eq!(a, b, "{model:?}: same seed, one thread: identical vectors");
        let c = train_model(
            &TrainConfig {
                seed: 2,
                ..cfg.clone()
            },
            &Reporter::quiet(),
        )
        .unwrap()
        .0;
        assert_ne!(a.input, c.input);
        let purity = common::topic_purity(corpus.vocab.words(), a.dim, &a.input);
        let random = common::topic_purity(
            corpus.vocab.words(),
            a.dim,
            &Model::new(corpus.vocab.len(), 32, 1).input,
        );
        eprintln!("{model:?}: topic purity {purity:.3} (untrained {random:.3})");
        assert!(purity > 0.9, "{model:?}: purity {purity}");
        assert!(random < 0.4, "untrained purity {random}");
    }
}

/// The real shaders (lavapipe in CI) against the CPU trainer on the same corpus and config:
/// both must recover the planted topics, and the GPU's final loss must be within 10% of the
/// CPU's (the GPU shares noise words per window and applies windows concurrently, so the
/// losses are not identical).
#[test]
fn gpu_training_matches_cpu_quality() {
    if common::gpu_or_skip("gpu_training_matches_cpu_quality").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let cpu_cfg = topic_config(dir.path(), model, BackendKind::Cpu);
        let gpu_cfg = TrainConfig {
            backend: common::test_backend(),
            ..cpu_cfg.clone()
        };
        let (c, corpus, cr) = train_model(&cpu_cfg, &Reporter::quiet()).unwrap();
        let (g, _, gr) = train_model(&gpu_cfg, &Reporter::quiet()).unwrap();
        let pc = common::topic_purity(corpus.vocab.words(), c.dim, &c.input);
        let pg = common::topic_purity(corpus.vocab.words(), g.dim, &g.input);
        let (lc, lg) = (cr.final_loss.unwrap(), gr.final_loss.unwrap());
        eprintln!(
            "{model:?}: purity cpu {pc:.3} gpu {pg:.3}; loss cpu {lc:.4} gpu {lg:.4}; gpu {}",
            gr.adapter.as_deref().unwrap_or("?")
        );
        assert!(pg > 0.9, "{model:?}: GPU purity {pg}");
        assert!(
            (lg - lc).abs() < 0.1 * lc,
            "{model:?}: loss gpu {lg} vs cpu {lc}"
        );
        assert_eq!(gr.words, cr.words);
        assert!(gr.upload_bytes_per_word.unwrap() < 30.0);
        // A step holds at least a sentence chunk of each stream, at most what the step
        // buffer takes.
        let pps = gr.positions_per_step.unwrap();
        let most = w2v_gpu::batch::max_batch_tokens(gpu_cfg.gpu_batch, gpu_cfg.stepped_streams());
        assert!(pps > 0.0 && pps <= most as f64, "{pps} positions per step");
    }
}

/// Half-precision storage (`--precision f16`) end to end on the real shaders: the planted
/// topics recovered, the final loss within 2% of the same run's with f32 rows (measured:
/// within 0.5%), the device matrices half the bytes, and the report naming the storage.
#[test]
fn gpu_f16_storage_trains_as_f32() {
    if common::gpu_or_skip("gpu_f16_storage_trains_as_f32").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let f32_cfg = TrainConfig {
            backend: common::test_backend(),
            ..topic_config(dir.path(), model, BackendKind::Cpu)
        };
        let f16_cfg = TrainConfig {
            precision: Precision::F16,
            ..f32_cfg.clone()
        };
        let (a, corpus, ar) = train_model(&f32_cfg, &Reporter::quiet()).unwrap();
        let (h, _, hr) = train_model(&f16_cfg, &Reporter::quiet()).unwrap();
        let pa = common::topic_purity(corpus.vocab.words(), a.dim, &a.input);
        let ph = common::topic_purity(corpus.vocab.words(), h.dim, &h.input);
        let (la, lh) = (ar.final_loss.unwrap(), hr.final_loss.unwrap());
        eprintln!("{model:?}: purity f32 {pa:.3} f16 {ph:.3}; loss f32 {la:.4} f16 {lh:.4}");
        assert!(ph > 0.9, "{model:?}: f16 purity {ph}");
        assert!(
            (lh - la).abs() < 0.02 * la,
            "{model:?}: loss f16 {lh} vs f32 {la}"
        );
        assert_eq!(hr.precision.as_deref(), Some("f16"));
        assert_eq!(ar.precision.as_deref(), Some("f32"));
        assert_eq!(hr.atomics.as_deref(), Some("cas"));
        // Half the bytes (an unused binding part takes 4 bytes either way).
        let (hb, ab) = (
            hr.device_matrix_bytes.unwrap(),
            ar.device_matrix_bytes.unwrap(),
        );
        assert!((2 * hb).abs_diff(ab) <= 32, "{model:?}: {hb} vs {ab} bytes");
        // Every weight written is a half.
        assert!(h
            .input
            .iter()
            .all(|&x| half::f16::from_f32(x).to_f32() == x));
    }
}

/// The GPU engine reading the corpus in 5 streams side by side (`--streams 5`) trains every
/// word once per epoch and recovers the planted topics as with one stream; the report says
/// how many streams ran.
#[test]
fn gpu_streams_train_every_word_and_learn_topics() {
    if common::gpu_or_skip("gpu_streams_train_every_word_and_learn_topics").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        backend: common::test_backend(),
        streams: Some(5),
        ..topic_config(dir.path(), ModelKind::SkipGram, BackendKind::Cpu)
    };
    let (g, corpus, r) = train_model(&cfg, &Reporter::quiet()).unwrap();
    let purity = common::topic_purity(corpus.vocab.words(), g.dim, &g.input);
    assert!(purity > 0.9, "GPU purity with 5 streams {purity}");
    assert_eq!(r.words, corpus.words() * cfg.epochs as u64);
    assert_eq!(r.to_json()["streams"], 5);
}

/// Hierarchical softmax alone (`--hs --negative 0`) and with negative sampling, skip-gram
/// and CBOW: every combination recovers the planted topics, HS alone leaves the
/// negative-sampling output matrix untouched, and one thread repeats bit for bit.
#[test]
fn hierarchical_softmax_learns_topics() {
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        for negative in [0, 5] {
            let cfg = TrainConfig {
                hs: true,
                negative,
                ..topic_config(dir.path(), model, BackendKind::Cpu)
            };
            let (m, corpus, r) = train_model(&cfg, &Reporter::quiet()).unwrap();
            let purity = common::topic_purity(corpus.vocab.words(), m.dim, &m.input);
            eprintln!(
                "{model:?} hs, negative {negative}: purity {purity:.3}, loss {:?}",
                r.final_loss
            );
            assert!(
                purity > 0.9,
                "{model:?} negative {negative}: purity {purity}"
            );
            assert_eq!(m.hs.len(), (corpus.vocab.len() - 1) * m.dim);
            assert!(m.hs.iter().any(|&x| x != 0.0));
            assert_eq!(m.output.iter().all(|&x| x == 0.0), negative == 0);
            if negative == 0 {
                let (again, _, _) = train_model(&cfg, &Reporter::quiet()).unwrap();
                assert_eq!(again, m);
            }
        }
    }
}

/// Hierarchical softmax on the GPU (the real shaders; lavapipe in CI) against the CPU
/// trainer, alone and with negative sampling, skip-gram and CBOW: the planted topics are
/// recovered, the tree's matrix is trained and returned, the negative-sampling matrix only
/// moves with --negative > 0, and the final loss is within 10% of the CPU's (the GPU
/// applies windows concurrently and trains a window's contexts against the path at once).
#[test]
fn gpu_hierarchical_softmax_matches_cpu_quality() {
    if common::gpu_or_skip("gpu_hierarchical_softmax_matches_cpu_quality").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        for negative in [0, 5] {
            let cpu_cfg = TrainConfig {
                hs: true,
                negative,
                ..topic_config(dir.path(), model, BackendKind::Cpu)
            };
            let gpu_cfg = TrainConfig {
                backend: common::test_backend(),
                ..cpu_cfg.clone()
            };
            let (c, corpus, cr) = train_model(&cpu_cfg, &Reporter::quiet()).unwrap();
            let (g, _, gr) = train_model(&gpu_cfg, &Reporter::quiet()).unwrap();
            let kernel = gr.kernel.clone().unwrap_or_default();
            assert!(kernel.contains("hierarchical softmax"), "{kernel}");
            let pc = common::topic_purity(corpus.vocab.words(), c.dim, &c.input);
            let pg = common::topic_purity(corpus.vocab.words(), g.dim, &g.input);
            let (lc, lg) = (cr.final_loss.unwrap(), gr.final_loss.unwrap());
            eprintln!(
                "{model:?} hs, negative {negative}: purity cpu {pc:.3} gpu {pg:.3}; loss cpu {lc:.4} gpu {lg:.4}; kernel {kernel}"
            );
            assert!(pg > 0.9, "{model:?} negative {negative}: GPU purity {pg}");
            assert!(
                (lg - lc).abs() < 0.1 * lc,
                "{model:?} negative {negative}: loss gpu {lg} vs cpu {lc}"
            );
            assert_eq!(g.hs.len(), (corpus.vocab.len() - 1) * g.dim);
            assert!(g.hs.iter().any(|&x| x != 0.0));
            assert_eq!(g.output.iter().all(|&x| x == 0.0), negative == 0);
            assert_eq!(gr.words, cr.words);
        }
    }
}

/// Every vocabulary word's vector of a subword model: the mean of its own row and its
/// n-gram bucket rows.
fn subword_vectors(m: &Model, words: &[String], p: &w2v_gpu::subword::SubwordParams) -> Vec<f32> {
    let table = w2v_gpu::subword::SubwordTable::new(words, p);
    let mut vectors = Vec::new();
    for i in 0..words.len() as u32 {
        let rows = table.rows(i);
        let mut v = vec![0.0f32; m.dim];
        for &r in rows {
            let row = m.bag_row(r);
            v.iter_mut()
                .zip(row)
                .for_each(|(a, x)| *a += x / rows.len() as f32);
        }
        vectors.extend(v);
    }
    vectors
}

fn subword_config(dir: &std::path::Path, model: ModelKind, backend: BackendKind) -> TrainConfig {
    TrainConfig {
        subwords: Some(w2v_gpu::subword::SubwordParams {
            minn: 3,
            maxn: 6,
            bucket: 5000,
        }),
        ..topic_config(dir, model, backend)
    }
}

/// fastText-style subwords, skip-gram and CBOW: the planted topics are recovered from the
/// word vectors (each the mean of its own and its n-gram rows), every bucket row moves,
/// and `--maxn 0` is word-only training, bit for bit.
#[test]
fn subword_training_learns_topics_and_maxn_0_is_word_only() {
    use w2v_gpu::subword::SubwordParams;
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let cfg = subword_config(dir.path(), model, BackendKind::Cpu);
        let (m, corpus, r) = train_model(&cfg, &Reporter::quiet()).unwrap();
        assert_eq!(m.subwords.len(), 5000 * m.dim);
        let vectors = subword_vectors(&m, corpus.vocab.words(), &cfg.subwords.unwrap());
        let purity = common::topic_purity(corpus.vocab.words(), m.dim, &vectors);
        eprintln!(
            "{model:?} subwords: purity {purity:.3}, loss {:?}",
            r.final_loss
        );
        assert!(purity > 0.9, "{model:?}: purity {purity}");
        let base = topic_config(dir.path(), model, BackendKind::Cpu);
        let word_only = TrainConfig {
            subwords: Some(SubwordParams {
                minn: 0,
                maxn: 0,
                bucket: 5000,
            }),
            ..base.clone()
        };
        let (a, _, _) = train_model(&word_only, &Reporter::quiet()).unwrap();
        let (b, _, _) = train_model(&base, &Reporter::quiet()).unwrap();
        assert_eq!(a, b, "{model:?}: --maxn 0 must be word-only training");
    }
}

/// Subwords with a minibatch engine (lazy Adam, and `--deterministic` SGD) on the CPU:
/// the planted topics come out of the subword vectors, the bucket rows and their optimizer
/// state are trained, and `--deterministic` repeats bit for bit across thread counts.
#[test]
fn subwords_train_with_the_minibatch_engines() {
    use w2v_gpu::optim::OptimizerKind;
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let base = subword_config(dir.path(), model, BackendKind::Cpu);
        let p = base.subwords.unwrap();
        let adam = TrainConfig {
            optimizer: OptimizerKind::Adam,
            alpha: Some(0.01),
            ..base.clone()
        };
        let (m, corpus, r) = train_model(&adam, &Reporter::quiet()).unwrap();
        let words = corpus.vocab.words();
        assert_eq!(m.subwords.len(), p.bucket * m.dim);
        assert_eq!(m.input.len(), words.len() * m.dim);
        let purity = common::topic_purity(words, m.dim, &subword_vectors(&m, words, &p));
        eprintln!(
            "{model:?} subwords, lazy Adam: purity {purity:.3}, loss {:?}",
            r.final_loss
        );
        assert!(purity > 0.9, "{model:?}: purity {purity}");
        let det = |threads| TrainConfig {
            deterministic: true,
            threads,
            epochs: 1,
            ..base.clone()
        };
        let (a, _, _) = train_model(&det(1), &Reporter::quiet()).unwrap();
        let (b, _, _) = train_model(&det(2), &Reporter::quiet()).unwrap();
        assert_eq!(
            a, b,
            "{model:?}: --deterministic with subwords, 1 vs 2 threads"
        );
        let init = Model::new(words.len(), a.dim, base.seed).with_subwords(p.bucket, base.seed);
        assert_ne!(a.subwords, init.subwords, "{model:?}: buckets trained");
    }
}

/// Subwords with the minibatch engine on the GPU (lavapipe in CI): `--deterministic` SGD
/// gives the CPU engine's model up to float rounding (the same minibatches and math; the
/// GPU sums a dot product in another order: measured at most 5e-6 after 4 epochs, held to
/// 1e-4, far below what a wrong bucket row or bag share would move), lazy Adam recovers the
/// planted topics from the subword vectors, and both train the bucket rows and hand them
/// back in `subwords`.
#[test]
fn gpu_subwords_train_with_the_minibatch_engines() {
    use w2v_gpu::optim::OptimizerKind;
    if common::gpu_or_skip("gpu_subwords_train_with_the_minibatch_engines").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let cpu = TrainConfig {
            deterministic: true,
            ..subword_config(dir.path(), model, BackendKind::Cpu)
        };
        let gpu = TrainConfig {
            backend: common::test_backend(),
            ..cpu.clone()
        };
        let p = cpu.subwords.unwrap();
        let (c, corpus, _) = train_model(&cpu, &Reporter::quiet()).unwrap();
        let (g, _, gr) = train_model(&gpu, &Reporter::quiet()).unwrap();
        assert_ne!(gr.backend, "cpu");
        let words = corpus.vocab.words();
        assert_eq!(g.input.len(), words.len() * g.dim);
        assert_eq!(g.subwords.len(), p.bucket * g.dim);
        let (wi, wo, ws) = (
            common::max_abs_diff(&g.input, &c.input),
            common::max_abs_diff(&g.output, &c.output),
            common::max_abs_diff(&g.subwords, &c.subwords),
        );
        eprintln!("{model:?} subwords, --deterministic: max |gpu − cpu| input {wi:.2e} output {wo:.2e} buckets {ws:.2e}");
        assert!(wi < 1e-4 && wo < 1e-4 && ws < 1e-4, "{model:?}");
        let init = Model::new(words.len(), g.dim, cpu.seed).with_subwords(p.bucket, cpu.seed);
        assert_ne!(g.subwords, init.subwords, "{model:?}: buckets trained");
        let adam = TrainConfig {
            optimizer: OptimizerKind::Adam,
            alpha: Some(0.01),
            deterministic: false,
            ..gpu.clone()
        };
        let (a, _, r) = train_model(&adam, &Reporter::quiet()).unwrap();
        let purity = common::topic_purity(words, a.dim, &subword_vectors(&a, words, &p));
        eprintln!(
            "{model:?} subwords, lazy Adam on the GPU: purity {purity:.3}, loss {:?}",
            r.final_loss
        );
        assert!(purity > 0.9, "{model:?}: purity {purity}");
    }
}

/// Subwords with hierarchical softmax (`--subwords --hs`, fastText's `-loss hs`) on the real
/// shaders against the Hogwild CPU trainer, alone and with negative sampling: the planted
/// topics come out of the GPU's subword vectors, the tree's and the bucket rows are
/// trained, the negative-sampling matrix moves only with --negative > 0, and the final loss
/// is within 10% of the CPU's.
#[test]
fn gpu_subword_hierarchical_softmax_matches_cpu_quality() {
    if common::gpu_or_skip("gpu_subword_hierarchical_softmax_matches_cpu_quality").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        for negative in [0, 5] {
            let cpu_cfg = TrainConfig {
                hs: true,
                negative,
                ..subword_config(dir.path(), model, BackendKind::Cpu)
            };
            let gpu_cfg = TrainConfig {
                backend: common::test_backend(),
                ..cpu_cfg.clone()
            };
            let p = cpu_cfg.subwords.unwrap();
            let (c, corpus, cr) = train_model(&cpu_cfg, &Reporter::quiet()).unwrap();
            let (g, _, gr) = train_model(&gpu_cfg, &Reporter::quiet()).unwrap();
            let kernel = gr.kernel.clone().unwrap_or_default();
            assert!(
                kernel.starts_with("subword") && kernel.contains("hierarchical softmax"),
                "{kernel}"
            );
            let words = corpus.vocab.words();
            let pc = common::topic_purity(words, c.dim, &subword_vectors(&c, words, &p));
            let pg = common::topic_purity(words, g.dim, &subword_vectors(&g, words, &p));
            let (lc, lg) = (cr.final_loss.unwrap(), gr.final_loss.unwrap());
            eprintln!(
                "{model:?} subwords hs, negative {negative}: purity cpu {pc:.3} gpu {pg:.3}; loss cpu {lc:.4} gpu {lg:.4}; kernel {kernel}"
            );
            assert!(pg > 0.9, "{model:?} negative {negative}: GPU purity {pg}");
            assert!(
                (lg - lc).abs() < 0.1 * lc,
                "{model:?} negative {negative}: loss gpu {lg} vs cpu {lc}"
            );
            assert_eq!(g.hs.len(), (words.len() - 1) * g.dim);
            assert!(g.hs.iter().any(|&x| x != 0.0));
            let init =
                Model::new(words.len(), g.dim, cpu_cfg.seed).with_subwords(p.bucket, cpu_cfg.seed);
            assert_ne!(g.subwords, init.subwords, "{model:?}: buckets trained");
            assert_eq!(g.output.iter().all(|&x| x == 0.0), negative == 0);
            assert_eq!(gr.words, cr.words);
        }
    }
}

/// The subword kernel on the real shaders (lavapipe in CI) against the Hogwild CPU trainer
/// on the same corpus and flags: both recover the planted topics from the subword vectors,
/// the GPU trains the bucket rows (returned in the model), and its final loss is within 10%
/// of the CPU's (the GPU sums a window's contexts against one hidden vector and applies
/// windows concurrently; the CPU updates after every context, as fastText).
#[test]
fn gpu_subword_training_matches_cpu_quality() {
    if common::gpu_or_skip("gpu_subword_training_matches_cpu_quality").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let cpu_cfg = subword_config(dir.path(), model, BackendKind::Cpu);
        let gpu_cfg = TrainConfig {
            backend: common::test_backend(),
            ..cpu_cfg.clone()
        };
        let p = cpu_cfg.subwords.unwrap();
        let (c, corpus, cr) = train_model(&cpu_cfg, &Reporter::quiet()).unwrap();
        let (g, _, gr) = train_model(&gpu_cfg, &Reporter::quiet()).unwrap();
        assert!(
            gr.kernel.as_deref().unwrap_or("").starts_with("subword"),
            "{:?}",
            gr.kernel
        );
        let words = corpus.vocab.words();
        let init =
            Model::new(words.len(), g.dim, gpu_cfg.seed).with_subwords(p.bucket, gpu_cfg.seed);
        assert_eq!(g.subwords.len(), init.subwords.len());
        // Exactly the buckets of the vocabulary's n-grams are trained.
        let table = w2v_gpu::subword::SubwordTable::new(words, &p);
        let used: std::collections::BTreeSet<usize> = (0..words.len() as u32)
            .flat_map(|w| table.rows(w)[1..].to_vec())
            .map(|r| r as usize - words.len())
            .collect();
        let moved: std::collections::BTreeSet<usize> = g
            .subwords
            .chunks(g.dim)
            .zip(init.subwords.chunks(g.dim))
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i)
            .collect();
        let pc = common::topic_purity(words, c.dim, &subword_vectors(&c, words, &p));
        let pg = common::topic_purity(words, g.dim, &subword_vectors(&g, words, &p));
        let (lc, lg) = (cr.final_loss.unwrap(), gr.final_loss.unwrap());
        eprintln!(
            "{model:?} subwords: purity cpu {pc:.3} gpu {pg:.3}; loss cpu {lc:.4} gpu {lg:.4}; {} of {} bucket rows trained on the GPU",
            moved.len(),
            used.len()
        );
        assert!(pg > 0.9, "{model:?}: GPU purity {pg}");
        assert!(
            (lg - lc).abs() < 0.1 * lc,
            "{model:?}: loss gpu {lg} vs cpu {lc}"
        );
        assert_eq!(moved, used, "{model:?}: the buckets trained");
        assert_eq!(gr.words, cr.words);
    }
}

#[test]
fn cpu_shared_negatives_variant_learns_topics() {
    let dir = tempfile::tempdir().unwrap();
    let base = topic_config(dir.path(), ModelKind::SkipGram, BackendKind::Cpu);
    let cfg = TrainConfig {
        shared_negatives: true,
        ..base.clone()
    };
    let (a, corpus, ra) = train_model(&cfg, &Reporter::quiet()).unwrap();
    let (b, _, _) = train_model(&base, &Reporter::quiet()).unwrap();
    assert_ne!(a.input, b.input, "the flag must change the computation");
    let purity = common::topic_purity(corpus.vocab.words(), a.dim, &a.input);
    assert!(purity > 0.9, "purity {purity}");
    assert!(ra.final_loss.unwrap() < 0.3);
}

/// The host-side pair count of GPU steps (bench's pairs/s) agrees with the kernels' window
/// draw as the CPU reference reproduces it.
#[test]
fn gpu_pair_count_matches_reference_windows() {
    use w2v_gpu::backend::cpu::window_at;
    use w2v_gpu::backend::KernelParams;
    use w2v_gpu::corpus::SENTENCE_END;
    use w2v_gpu::sampling::AliasTable;
    let tokens: Vec<u32> = (0..500u32)
        .map(|i| {
            if i % 37 == 36 || i == 100 || i == 101 {
                SENTENCE_END
            } else {
                i % 50
            }
        })
        .collect();
    let alias = AliasTable::unigram(&[1; 50], 0.75);
    for model in [ModelKind::SkipGram, ModelKind::Cbow] {
        let p = KernelParams {
            precision: w2v_gpu::config::Precision::F32,
            model,
            dim: 4,
            window: 5,
            negative: 2,
        };
        for key in [1u32, 99, 12345] {
            let expect: u64 = (0..tokens.len())
                .filter(|&i| tokens[i] != SENTENCE_END)
                .map(|i| {
                    let c = window_at(&tokens, i, key, &p, &alias).0.len() as u64;
                    if model == ModelKind::Cbow {
                        u64::from(c > 0)
                    } else {
                        c
                    }
                })
                .sum();
            assert_eq!(
                w2v_gpu::train::count_window_pairs(&tokens, key, 5, model),
                expect
            );
        }
    }
}

/// Fraction of documents whose nearest other document (cosine) has the same topic; each
/// line of `text` is a document whose words name its topic (`t3w17`: topic 3).
fn document_purity(text: &str, dim: usize, vectors: &[f32]) -> f64 {
    let topics: Vec<&str> = text.lines().map(|l| l.split('w').next().unwrap()).collect();
    let unit: Vec<Vec<f32>> = vectors
        .chunks(dim)
        .map(|v| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            v.iter().map(|x| x / n).collect()
        })
        .collect();
    assert_eq!(unit.len(), topics.len());
    let good = (0..unit.len())
        .filter(|&i| {
            let cos = |j: usize| -> f32 { unit[i].iter().zip(&unit[j]).map(|(a, b)| a * b).sum() };
            let nearest = (0..unit.len())
                .filter(|&j| j != i)
                .max_by(|&a, &b| cos(a).total_cmp(&cos(b)))
                .unwrap();
            topics[nearest] == topics[i]
        })
        .count();
    good as f64 / unit.len() as f64
}

/// Paragraph vectors on the real shaders (`doc2vec --backend vulkan`, lavapipe in CI)
/// against the CPU trainer on documents of planted topics: PV-DBOW, PV-DBOW with the
/// words' skip-gram, PV-DM, PV-DBOW with hierarchical softmax alone, with and without
/// the words' skip-gram, and PV-DM over the concatenated window (`--dm-concat`, its own
/// kernel; at least 70% and within 10 points there, see below). The GPU's document
/// vectors must find a same-topic document nearest for at least 90% of documents and
/// within 5 points of the CPU's fraction (untrained vectors: about 1 in 5); with the
/// words' skip-gram the word vectors must recover the topics too. PV-DBOW with the words'
/// skip-gram also runs with the positions in order and its steps split into dispatches of
/// 64 workgroups (`--gpu-order sequential --gpu-in-flight 64`).
#[test]
fn gpu_doc2vec_matches_cpu_quality() {
    use w2v_gpu::doc2vec::{train, DocConfig, DocKind};
    if common::gpu_or_skip("gpu_doc2vec_matches_cpu_quality").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = common::topic_corpus(5, 30, 500, 40, 11);
    let input = dir.path().join("docs.txt");
    std::fs::write(&input, &text).unwrap();
    let runs = [
        (DocKind::Dbow, false, false, false),
        (DocKind::Dbow, true, false, false),
        (DocKind::Dbow, true, false, true),
        (DocKind::Dm, false, false, false),
        (DocKind::Dbow, false, true, false),
        (DocKind::Dbow, true, true, false),
        (DocKind::DmConcat, false, false, false),
    ];
    for (kind, dbow_words, hs, split) in runs {
        // dm_concat's document row is one of the layer's 1 + 2·window rows, so its vectors
        // learn slower: window 1 and 30 epochs, where the CPU trainer finds a same-topic
        // document nearest for about 85% (window 3, 10 epochs: about 31%).
        // Its seed-to-seed spread is wider too (on another draw of this corpus, seeds 1–3:
        // CPU 0.874, 0.876, 0.892; GPU 0.822, 0.886, 0.868): within 10 points. Its tree cells
        // are held to the reference in tests/parity_concat.rs.
        let concat = kind == DocKind::DmConcat;
        let (window, epochs, floor, near) = if concat {
            (1, 30, 0.7, 0.1)
        } else {
            (3, 10, 0.9, 0.05)
        };
        let cfg = DocConfig {
            input: input.clone(),
            kind,
            dbow_words,
            hs,
            negative: if hs { 0 } else { 5 },
            dim: 32,
            window,
            epochs,
            min_count: 1,
            sample: 0.0,
            threads: 2,
            ..DocConfig::default()
        };
        let gpu_cfg = DocConfig {
            backend: common::test_backend(),
            gpu: w2v_gpu::doc2vec::DocGpu {
                order: match split {
                    true => w2v_gpu::config::Order::Sequential,
                    false => w2v_gpu::config::Order::Strided,
                },
                in_flight: split.then_some(64),
                ..Default::default()
            },
            ..cfg.clone()
        };
        let (c, cr) = train(&cfg, &Reporter::quiet()).unwrap();
        let (g, gr) = train(&gpu_cfg, &Reporter::quiet()).unwrap();
        assert_eq!((gr.words, gr.documents), (cr.words, cr.documents));
        assert!(gr.engine.contains("doc2vec"), "{}", gr.engine);
        assert_eq!(
            gr.engine.contains("dispatches of 64"),
            split,
            "{}",
            gr.engine
        );
        let pc = document_purity(&text, 32, &c.model.subwords);
        let pg = document_purity(&text, 32, &g.model.subwords);
        eprintln!(
            "{kind:?} words {dbow_words} hs {hs}: document purity cpu {pc:.3} gpu {pg:.3}; loss cpu {:.4} gpu {:.4}",
            cr.final_loss, gr.final_loss
        );
        assert!(
            pg >= floor && pg >= pc - near,
            "{kind:?}: GPU purity {pg}, CPU {pc}"
        );
        if dbow_words {
            let wp = common::topic_purity(g.vocab.words(), 32, g.word_vectors());
            assert!(wp > 0.9, "GPU word purity with --dbow-words: {wp}");
        }
    }
}

/// Inference on the real shaders (`infer --backend vulkan`): only the documents' rows learn,
/// in groups written over one another on the device (here 7 documents per group, so the
/// 30 queries take five groups). Each query is a new document of one planted topic; its
/// inferred vector's nearest trained document must share its topic at least 90% of the
/// time, as the CPU's inference does (untrained vectors: about 1 in 5). The same for a
/// dm_concat model (its own kernel, frozen; trained as `gpu_doc2vec_matches_cpu_quality`
/// trains it, window 1 and 30 epochs): at least 70% and within 10 points of the CPU's.
#[test]
fn gpu_inference_finds_each_querys_topic() {
    use w2v_gpu::doc2vec::{infer_many, infer_on_gpu, train, DocConfig, DocKind, InferSettings};
    let dir = tempfile::tempdir().unwrap();
    let text = common::topic_corpus(5, 30, 500, 40, 11);
    let input = dir.path().join("docs.txt");
    std::fs::write(&input, &text).unwrap();
    for (kind, window, epochs, floor) in
        [(DocKind::Dbow, 5, 10, 0.9), (DocKind::DmConcat, 1, 30, 0.7)]
    {
        let Some(ctx) = common::gpu_or_skip("gpu_inference_finds_each_querys_topic") else {
            return;
        };
        let cfg = DocConfig {
            input: input.clone(),
            kind,
            dim: 32,
            window,
            epochs,
            min_count: 1,
            sample: 0.0,
            threads: 2,
            ..DocConfig::default()
        };
        let (m, _) = train(&cfg, &Reporter::quiet()).unwrap();
        let queries = common::topic_corpus(5, 30, 30, 20, 12);
        let texts: Vec<Vec<&str>> = queries.lines().map(|l| l.split(' ').collect()).collect();
        let s = InferSettings::default();
        let on_gpu = infer_on_gpu(&m, &texts, &s, ctx, 7).unwrap();
        let on_cpu = infer_many(&m, &texts, &s, 2);
        let topic = |l: &str| l.split('w').next().unwrap().to_string();
        let trained: Vec<&str> = text.lines().collect();
        let hits = |vectors: &[Vec<f32>]| {
            let flat = vectors.concat();
            let emb = w2v_gpu::io::Embeddings {
                words: m.tags.clone(),
                dim: 32,
                vectors: m.model.subwords.clone(),
            };
            let space = Space::new(&emb, false);
            let found = queries
                .lines()
                .zip(flat.chunks(32))
                .filter(|(q, v)| {
                    let best = space.nearest(v, 1);
                    topic(trained[best[0].0.parse::<usize>().unwrap()]) == topic(q)
                })
                .count();
            found as f64 / texts.len() as f64
        };
        let (g, c) = (hits(&on_gpu), hits(&on_cpu));
        eprintln!(
            "{kind:?}: queries whose nearest document shares their topic: gpu {g:.3}, cpu {c:.3}"
        );
        assert!(g >= floor && g >= c - 0.1, "{kind:?}: GPU {g}, CPU {c}");
    }
}
