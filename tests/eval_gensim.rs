//! `eval` agrees with gensim 4.4 on the same vectors (tests/data/text8_2000.bin: the 2000
//! most frequent words of vectors trained on data/text8-4m.gz). gensim's numbers, from
//! `KeyedVectors.load_word2vec_format(...)`:
//!
//! * `evaluate_word_pairs('EN-WS-353-ALL.txt', case_insensitive=True)`: Pearson
//!   0.3873462768870103, Spearman 0.3683049950900683, OOV 79.88668555240793% (71 pairs used);
//!   `wordsim353.tsv` (mixed case, `#` header lines) gives the same.
//! * `evaluate_word_analogies('questions-words.txt', restrict_vocab=30000,
//!   case_insensitive=True)`: 45 correct of 493 (9.1278%); with `restrict_vocab=1000`: 22 of
//!   128.

mod common;

use w2v_gpu::eval::{evaluate_analogies, evaluate_similarity, Space};
use w2v_gpu::io::read_vectors;

fn space() -> Space {
    let emb = read_vectors(&common::repo_file("tests/data/text8_2000.bin"), None).unwrap();
    Space::new(&emb, true)
}

#[test]
fn similarity_matches_gensim() {
    let s = space();
    let r = evaluate_similarity(&s, &common::repo_file("data/ws353.txt"), 300_000).unwrap();
    assert_eq!((r.pairs, r.oov), (71, 282));
    assert!(
        (r.spearman - 0.3683049950900683).abs() < 0.005,
        "spearman {}",
        r.spearman
    );
    assert!(
        (r.pearson - 0.3873462768870103).abs() < 0.005,
        "pearson {}",
        r.pearson
    );
    match common::shared_data("eval/wordsim353.tsv") {
        Some(p) => {
            let r2 = evaluate_similarity(&s, &p, 300_000).unwrap();
            assert_eq!((r2.pairs, r2.oov), (71, 282));
            assert!((r2.spearman - 0.3683049950900683).abs() < 0.005);
        }
        None => common::skipped(
            "wordsim353.tsv check",
            "../shared/data/eval/wordsim353.tsv is absent",
        ),
    }
}

#[test]
fn analogies_match_gensim() {
    let Some(q) = common::shared_data("eval/questions-words.txt") else {
        common::skipped(
            "analogies_match_gensim",
            "../shared/data/eval/questions-words.txt is absent",
        );
        return;
    };
    let s = space();
    let r = evaluate_analogies(&s, &q, 30_000).unwrap();
    assert_eq!((r.total.correct, r.total.total), (45, 493));
    assert!((100.0 * r.total.accuracy() - 9.127789046653144).abs() < 0.1);
    assert_eq!(r.total.total + r.total.oov, 19_544);
    let r = evaluate_analogies(&s, &q, 1000).unwrap();
    assert_eq!((r.total.correct, r.total.total), (22, 128));
}
