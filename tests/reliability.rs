//! Long-run safety: `kill -9` and resume, SIGINT, `--deterministic`, refusing a mismatched
//! resume, and readers that never panic on damaged files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use w2v_gpu::sampling::Rng;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_w2v-gpu"))
}

fn corpus() -> String {
    common::repo_file("data/text8-4m.gz").display().to_string()
}

fn train_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "train",
        "--input",
        &corpus(),
        "--output",
        out.to_str().unwrap(),
        "--dim",
        "24",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run(args: &[String]) -> Output {
    bin().args(args).output().expect("run w2v-gpu")
}

fn spawn(args: &[String]) -> Child {
    bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn w2v-gpu")
}

/// Waits until `dir` holds a checkpoint; panics if the child ends first.
fn wait_for_checkpoint(child: &mut Child, dir: &Path) {
    let t = Instant::now();
    loop {
        if w2v_gpu::checkpoint::list(dir).is_ok_and(|l| !l.is_empty()) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("training ended ({status}) before its first checkpoint");
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts `train` with `args` checkpointing into `ck` every `every` words, and kills it
/// (SIGKILL) once the first checkpoint is there; the killed run leaves no output at `out`.
fn kill_after_first_checkpoint(out: &Path, args: &[&str], ck: &Path, every: &str) {
    let ck_s = ck.to_str().unwrap();
    let extra = ["--checkpoint-dir", ck_s, "--checkpoint-every", every];
    let mut child = spawn(&train_args(out, &[args, &extra[..]].concat()));
    wait_for_checkpoint(&mut child, ck);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run must have been killed mid-way");
    assert!(!out.exists(), "a killed run leaves no output");
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// `kill -9` after the first checkpoint, then `--resume` with another thread count: with
/// `--deterministic` the vectors are exactly those of an uninterrupted run (the corpus read
/// in 3 streams, each resumed from its own cursor).
#[test]
fn sigkill_then_resume_is_exact_with_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.bin");
    let part = dir.path().join("part.bin");
    let ck = dir.path().join("ck");
    let common = [
        "--deterministic",
        "--epochs",
        "3",
        "--streams",
        "3",
        "--json",
    ];
    let two = [&common[..], &["--threads", "2"]].concat();
    json(&run(&train_args(&full, &two)));
    kill_after_first_checkpoint(&part, &two, &ck, "300000");
    let r = json(&run(&train_args(
        &part,
        &[
            &common[..],
            &["--threads", "1", "--resume", ck.to_str().unwrap()],
        ]
        .concat(),
    )));
    let from = r["resumed_from"].as_u64().expect("resumed_from");
    assert!(from >= 300_000, "resumed from {from}");
    assert_eq!(
        std::fs::read(&full).unwrap(),
        std::fs::read(&part).unwrap(),
        "resumed vectors differ from the uninterrupted run"
    );
}

/// The Hogwild trainer reading its range in parts side by side (`--streams`): one thread is
/// deterministic, so `kill -9` after a checkpoint and `--resume` give exactly the vectors of
/// an uninterrupted run (every part resumed from its own cursor, the worker's random state
/// from the first).
#[test]
fn sigkill_then_resume_is_exact_with_hogwild_streams() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.bin");
    let part = dir.path().join("part.bin");
    let ck = dir.path().join("ck");
    let common = [
        "--threads",
        "1",
        "--streams",
        "4",
        "--epochs",
        "3",
        "--json",
    ];
    let a = json(&run(&train_args(&full, &common)));
    assert_eq!(a["streams"], 4);
    kill_after_first_checkpoint(&part, &common, &ck, "300000");
    let r = json(&run(&train_args(
        &part,
        &[&common[..], &["--resume", ck.to_str().unwrap()]].concat(),
    )));
    assert!(r["resumed_from"].as_u64().expect("resumed_from") >= 300_000);
    assert_eq!(
        std::fs::read(&full).unwrap(),
        std::fs::read(&part).unwrap(),
        "resumed vectors differ from the uninterrupted run"
    );
    // Another part count reads the corpus in another order: refused.
    let mut other = train_args(
        &part,
        &["--threads", "1", "--streams", "2", "--epochs", "3"],
    );
    other.extend(["--resume".into(), ck.to_str().unwrap().into()]);
    let o = run(&other);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The default (Hogwild) trainer: resume loses at most one interval and ends with the
/// quality of an uninterrupted run (final loss within 3%, WS-353 within 0.05).
#[test]
fn sigkill_then_resume_matches_quality_with_hogwild() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.bin");
    let part = dir.path().join("part.bin");
    let ck = dir.path().join("ck");
    let common = ["--epochs", "3", "--threads", "2", "--json"];
    let a = json(&run(&train_args(&full, &common)));
    kill_after_first_checkpoint(&part, &common, &ck, "500000");
    let b = json(&run(&train_args(
        &part,
        &[&common[..], &["--resume", ck.to_str().unwrap()]].concat(),
    )));
    let total = a["words"].as_u64().unwrap();
    let from = b["resumed_from"].as_u64().unwrap();
    assert_eq!(
        from + b["words"].as_u64().unwrap(),
        total,
        "every word trained once"
    );
    let (la, lb) = (
        a["final_loss"].as_f64().unwrap(),
        b["final_loss"].as_f64().unwrap(),
    );
    assert!(
        (la - lb).abs() < 0.03 * la,
        "final loss {la} vs resumed {lb}"
    );
    let ws = |p: &Path| {
        let o = bin()
            .args([
                "eval",
                "--vectors",
                p.to_str().unwrap(),
                "--similarity",
                common::repo_file("data/ws353.txt").to_str().unwrap(),
                "--json",
            ])
            .output()
            .unwrap();
        json(&o)["similarity"][0]["spearman"].as_f64().unwrap()
    };
    let (wa, wb) = (ws(&full), ws(&part));
    assert!((wa - wb).abs() < 0.05, "WS-353 {wa} vs resumed {wb}");
}

/// SIGINT: checkpoint, vectors written, exit 130 with the resume command; the resumed run
/// finishes the job.
#[test]
fn sigint_saves_and_says_how_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.txt");
    let ck = dir.path().join("ck");
    let args = train_args(
        &out,
        &[
            "--deterministic",
            "--epochs",
            "5",
            "--checkpoint-dir",
            ck.to_str().unwrap(),
            "--checkpoint-every",
            "200000",
        ],
    );
    let mut child = spawn(&args);
    wait_for_checkpoint(&mut child, &ck);
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let v = w2v_gpu::io::read_vectors(&out, None).expect("interrupted run wrote valid vectors");
    assert!(v.words.len() > 1000);
    let n = w2v_gpu::checkpoint::list(&ck).unwrap().len();
    assert!((1..=2).contains(&n), "{n} checkpoints kept");
    let mut resume = args.clone();
    resume.extend(["--resume".to_string(), ck.display().to_string()]);
    let o = run(&resume);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn resume_refuses_another_config_or_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.bin");
    let ck = dir.path().join("ck");
    let o = run(&train_args(
        &out,
        &[
            "--epochs",
            "1",
            "--deterministic",
            "--checkpoint-dir",
            ck.to_str().unwrap(),
            "--checkpoint-every",
            "100000",
        ],
    ));
    assert!(o.status.success());
    let mut other = train_args(&out, &["--epochs", "1", "--deterministic"]);
    let at = other.iter().position(|a| a == "--dim").unwrap() + 1;
    other[at] = "32".into();
    other.extend(["--resume".into(), ck.display().to_string()]);
    let o = run(&other);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("dim: checkpoint 24, this run 32"), "{err}");
    // Another stream count reads the corpus in another order.
    let mut other = train_args(
        &out,
        &["--epochs", "1", "--deterministic", "--streams", "2"],
    );
    other.extend(["--resume".into(), ck.display().to_string()]);
    let o = run(&other);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--streams 2"), "{err}");
    let small = dir.path().join("small.txt");
    std::fs::write(&small, common::topic_corpus(3, 8, 100, 6, 1)).unwrap();
    let mut other = train_args(
        &out,
        &["--epochs", "1", "--deterministic", "--min-count", "1"],
    );
    other[2] = small.display().to_string();
    other.extend(["--resume".into(), ck.display().to_string()]);
    let o = run(&other);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("input:"), "{err}");
    // A missing directory is a usage error too.
    let mut gone = train_args(&out, &["--epochs", "1"]);
    gone.extend([
        "--resume".into(),
        dir.path().join("nope").display().to_string(),
    ]);
    assert_eq!(run(&gone).status.code(), Some(2));
}

#[test]
fn deterministic_gives_the_same_bits_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for t in ["1", "2", "3"] {
        let out = dir.path().join(format!("v{t}.bin"));
        let o = run(&train_args(
            &out,
            &[
                "--deterministic",
                "--epochs",
                "1",
                "--threads",
                t,
                "--optimizer",
                "adam",
            ],
        ));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(files[0], files[1]);
    assert_eq!(files[0], files[2]);
}

/// The same GPU run twice gives the same bits (no atomics in the minibatch kernels), with
/// one thread building its minibatches and with three (each minibatch is built from its own
/// seed, and the engine takes them in corpus order).
#[test]
fn deterministic_gpu_runs_repeat() {
    if common::gpu_or_skip("deterministic_gpu_runs_repeat").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("c.txt");
    std::fs::write(&small, common::topic_corpus(4, 10, 300, 8, 3)).unwrap();
    let mut files = Vec::new();
    for threads in ["1", "3"] {
        let out: PathBuf = dir.path().join(format!("v{threads}.bin"));
        let mut a = train_args(
            &out,
            &[
                "--deterministic",
                "--epochs",
                "2",
                "--min-count",
                "1",
                "--backend",
                "vulkan",
                "--threads",
                threads,
            ],
        );
        a[2] = small.display().to_string();
        let o = run(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(files[0], files[1]);
}

/// Random bytes, truncations and bit flips of valid files: the vectors and vocabulary
/// readers return errors or values, never panic.
/// Damaged copies of `good`: cut after every `step` bytes, and `flips` copies with 1–4 random
/// bytes changed.
fn damaged(good: &[u8], step: usize, flips: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut cases: Vec<Vec<u8>> = (0..good.len())
        .step_by(step)
        .map(|n| good[..n].to_vec())
        .collect();
    for _ in 0..flips {
        let mut b = good.to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len() as u32) as usize;
            b[i] = rng.next_u32() as u8;
        }
        cases.push(b);
    }
    cases
}

#[test]
fn readers_never_panic_on_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    let good_bin = {
        let p = dir.path().join("g.bin");
        let words: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
        let data: Vec<f32> = (0..20 * 5).map(|i| i as f32 * 0.1).collect();
        w2v_gpu::io::write_vectors(&p, &words, 5, &data, w2v_gpu::config::Format::Binary).unwrap();
        std::fs::read(&p).unwrap()
    };
    let good_txt = {
        let p = dir.path().join("g.txt");
        let words: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
        let data: Vec<f32> = (0..20 * 5).map(|i| i as f32 * 0.1).collect();
        w2v_gpu::io::write_vectors(&p, &words, 5, &data, w2v_gpu::config::Format::Text).unwrap();
        std::fs::read(&p).unwrap()
    };
    let good_vocab = b"the 100\nof 50\nand 20\nzebra 5\n".to_vec();
    let mut rng = Rng::new(42);
    let p = dir.path().join("fuzz");
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for good in [&good_bin, &good_txt, &good_vocab] {
        cases.extend(damaged(good, 3, 300, &mut rng));
    }
    for len in [0usize, 1, 5, 64, 1000] {
        cases.push((0..len).map(|_| rng.next_u32() as u8).collect());
    }
    cases.push(b"3 2\na 1 2\nb NaN 1\nc 1\n".to_vec());
    cases.push(b"99999999999 99999999999\n".to_vec());
    cases.push(b"2 3\r\na 1 2 3\r\nb 4 5 6\r\n".to_vec());
    for c in &cases {
        std::fs::write(&p, c).unwrap();
        let r = std::panic::catch_unwind(|| {
            let _ = w2v_gpu::io::read_vectors(&p, None);
            let _ = w2v_gpu::io::read_vectors(&p, Some(3));
            let _ = w2v_gpu::vocab::Vocab::load(&p, 1, None);
        });
        assert!(
            r.is_ok(),
            "reader panicked on {:?}",
            String::from_utf8_lossy(c)
        );
    }
}

/// fastText `.bin` models, damaged: truncated, with random bytes changed, and with header
/// fields set to the largest values (a dictionary of 2^31 words in a file of 500 bytes, n-grams
/// of 2^31 characters, huge matrix shapes). Reading them, and asking a model that did read
/// for vectors, n-grams, sentence vectors and neighbours, gives a result or an error: no
/// panic, and no allocation sized by the header (which aborted the process before).
#[test]
fn fasttext_models_never_panic_or_abort_on_damaged_files() {
    use w2v_gpu::fasttext::{sentence_vector, FastTextModel, TrainArgs};
    use w2v_gpu::subword::SubwordParams;
    let dir = tempfile::tempdir().unwrap();
    let (dim, bucket) = (4usize, 13usize);
    let words: Vec<String> = ["the", "naïve", "</s>", "of", "日本", "a", "zebra", "x"]
        .iter()
        .map(|w| w.to_string())
        .collect();
    let n = words.len();
    let good = FastTextModel {
        dim,
        counts: (0..n as u64).rev().collect(),
        words,
        labels: Vec::new(),
        label_counts: Vec::new(),
        pruneidx: None,
        quant: None,
        params: SubwordParams {
            minn: 2,
            maxn: 4,
            bucket,
        },
        input: (0..(n + bucket) * dim)
            .map(|i| (i as f32 * 0.37).sin())
            .collect(),
        output: (0..n * dim).map(|i| (i as f32 * 0.11).cos()).collect(),
        args: TrainArgs {
            ws: 5,
            epoch: 1,
            min_count: 1,
            neg: 5,
            loss: 2,
            model: 2,
            t: 1e-4,
            ntokens: 100,
            word_ngrams: 1,
            lr_update_rate: 100,
        },
    };
    let p = dir.path().join("m.bin");
    good.write(&p).unwrap();
    let good = std::fs::read(&p).unwrap();
    assert_eq!(FastTextModel::from_bytes(&p, &good).unwrap().words.len(), n);
    let mut cases = damaged(&good, 7, 400, &mut Rng::new(7));
    // Header fields (little-endian at fixed offsets): dim 8, bucket 40, minn 44, maxn 48,
    // size 64, nwords 68; the input matrix's shape follows the dictionary.
    let set = |at: usize, v: &[u8]| {
        let mut b = good.clone();
        b[at..at + v.len()].copy_from_slice(v);
        b
    };
    let max32 = i32::MAX.to_le_bytes();
    let dict_end = good.len() - 2 * (1 + 16) - (n + bucket + n) * dim * 4;
    for (at, v) in [
        (8, &max32[..]),
        (40, &max32),
        (44, &max32),
        (48, &max32),
        (64, &[max32, max32].concat()),
        (dict_end + 1, &i64::MAX.to_le_bytes()),
        (dict_end + 9, &i64::MAX.to_le_bytes()),
    ] {
        cases.push(set(at, v));
    }
    for c in &cases {
        let r = std::panic::catch_unwind(|| {
            let Ok(m) = FastTextModel::from_bytes(&p, c) else {
                return;
            };
            let ids = m.ids();
            let mut vectors = Vec::new();
            for w in m
                .words
                .iter()
                .map(String::as_str)
                .chain(["unseen", "</s>", ""])
            {
                vectors.extend(m.vector(w, ids.get(w).copied()));
                let _ = m.ngram_vectors(w, ids.get(w).copied());
            }
            let _ = sentence_vector(m.dim, vectors.iter().map(Vec::as_slice));
            let nb = m.neighbours();
            let _ = nb.nn("the", 3);
            let _ = nb.analogies("the", "unseen", "of", 3);
        });
        assert!(r.is_ok(), "panicked on {c:?}");
    }
}

/// Damaged classifier models (fastText's supervised `.bin`, every loss): reading them and
/// predicting with them is an error or an answer, never a panic or an abort.
#[test]
fn classifier_models_never_panic_on_damaged_files() {
    use w2v_gpu::classifier::{test, train, Classifier, Features, Loss, SupConfig};
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("t.txt");
    let mut s = String::new();
    for i in 0..60 {
        s += &format!("__label__{} w{} w{} naïve\n", i % 3, i % 7, i % 5);
    }
    std::fs::write(&text, &s).unwrap();
    for (loss, ngrams, maxn) in [
        (Loss::Softmax, 2, 3),
        (Loss::Ns, 1, 0),
        (Loss::Hs, 1, 0),
        (Loss::Ova, 2, 0),
    ] {
        let cfg = SupConfig {
            input: text.clone(),
            dim: 4,
            threads: 1,
            loss,
            word_ngrams: ngrams,
            minn: if maxn > 0 { 2 } else { 0 },
            maxn,
            bucket: 11,
            ..SupConfig::default()
        };
        let (c, _) = train(&cfg, &w2v_gpu::progress::Reporter::quiet()).unwrap();
        let p = dir.path().join("m.bin");
        c.model.write(&p).unwrap();
        let good = std::fs::read(&p).unwrap();
        for bad in damaged(&good, 5, 300, &mut Rng::new(loss as u64 + 3)) {
            let r = std::panic::catch_unwind(|| {
                let Ok(m) = w2v_gpu::fasttext::FastTextModel::from_bytes(&p, &bad) else {
                    return;
                };
                let Ok(c) = Classifier::from_model(m, &p) else {
                    return;
                };
                let _ = test(&c, s.as_bytes(), Some(2), 0.0);
                let mut f = Features::default();
                c.features(b"w1 unseen __label__0 naive", true, &mut f);
                let _ = c.predict(&f.rows, None, 0.1);
                let _ = c.sentence_vector(&f.rows);
            });
            assert!(r.is_ok(), "{loss:?}: panicked on a damaged model");
        }
    }
}

/// A 100 MB corpus without a single newline trains (word2vec.c's 1000-word sentence cut
/// applies).
#[test]
fn a_single_100mb_line_trains() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("line.txt");
    let mut rng = Rng::new(9);
    let mut text = String::with_capacity(100_000_100);
    while text.len() < 100_000_000 {
        text.push('w');
        text.push_str(&rng.below(50).to_string());
        text.push(' ');
    }
    std::fs::write(&p, &text).unwrap();
    drop(text);
    let out = dir.path().join("v.bin");
    let o = run(&[
        "train".to_string(),
        "--input".into(),
        p.display().to_string(),
        "--output".into(),
        out.display().to_string(),
        "--dim".into(),
        "8".into(),
        "--epochs".into(),
        "1".into(),
        "--sample".into(),
        "1e-5".into(),
        "--min-count".into(),
        "1".into(),
        "--json".into(),
    ]);
    let j = json(&o);
    assert_eq!(j["vocab_size"], 50);
    assert!(j["words"].as_u64().unwrap() > 20_000_000);
}

/// Two interrupts: the second exits at once (130); the earlier output is either untouched
/// or replaced whole by the first interrupt's save — never half-written.
#[test]
fn second_interrupt_exits_at_once_without_damage() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.txt");
    std::fs::write(&out, "precious").unwrap();
    let child = spawn(&train_args(&out, &["--epochs", "50"]));
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    for _ in 0..2 {
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let body = std::fs::read_to_string(&out).unwrap();
    assert!(
        body == "precious" || w2v_gpu::io::read_vectors(&out, None).is_ok(),
        "output damaged"
    );
}

/// doc2vec models (`--save-model`), damaged: truncated and with random bytes changed. Reading
/// them gives a model or an error, never a panic; a model that reads infers a vector of its
/// dimension for text with known and unknown words.
#[test]
fn doc2vec_models_never_panic_on_damaged_files() {
    use w2v_gpu::doc2vec::{infer_many, train, Doc2Vec, DocConfig, DocKind, InferSettings};
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("docs.txt");
    std::fs::write(&corpus, "a b c d\nb c d e\n\nnaïve 日本 a\n").unwrap();
    let texts = vec![vec!["a", "b", "zzz"], vec![], vec!["日本"]];
    let s = InferSettings {
        epochs: Some(2),
        ..InferSettings::default()
    };
    // Negative sampling, hierarchical softmax (whose tree rows follow the output rows), and
    // dm_concat (a null word's row, output rows of the concatenated layer).
    let cases = [
        (DocKind::Dm, 5, false, 11),
        (DocKind::Dm, 0, true, 12),
        (DocKind::DmConcat, 2, true, 13),
    ];
    for (kind, negative, hs, seed) in cases {
        let cfg = DocConfig {
            input: corpus.clone(),
            kind,
            dim: 3,
            epochs: 2,
            min_count: 1,
            threads: 1,
            negative,
            hs,
            ..DocConfig::default()
        };
        let (m, _) = train(&cfg, &w2v_gpu::progress::Reporter::quiet()).unwrap();
        let p = dir.path().join("m.d2v");
        m.save(&p).unwrap();
        let good = std::fs::read(&p).unwrap();
        assert_eq!(Doc2Vec::from_bytes(&p, &good).unwrap().tags.len(), 4);
        for c in damaged(&good, 1, 400, &mut Rng::new(seed)) {
            let r = std::panic::catch_unwind(|| {
                if let Ok(m) = Doc2Vec::from_bytes(&p, &c) {
                    for v in infer_many(&m, &texts, &s, 1) {
                        assert_eq!(v.len(), m.dim());
                    }
                }
            });
            assert!(r.is_ok(), "{kind:?} hs {hs}: panicked on {} bytes", c.len());
        }
    }
}
