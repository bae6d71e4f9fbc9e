//! Phrase detection (word2vec.c's word2phrase, and gensim's normalised PMI as an option):
//! count unigrams and bigrams, then join each pair `a b` whose score passes the threshold
//! into `a_b`. Run it again on its own output for longer phrases.
//!
//! word2phrase's score: `(count(ab) − min_count) / count(a) / count(b) · N` (N: words in the
//! corpus), computed in `f32` in that order as word2phrase does; a pair with a word or the
//! bigram below `--min-count` never joins, and a joined word cannot join the next one.
//! NPMI (gensim `scoring="npmi"`): `ln(p(ab) / (p(a)·p(b))) / −ln(p(ab))`, in (−1, 1].
//!
//! Differences from word2phrase, on purpose: bigrams are counted within lines only
//! (word2phrase also counts the pair across a line end, which it then never joins; on a
//! one-line corpus such as text8 the two agree), and words are split on all ASCII
//! whitespace as the trainer does. Memory: the count table holds every distinct word and
//! bigram; past `max_table` entries the rarest are pruned while counting (word2vec.c's
//! ReduceVocab: entries with count ≤ 1, then ≤ 2, ...), which makes counts of pruned
//! entries approximate, as in word2phrase.

use crate::corpus::is_space;
use crate::error::{Error, Result};
use crate::files::{read_all, AtomicFile};
use crate::vocab::FxMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How a bigram is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoring {
    /// word2phrase's `(count(ab) − min_count) / count(a) / count(b) · N`.
    Word2phrase,
    /// Normalised pointwise mutual information (gensim's `npmi`).
    Npmi,
}

/// Settings of one pass.
#[derive(Debug, Clone)]
pub struct PhraseConfig {
    pub min_count: u64,
    pub threshold: f64,
    pub scoring: Scoring,
    /// Entries (words + bigrams) the count table may hold before pruning.
    pub max_table: usize,
}

/// What a pass found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhraseReport {
    pub words: u64,
    /// Pairs joined in the output (occurrences).
    pub joined: u64,
    /// Distinct phrases written.
    pub phrases: usize,
    /// Times the count table was pruned.
    pub prunings: u32,
}

/// The words of each line of `bytes`, line by line (a final newline ends the last line).
fn lines(bytes: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    bytes
        .strip_suffix(b"\n")
        .unwrap_or(bytes)
        .split(|&b| b == b'\n')
        .map(|l| {
            l.split(|&b| is_space(b))
                .filter(|w| !w.is_empty())
                .collect()
        })
}

/// Writes the key of bigram `a b` in the count table into a reused buffer (no allocation
/// per pair in the hot loops): `a`, a NUL byte, `b` (a word with a NUL in it could only
/// merge two counts).
fn write_bigram_key(k: &mut Vec<u8>, a: &[u8], b: &[u8]) {
    k.clear();
    k.extend_from_slice(a);
    k.push(0);
    k.extend_from_slice(b);
}

/// Adds one to `key`'s count, allocating the key only when it is new.
fn bump(table: &mut FxMap<Vec<u8>, u64>, key: &[u8]) {
    match table.get_mut(key) {
        Some(c) => *c += 1,
        None => {
            table.insert(key.to_vec(), 1);
        }
    }
}

/// Unigram and bigram counts of `bytes` (the first pass), with pruning past `max_table`.
fn count(bytes: &[u8], max_table: usize) -> (FxMap<Vec<u8>, u64>, u64, u32) {
    let mut table: FxMap<Vec<u8>, u64> = FxMap::default();
    let (mut words, mut prunings, mut min_reduce) = (0u64, 0u32, 1u64);
    let mut key = Vec::new();
    for line in lines(bytes) {
        for (i, w) in line.iter().enumerate() {
            words += 1;
            bump(&mut table, w);
            if i > 0 {
                write_bigram_key(&mut key, line[i - 1], w);
                bump(&mut table, &key);
            }
            if table.len() > max_table {
                table.retain(|_, c| *c > min_reduce);
                min_reduce += 1;
                prunings += 1;
            }
        }
    }
    (table, words, prunings)
}

/// The score of `a b` from its counts, or `None` when a count is below `min_count`.
pub fn score(pa: u64, pb: u64, pab: u64, words: u64, cfg: &PhraseConfig) -> Option<f64> {
    if pa < cfg.min_count || pb < cfg.min_count || pab < cfg.min_count {
        return None;
    }
    Some(match cfg.scoring {
        Scoring::Word2phrase => {
            // f32, in word2phrase's order: (pab - min_count) / pa / pb * train_words.
            ((pab - cfg.min_count) as f32 / pa as f32 / pb as f32 * words as f32) as f64
        }
        Scoring::Npmi => {
            let n = words as f64;
            let (pa, pb, pab) = (pa as f64 / n, pb as f64 / n, pab as f64 / n);
            if pab >= 1.0 {
                1.0
            } else {
                (pab / (pa * pb)).ln() / -pab.ln()
            }
        }
    })
}

/// One pass of phrase detection from `inputs` (files, directories or `-`) to `output`.
pub fn phrases(inputs: &[PathBuf], output: &Path, cfg: &PhraseConfig) -> Result<PhraseReport> {
    if cfg.scoring == Scoring::Npmi && !(-1.0..=1.0).contains(&cfg.threshold) {
        return Err(Error::usage(
            "--threshold",
            format!("{} is outside npmi's range -1..1 (e.g. 0.5)", cfg.threshold),
        ));
    }
    if cfg.min_count == 0 {
        return Err(Error::usage("--min-count", "must be at least 1"));
    }
    let read: Vec<(&str, &Path)> = inputs.iter().map(|p| ("--input", p.as_path())).collect();
    crate::files::refuse_overwriting_input("--output", output, &read)?;
    let bytes = read_all(inputs)?;
    let (table, words, prunings) = count(&bytes, cfg.max_table.max(1000));
    if words == 0 {
        return Err(Error::input(
            inputs.first().map_or(Path::new("-"), |p| p.as_path()),
            "contains no words; phrases expects plain text, words separated by spaces",
        ));
    }
    let get = |k: &[u8]| table.get(k).copied().unwrap_or(0);
    let mut out = AtomicFile::create(output)?;
    let mut report = PhraseReport {
        words,
        prunings,
        ..PhraseReport::default()
    };
    let mut seen: std::collections::HashSet<Vec<u8>> = Default::default();
    let w = out.writer();
    let mut key = Vec::new();
    let res = (|| -> std::io::Result<()> {
        for line in lines(&bytes) {
            // Whether the previous word may start a phrase (not itself joined).
            let mut prev_free = false;
            for (i, word) in line.iter().enumerate() {
                let join = prev_free && {
                    let a = line[i - 1];
                    write_bigram_key(&mut key, a, word);
                    score(get(a), get(word), get(&key), words, cfg)
                        .is_some_and(|s| s > cfg.threshold)
                };
                if join {
                    w.write_all(b"_")?;
                    report.joined += 1;
                    if seen.len() < 10_000_000 && !seen.contains(&key) {
                        seen.insert(key.clone());
                    }
                } else if i > 0 {
                    w.write_all(b" ")?;
                }
                w.write_all(word)?;
                prev_free = !join;
            }
            w.write_all(b"\n")?;
        }
        Ok(())
    })();
    res.map_err(|e| Error::io(output, e))?;
    out.commit()?;
    report.phrases = seen.len();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bigram_key(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut k = Vec::new();
        write_bigram_key(&mut k, a, b);
        k
    }

    fn run(text: &str, cfg: &PhraseConfig) -> (String, PhraseReport) {
        let dir = tempfile::tempdir().unwrap();
        let (i, o) = (dir.path().join("in.txt"), dir.path().join("out.txt"));
        std::fs::write(&i, text).unwrap();
        let r = phrases(&[i], &o, cfg).unwrap();
        (std::fs::read_to_string(&o).unwrap(), r)
    }

    fn cfg(min_count: u64, threshold: f64) -> PhraseConfig {
        PhraseConfig {
            min_count,
            threshold,
            scoring: Scoring::Word2phrase,
            max_table: 1 << 20,
        }
    }

    /// "new york" always together among filler words drawn at random: only the
    /// collocation joins.
    #[test]
    fn joins_the_collocation_and_nothing_else() {
        let mut rng = crate::sampling::Rng::new(9);
        let mut text = String::new();
        for line in 0..200 {
            let mut words: Vec<String> = (0..8).map(|_| format!("f{}", rng.below(30))).collect();
            if line % 2 == 0 {
                words.insert(3, "new york".into());
            }
            text.push_str(&words.join(" "));
            text.push('\n');
        }
        let (out, r) = run(&text, &cfg(5, 10.0));
        assert_eq!(r.joined, 100, "{}", &out[..300]);
        assert_eq!(r.phrases, 1);
        assert_eq!(out.matches("new_york").count(), 100);
        assert_eq!(out.lines().count(), 200, "lines are kept");
        // N = 1800 words: (100 - 5) / 100 / 100 * 1800 = 17.1.
        let s = score(100, 100, 100, 1800, &cfg(5, 10.0)).unwrap();
        assert!((s - 17.1).abs() < 1e-4, "{s}");
    }

    #[test]
    fn word2phrase_score_and_threshold_and_min_count() {
        let c = cfg(5, 100.0);
        // (20 - 5) / 40 / 30 * 1e4 = 125.
        assert!((score(40, 30, 20, 10_000, &c).unwrap() - 125.0).abs() < 1e-3);
        assert_eq!(
            score(4, 30, 20, 10_000, &c),
            None,
            "a word below --min-count"
        );
        assert_eq!(
            score(40, 30, 4, 10_000, &c),
            None,
            "a bigram below --min-count"
        );
        // A joined word does not join the next: "a b c" with both pairs strong → "a_b c".
        let text = "a b c\n".repeat(20);
        let (out, _) = run(&text, &cfg(1, 0.0));
        assert_eq!(out.lines().next().unwrap(), "a_b c");
        // A second pass makes longer phrases.
        let dir = tempfile::tempdir().unwrap();
        let (p1, p2) = (dir.path().join("p1"), dir.path().join("p2"));
        std::fs::write(&p1, &out).unwrap();
        phrases(&[p1], &p2, &cfg(1, 0.0)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p2)
                .unwrap()
                .lines()
                .next()
                .unwrap(),
            "a_b_c"
        );
    }

    #[test]
    fn npmi_is_normalised() {
        let c = PhraseConfig {
            scoring: Scoring::Npmi,
            ..cfg(1, 0.5)
        };
        // Always together: npmi 1; independent: about 0.
        assert!((score(10, 10, 10, 1000, &c).unwrap() - 1.0).abs() < 1e-9);
        let indep = score(100, 100, 10, 1000, &c).unwrap();
        assert!(indep.abs() < 1e-9, "{indep}");
        let dir = tempfile::tempdir().unwrap();
        let e = phrases(
            &[dir.path().join("x")],
            &dir.path().join("y"),
            &PhraseConfig {
                threshold: 5.0,
                ..c
            },
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn counting_prunes_past_the_table_limit() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!("junk{i} common word\n"));
        }
        let (table, words, prunings) = count(text.as_bytes(), 1000);
        assert_eq!(words, 9000);
        assert!(
            prunings > 0 && table.len() <= 1001,
            "{} {prunings}",
            table.len()
        );
        // Frequent entries survive pruning with exact counts.
        assert_eq!(table[&b"common".to_vec()], 3000);
        assert_eq!(table[&bigram_key(b"common", b"word")], 3000);
    }
}
