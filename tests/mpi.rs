//! Distributed training under `mpirun` (OpenMPI): built only with `--features mpi`
//! (`.ci/run` installs OpenMPI and runs these). Without `mpirun` on the PATH the tests say
//! that they skipped; under `CI` they fail instead.
#![cfg(feature = "mpi")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_w2v-gpu")
}

fn have_mpirun(test: &str) -> bool {
    let ok = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: mpirun is missing under CI (install openmpi-bin libopenmpi-dev)"
        );
        common::skipped(test, "mpirun is not installed");
    }
    ok
}

/// `mpirun` with the flags a root container and a 2-core machine need.
fn mpirun() -> Command {
    let mut c = Command::new("mpirun");
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .arg("--oversubscribe");
    c
}

fn train_args(input: &Path, output: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "train".to_string(),
        "--input".into(),
        input.display().to_string(),
        "--output".into(),
        output.display().to_string(),
        "--threads".into(),
        "1".into(),
        "--quiet".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run_np(np: usize, args: &[String]) -> Output {
    mpirun()
        .args(["-np", &np.to_string(), bin()])
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ws353(vectors: &Path) -> f64 {
    let o = Command::new(bin())
        .args(["eval", "--json", "--vectors"])
        .arg(vectors)
        .arg("--similarity")
        .arg(common::repo_file("data/ws353.txt"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["similarity"][0]["spearman"].as_f64().unwrap()
}

#[test]
fn one_rank_is_bit_identical_to_the_plain_binary() {
    if !have_mpirun("one_rank_is_bit_identical_to_the_plain_binary") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let corpus = common::repo_file("data/text8-4m.gz");
    let plain = dir.path().join("plain.bin");
    let one = dir.path().join("one.bin");
    for model in ["skipgram", "cbow"] {
        let extra = ["--epochs", "1", "--model", model];
        let o = Command::new(bin())
            .args(train_args(&corpus, &plain, &extra))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let o = run_np(1, &train_args(&corpus, &one, &extra));
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            std::fs::read(&plain).unwrap(),
            std::fs::read(&one).unwrap(),
            "{model}: mpirun -np 1 differs from the plain run"
        );
    }
}

/// Runs `args` (which checkpoint into `ck` and print `--json`) on 2 ranks to the end, then
/// again with `--resume ck`: the resumed run starts from a checkpoint, trains exactly the
/// rest of the run's words, and both ranks end identical.
fn run_then_resume(args: &[String], ck: &str) {
    let o = run_np(2, args);
    assert!(o.status.success(), "{}", text(&o));
    let full: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let o = run_np(
        2,
        &[args.to_vec(), vec!["--resume".into(), ck.into()]].concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let from = r["resumed_from"].as_u64().expect("resumed");
    let total = full["words"].as_u64().unwrap();
    let what = args.join(" ");
    // The last checkpoint can fall on the run's last sync (the Hogwild trainer's sync points
    // depend on timing); the resumed run then has no words left.
    assert!(
        from > 0 && from <= total,
        "{what}: resumed from {from} of {total}"
    );
    assert_eq!(from + r["words"].as_u64().unwrap(), total, "{what}");
    let sums = r["sync"]["model_checksums"].as_array().unwrap();
    assert!(sums.len() == 2 && sums[0] == sums[1], "{what}: {sums:?}");
}

/// The shipped corpus as a plain file in `dir`: a .gz is read whole by one rank, so the
/// ranks read a plain copy in byte ranges.
fn plain_shipped_corpus(dir: &Path) -> PathBuf {
    let plain = dir.join("text8-4m.txt");
    let mut text8 = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(common::repo_file("data/text8-4m.gz")).unwrap(),
        ),
        &mut text8,
    )
    .unwrap();
    std::fs::write(&plain, &text8).unwrap();
    plain
}

/// Trains `corpus` with `extra` in one process and then on each of `nps` ranks
/// (oversubscribed, one thread each): every rank ends with the same matrices (the checksums
/// in the report), all words are trained once per epoch with the merged vocabulary, and
/// WordSim-353 clears 0.2 (3 standard deviations above an untrained model, as the
/// single-process test) and stays within 0.08 of the single-process run (the seed-to-seed
/// spread of one run on the shipped corpus is about ±0.03). Returns each rank count's report.
fn ranks_agree_and_learn(
    dir: &Path,
    corpus: &Path,
    extra: &[&str],
    nps: &[usize],
) -> Vec<serde_json::Value> {
    let flags = [extra, &["--json"]].concat();
    let single = dir.join("single.bin");
    let o = Command::new(bin())
        .args(train_args(corpus, &single, &flags))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let r1: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rho1 = ws353(&single);
    let mut reports = Vec::new();
    for &np in nps {
        let out = dir.join(format!("np{np}.bin"));
        let o = run_np(np, &train_args(corpus, &out, &flags));
        assert!(o.status.success(), "np {np}: {}", text(&o));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("np {np}: {e}: {}", text(&o)));
        assert_eq!(r["ranks"], np);
        assert_eq!(r["words"], r1["words"], "np {np}: words trained");
        assert_eq!(
            r["vocab_size"], r1["vocab_size"],
            "np {np}: merged vocabulary"
        );
        let sums = r["sync"]["model_checksums"].as_array().unwrap();
        assert_eq!(sums.len(), np);
        assert!(sums.iter().all(|s| s == &sums[0]), "np {np}: {sums:?}");
        assert!(r["sync"]["syncs"].as_u64().unwrap() > 2);
        let rho = ws353(&out);
        eprintln!("{extra:?} WS-353: 1 process {rho1:.3}, {np} ranks {rho:.3}");
        assert!(rho > 0.2, "np {np}: WS-353 {rho}");
        assert!(
            rho > rho1 - 0.08,
            "np {np}: WS-353 {rho} vs {rho1} on one process"
        );
        reports.push(r);
    }
    reports
}

/// The shipped corpus on 2 and 4 ranks: the ranks agree and learn like one process
/// ([`ranks_agree_and_learn`]).
#[test]
fn two_and_four_ranks_agree_and_learn() {
    if !have_mpirun("two_and_four_ranks_agree_and_learn") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let corpus = plain_shipped_corpus(dir.path());
    let reports = ranks_agree_and_learn(dir.path(), &corpus, &[], &[2, 4]);
    // Up to 4 ranks the tier syncs send the changed word vectors past their prefix.
    for r in &reports {
        assert_eq!(r["sync"]["input_tail"], true, "{}", r["sync"]);
    }
}

/// The CPU minibatch engine under mpirun: lazy Adam on 2 ranks agrees and learns like one
/// process ([`ranks_agree_and_learn`]: the same rule as SGD, each rank's rate times the
/// ranks); `--deterministic` repeats bit for bit (the syncs fall between steps, so no timing
/// enters). Its checkpoints: `resume_on_the_same_ranks_finishes_the_run`.
#[test]
fn minibatch_engine_ranks_agree_learn_and_repeat() {
    if !have_mpirun("minibatch_engine_ranks_agree_learn_and_repeat") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpus = plain_shipped_corpus(d);
    let reports = ranks_agree_and_learn(d, &corpus, &["--optimizer", "adam"], &[2]);
    assert_eq!(reports[0]["optimizer"], "adam");
    // The engine cannot name its changed rows past a prefix: no input tail.
    assert_eq!(reports[0]["sync"]["input_tail"], false);

    // --deterministic: two runs, the same bytes.
    let det = ["--deterministic", "--epochs", "1", "--sync-words", "20000"];
    let (a, b) = (d.join("a.bin"), d.join("b.bin"));
    for out in [&a, &b] {
        let o = run_np(2, &train_args(&corpus, out, &det));
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "--deterministic on 2 ranks differs between two runs"
    );
}

#[test]
fn bad_setups_fail_on_every_rank_and_keep_earlier_output() {
    if !have_mpirun("bad_setups_fail_on_every_rank_and_keep_earlier_output") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpus = d.join("c.txt");
    std::fs::write(&corpus, common::topic_corpus(4, 20, 400, 10, 1)).unwrap();
    let out = d.join("v.txt");
    std::fs::write(&out, "earlier output\n").unwrap();
    let keeps = || assert_eq!(std::fs::read_to_string(&out).unwrap(), "earlier output\n");
    let base = train_args(&corpus, &out, &["--min-count", "1"]);

    // Ranks started with different flags (an MPMD launch).
    let o = mpirun()
        .args(["-np", "1", bin()])
        .args(&base)
        .args(["--dim", "20"])
        .args([":", "-np", "1", bin()])
        .args(&base)
        .args(["--dim", "30"])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert_eq!(
        t.matches("was started with other arguments").count(),
        2,
        "{t}"
    );
    keeps();

    // A rank whose part of the corpus is empty: a .gz is read whole by one rank.
    let gz = d.join("small.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut enc, b"a b c a b c a b c\n").unwrap();
    enc.finish().unwrap();
    let o = run_np(2, &train_args(&gz, &out, &["--min-count", "1"]));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert_eq!(
        t.matches("its part of the corpus is empty").count(),
        2,
        "{t}"
    );
    keeps();

    // The corpus missing on one rank (a node without the shared file system): the same
    // relative path, another working directory.
    let (a, b) = (d.join("a"), d.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(&corpus, a.join("corpus.txt")).unwrap();
    let rel = train_args(Path::new("corpus.txt"), &out, &["--min-count", "1"]);
    let o = mpirun()
        .args(["-np", "1", "-wdir"])
        .arg(&a)
        .arg(bin())
        .args(&rel)
        .args([":", "-np", "1", "-wdir"])
        .arg(&b)
        .arg(bin())
        .args(&rel)
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert_eq!(
        t.matches("rank 1 of the MPI job: corpus.txt").count(),
        2,
        "{t}"
    );
    keeps();

    // --resume with another number of ranks.
    let ck = d.join("ck");
    let ck_s = ck.display().to_string();
    let with_ck = train_args(
        &corpus,
        &d.join("w.txt"),
        &[
            "--min-count",
            "1",
            "--checkpoint-dir",
            &ck_s,
            "--checkpoint-every",
            "5000",
            // Sync points (where a distributed run checkpoints) every 2,000 words per rank,
            // so the checkpoint is taken however fast the run is.
            "--sync-words",
            "2000",
        ],
    );
    let o = run_np(2, &with_ck);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        std::fs::read_dir(&ck).unwrap().count() > 0,
        "the 2-rank run wrote no checkpoint"
    );
    let resume = train_args(&corpus, &out, &["--min-count", "1", "--resume", &ck_s]);
    let o = run_np(1, &resume);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("2 MPI ranks") && t.contains("--resume"), "{t}");
    keeps();
    let o = run_np(3, &resume);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    keeps();
}

/// A distributed run checkpoints (rank 0 writes every rank's cursors) and resumes on the
/// same number of ranks to the end: the Hogwild trainer and the minibatch engine.
#[test]
fn resume_on_the_same_ranks_finishes_the_run() {
    if !have_mpirun("resume_on_the_same_ranks_finishes_the_run") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpus = d.join("c.txt");
    std::fs::write(&corpus, common::topic_corpus(4, 20, 3000, 10, 1)).unwrap();
    // The Hogwild trainer, and the minibatch engine whose checkpoint also holds the
    // optimizer state (rank 0's, which every rank resumes from).
    // Adam reads the corpus in 3 streams per rank: rank r resumes from cursor slots
    // 3r..3r+3 of the checkpoint. The Hogwild thread with --streams 4 reads its rank's range
    // in 4 parts, each resumed from its own slot.
    let adam = ["--optimizer", "adam", "--streams", "3"];
    let parts = ["--streams", "4"];
    for (name, engine) in [
        ("sgd", &[][..]),
        ("sgd-parts", &parts[..]),
        ("adam", &adam[..]),
    ] {
        let ck = d.join(format!("ck-{name}"));
        let ck_s = ck.display().to_string();
        let mut args = train_args(
            &corpus,
            &d.join("v.txt"),
            &[
                "--min-count",
                "1",
                "--checkpoint-dir",
                &ck_s,
                "--checkpoint-every",
                "40000",
                "--json",
            ],
        );
        args.extend(engine.iter().map(|s| s.to_string()));
        run_then_resume(&args, &ck_s);
    }
}

/// A rank killed with SIGKILL ends the job with an error within a bounded time.
#[test]
fn a_dead_rank_ends_the_job() {
    if !have_mpirun("a_dead_rank_ends_the_job") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.txt");
    std::fs::write(&corpus, common::topic_corpus(8, 50, 20000, 12, 3)).unwrap();
    let out: PathBuf = dir.path().join("dead-rank-test.txt");
    let mut child = mpirun()
        .args(["-np", "2", bin()])
        .args(train_args(
            &corpus,
            &out,
            &["--min-count", "1", "--epochs", "1000"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for both ranks to train, then kill one.
    let victim = rank_pids(&out, 2)[1].clone();
    std::thread::sleep(Duration::from_secs(2));
    Command::new("kill").args(["-9", &victim]).status().unwrap();
    let killed = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if killed.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the job still runs 60 s after a rank died");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success(), "the job exited 0 after a rank died");
    assert!(!out.exists(), "vectors written by a job with a dead rank");
}

/// The GPU engines on 2 ranks (lavapipe in CI), their syncs overlapped with the next step
/// (the default: a row-range add of the correction after it) and blocking, against the same
/// engine family on the CPU: the ranks sync between steps (tier syncs of the prefix, full
/// syncs at epoch ends), end with identical matrices, and learn the planted topics as the
/// CPU on 2 ranks does (nearest-neighbour purity within 0.1; a random model scores 1/8).
/// SGD: the GPU engine against the Hogwild trainer, with negative sampling and with
/// hierarchical softmax over subword units; lazy Adam, without and with subwords: the GPU
/// minibatch engine against the CPU's.
#[test]
fn gpu_ranks_agree_and_learn_like_the_cpu() {
    let test = "gpu_ranks_agree_and_learn_like_the_cpu";
    if !have_mpirun(test) {
        return;
    }
    let Some(ctx) = common::gpu_or_skip(test) else {
        return;
    };
    let backend = ctx.backend_name();
    drop(ctx);
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("topics.txt");
    std::fs::write(&corpus, common::topic_corpus(8, 25, 1500, 12, 42)).unwrap();
    let engines: [&[&str]; 4] = [
        &["--gpu-batch", "1024"],
        // Hierarchical softmax alone with subword units: the tree's rows move at full
        // syncs, as on the CPU, the bucket rows as input rows past the vocabulary.
        &[
            "--gpu-batch",
            "1024",
            "--hs",
            "--negative",
            "0",
            "--subwords",
            "--bucket",
            "2000",
        ],
        &["--optimizer", "adam", "--batch-size", "256"],
        // Subword bucket rows in the minibatch engine's input records (synced as input
        // rows past the vocabulary).
        &[
            "--optimizer",
            "adam",
            "--batch-size",
            "256",
            "--subwords",
            "--bucket",
            "2000",
        ],
    ];
    for engine in engines {
        let mut purities = Vec::new();
        for (be, blocking) in [(backend, false), (backend, true), ("cpu", false)] {
            let out = dir.path().join(format!("{be}{blocking}.txt"));
            let mut flags = vec![
                "--backend",
                be,
                "--dim",
                "32",
                "--window",
                "4",
                "--epochs",
                "4",
                "--min-count",
                "1",
                "--sample",
                "0",
                "--sync-words",
                "2000",
                "--sync-rows",
                "16",
                "--json",
            ];
            // The GPU engine's step size is no flag of a CPU run (refused there).
            let mut given = engine.iter();
            while let Some(&f) = given.next() {
                if f == "--gpu-batch" && be == "cpu" {
                    given.next();
                    continue;
                }
                flags.push(f);
            }
            if blocking {
                flags.push("--sync-gpu-blocking");
            }
            let what = format!("{be} {}", engine.join(" "));
            let o = run_np(2, &train_args(&corpus, &out, &flags));
            assert!(o.status.success(), "{what}: {}", text(&o));
            let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(r["ranks"], 2);
            assert_eq!(r["backend"], be);
            let s = &r["sync"];
            let sums = s["model_checksums"].as_array().unwrap();
            assert!(sums.len() == 2 && sums[0] == sums[1], "{what}: {sums:?}");
            if be != "cpu" {
                // The GPU engines sync between steps: tier syncs ran. (The CPU trainer's
                // monitor may find this tiny run finished before a tier is due.)
                let (all, full) = (
                    s["syncs"].as_u64().unwrap(),
                    s["full_syncs"].as_u64().unwrap(),
                );
                assert!(all > full, "{what}: {s}");
            }
            let emb = w2v_gpu::io::read_vectors(&out, None).unwrap();
            let p = common::topic_purity(&emb.words, emb.dim, &emb.vectors);
            eprintln!("{what} (blocking syncs: {blocking}), 2 ranks: topic purity {p:.3}");
            purities.push(p);
        }
        let cpu = purities[2];
        assert!(cpu > 0.9, "CPU on 2 ranks {engine:?}: purity {cpu}");
        for (gpu, how) in [(purities[0], "overlapped"), (purities[1], "blocking")] {
            assert!(
                gpu > cpu - 0.1,
                "GPU on 2 ranks {engine:?}, {how} syncs: purity {gpu} vs CPU on 2 ranks {cpu}"
            );
        }
    }
}

/// The pids of the `n` ranks whose command line names `out` (waits up to 30 s for them).
fn rank_pids(out: &Path, n: usize) -> Vec<String> {
    let pattern = out.display().to_string();
    let t0 = Instant::now();
    loop {
        let o = Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .unwrap();
        // mpirun's own command line holds the path too: the ranks are the w2v-gpu ones.
        let ranks: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "w2v-gpu")
            })
            .map(str::to_string)
            .collect();
        if ranks.len() == n {
            return ranks;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "ranks did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SIGTERM to every rank (what a batch scheduler sends): the ranks stop together, rank 0
/// writes the vectors so far and a checkpoint, every rank exits 130 naming `--resume`, and
/// the resumed run on the same ranks trains the rest.
#[test]
fn sigterm_stops_every_rank_with_a_checkpoint_to_resume() {
    if !have_mpirun("sigterm_stops_every_rank_with_a_checkpoint_to_resume") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.txt");
    std::fs::write(&corpus, common::topic_corpus(8, 50, 20000, 12, 3)).unwrap();
    let out = dir.path().join("sigterm-test.txt");
    let ck = dir.path().join("ck").display().to_string();
    // A first checkpoint shows that training is under way (signal handlers installed).
    let args = train_args(
        &corpus,
        &out,
        &[
            "--min-count",
            "1",
            "--epochs",
            "60",
            "--checkpoint-dir",
            &ck,
            "--json",
        ],
    );
    let args = [args, vec!["--checkpoint-every".into(), "100000".into()]].concat();
    let child = mpirun()
        .args(["-np", "2", bin()])
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::fs::read_dir(&ck).map_or(true, |mut d| d.next().is_none()) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no checkpoint within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in rank_pids(&out, 2) {
        Command::new("kill").args(["-TERM", &p]).status().unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(130), "{t}");
    assert_eq!(
        t.matches("continue with the same command plus --resume")
            .count(),
        2,
        "{t}"
    );
    assert!(out.exists(), "no vectors after the stop: {t}");
    let o = run_np(2, &[args.clone(), vec!["--resume".into(), ck]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let total = r["run_words"].as_u64().unwrap_or(0);
    let from = r["resumed_from"].as_u64().expect("resumed");
    assert!(from > 0 && from < total, "resumed from {from} of {total}");
    assert_eq!(from + r["words"].as_u64().unwrap(), total);
}

/// The GPU engine on 2 ranks checkpoints (rank 0 writes the synced model and both ranks'
/// cursors) and resumes on 2 ranks to exactly the end of the run.
#[test]
fn gpu_ranks_checkpoint_and_resume() {
    let test = "gpu_ranks_checkpoint_and_resume";
    if !have_mpirun(test) {
        return;
    }
    let Some(ctx) = common::gpu_or_skip(test) else {
        return;
    };
    let backend = ctx.backend_name();
    drop(ctx);
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("topics.txt");
    std::fs::write(&corpus, common::topic_corpus(8, 25, 1500, 12, 42)).unwrap();
    let ck = dir.path().join("ck").display().to_string();
    let args = train_args(
        &corpus,
        &dir.path().join("v.txt"),
        &[
            "--backend",
            backend,
            "--dim",
            "16",
            "--epochs",
            "4",
            "--min-count",
            "1",
            "--gpu-batch",
            "1024",
            "--checkpoint-dir",
            &ck,
            "--checkpoint-every",
            "30000",
            "--json",
        ],
    );
    run_then_resume(&args, &ck);
}
