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
