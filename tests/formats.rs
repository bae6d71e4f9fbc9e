//! Golden files written by gensim 4.4 and word2vec.c must read back exactly; our writer's
//! output must read back exactly.

use w2v_gpu::config::Format;
use w2v_gpu::io::{read_vectors, write_vectors};

mod common;

#[test]
fn reads_gensim_text_and_binary() {
    let expect: Vec<f32> = vec![
        0.5, -1.25, 3.0, 1e-7, 0.0, 2.5, 0.125, 7.0, -3.5, 1.0, 0.25, -0.75, 1.0, 0.0, 1.0, 0.0,
        0.0, 1.0, 1.0, 0.0,
    ];
    for f in ["gensim_small.txt", "gensim_small.bin"] {
        let e = read_vectors(&common::repo_file(&format!("tests/data/{f}")), None).unwrap();
        assert_eq!(e.words, ["the", "of", "naïve", "king", "queen"], "{f}");
        assert_eq!(e.dim, 4);
        assert_eq!(e.vectors, expect, "{f}");
    }
}

#[test]
fn reads_word2vec_c_binary() {
    // Written by word2vec.c (PyPI `word2vec` 0.11): `-size 3 -min-count 1 -binary 1`.
    let e = read_vectors(&common::repo_file("tests/data/w2vc_small.bin"), None).unwrap();
    assert_eq!(e.len(), 9);
    assert_eq!(e.dim, 3);
    assert_eq!(e.words[0], "</s>");
    assert_eq!(e.words[1], "the");
    assert!(e.vectors.iter().all(|x| x.is_finite() && x.abs() < 1.0));
    let limited = read_vectors(&common::repo_file("tests/data/w2vc_small.bin"), Some(3)).unwrap();
    assert_eq!(limited.words, e.words[..3]);
    assert_eq!(limited.vectors, e.vectors[..9]);
}

#[test]
fn our_files_round_trip_and_replace_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let words: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    let v = vec![1.0f32, -2.0, 0.333_333_34, 4e-6];
    for (name, fmt) in [("v.bin", Format::Binary), ("v.txt", Format::Text)] {
        let p = dir.path().join(name);
        std::fs::write(&p, "old").unwrap();
        write_vectors(&p, &words, 2, &v, fmt).unwrap();
        let e = read_vectors(&p, None).unwrap();
        assert_eq!(e.words, words);
        for (a, b) in e.vectors.iter().zip(&v) {
            assert!(
                (a - b).abs() <= if fmt == Format::Binary { 0.0 } else { 5e-7 },
                "{name}"
            );
        }
    }
    // Only the two outputs remain: no temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// A classifier trained by fastText 0.9.2 and read here predicts, for every line of a
/// validation text, the very floats fastText's own `predict` gives (its `std_log` and
/// softmax `exp` are double precision in C++, and so here), and the meter built from them
/// gives fastText's precision-recall curves, precision at recall and recall at precision
/// (autotune's metrics) to the last printed digit, over all labels and each, for k = 1, 2
/// and all. Expected values: `scripts/fasttext_meter_golden.py`, fastText's Python module.
#[test]
fn classifier_predictions_and_meters_equal_fasttexts() {
    use std::fmt::Write;
    use w2v_gpu::classifier::{lines, test, Classifier, Features};
    let dir = std::path::Path::new("tests/data/fasttext_classifier");
    let valid = std::fs::read(dir.join("valid.txt")).unwrap();
    for loss in ["softmax", "hs"] {
        let c = Classifier::read(&dir.join(format!("t8_{loss}.bin"))).unwrap();
        let mut got = String::new();
        let mut f = Features::default();
        for (line, eos) in lines(&valid) {
            c.features(line, eos, &mut f);
            let p = c.predict(&f.rows, None, 0.0);
            let p: Vec<String> = p
                .iter()
                .map(|&(logp, l)| format!("{}:{:.8e}", c.labels()[l as usize], logp.exp()))
                .collect();
            writeln!(got, "{}", p.join(" ")).unwrap();
        }
        let quantiles: Vec<f64> = (1..20).map(|i| f64::from(i) / 20.0).collect();
        for k in [1i64, 2, -1] {
            let meter = test(&c, &valid, usize::try_from(k).ok(), 0.0);
            let labels = std::iter::once(None).chain((0..c.labels().len()).map(Some));
            for label in labels {
                let name = label.map_or("all", |l| c.labels()[l].as_str());
                let curve = meter.precision_recall_curve(label);
                let (sp, sr) = curve
                    .iter()
                    .fold((0.0, 0.0), |(sp, sr), &(p, r)| (sp + p, sr + r));
                writeln!(got, "k={k} {name} curve {} {sp:.12} {sr:.12}", curve.len()).unwrap();
                let row = |f: &dyn Fn(f64) -> f64| {
                    let v: Vec<String> =
                        quantiles.iter().map(|&q| format!("{:.12}", f(q))).collect();
                    v.join(" ")
                };
                let par = row(&|q| meter.precision_at_recall(label, q));
                let rap = row(&|q| meter.recall_at_precision(label, q));
                writeln!(got, "k={k} {name} precisionAtRecall {par}").unwrap();
                writeln!(got, "k={k} {name} recallAtPrecision {rap}").unwrap();
            }
        }
        let want = std::fs::read_to_string(dir.join(format!("t8_{loss}.expected.txt"))).unwrap();
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(g, w, "{loss}: line {} differs from fastText's", i + 1);
        }
        assert_eq!(got.lines().count(), want.lines().count(), "{loss}");
    }
}
