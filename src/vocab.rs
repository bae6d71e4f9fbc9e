//! The vocabulary: words with their corpus counts, most frequent first.

use crate::error::{Error, Result};
use crate::files::{truncate, AtomicFile};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, Write};
use std::path::Path;

/// A fast non-cryptographic hasher (the "Fx" hash of rustc) for the word tables, where
/// SipHash's DoS resistance buys nothing and costs a third of corpus loading time.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap());
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(FX_SEED);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            let w = u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(FX_SEED);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(FX_SEED);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(FX_SEED);
    }
    /// The state mixed down (murmur3's finaliser): a multiply carries a byte's bits only
    /// upward, so without it the low bits, which pick the bucket, ignore the last bytes of
    /// a word ("j0000001" … "j00fffff" all collided: quadratic counting, measured).
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Words sorted by count, descending; ties broken by the word's bytes, ascending, so the
/// order (and every id) is deterministic.
#[derive(Debug, Clone, Default)]
pub struct Vocab {
    words: Vec<String>,
    counts: Vec<u64>,
    index: FxMap<String, u32>,
}

impl Vocab {
    /// Builds a vocabulary from (word, count) pairs: drops words under `min_count`, sorts,
    /// and keeps the `max_vocab` most frequent. Duplicate words have their counts summed.
    pub fn from_counts(
        pairs: impl IntoIterator<Item = (String, u64)>,
        min_count: u64,
        max_vocab: Option<usize>,
    ) -> Vocab {
        let mut merged: FxMap<String, u64> = FxMap::default();
        for (w, c) in pairs {
            *merged.entry(w).or_insert(0) += c;
        }
        let mut entries: Vec<(String, u64)> = merged
            .into_iter()
            .filter(|(_, c)| *c >= min_count)
            .collect();
        entries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if let Some(max) = max_vocab {
            entries.truncate(max);
        }
        let mut v = Vocab::default();
        for (w, c) in entries {
            v.index.insert(w.clone(), v.words.len() as u32);
            v.words.push(w);
            v.counts.push(c);
        }
        v
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    pub fn word(&self, id: u32) -> &str {
        &self.words[id as usize]
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Sum of the counts of all vocabulary words: word2vec.c's `train_words`, the
    /// denominator of subsampling frequencies and of the learning-rate schedule.
    pub fn train_words(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Writes word2vec.c's vocabulary format: one `word count` line per word.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut f = AtomicFile::create(path)?;
        for (w, c) in self.words.iter().zip(&self.counts) {
            writeln!(f.writer(), "{w} {c}").map_err(|e| Error::io(path, e))?;
        }
        f.commit()
    }

    /// Reads word2vec.c's vocabulary format (`word count` per line), then applies
    /// `min_count` and `max_vocab` as word2vec.c's `ReadVocab` does.
    pub fn load(path: &Path, min_count: u64, max_vocab: Option<usize>) -> Result<Vocab> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let reader = std::io::BufReader::new(file);
        let mut pairs = Vec::new();
        for (n, line) in reader.split(b'\n').enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if line.trim().is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(word), Some(count), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(Error::input(
                    path,
                    format!(
                        "line {}: expected `word count`, found {:?}; a vocabulary file has one word and its count per line (as --save-vocab writes)",
                        n + 1,
                        truncate(line, 60)
                    ),
                ));
            };
            let count: u64 = count.parse().map_err(|_| {
                Error::input(
                    path,
                    format!(
                        "line {}: count {:?} is not a non-negative integer",
                        n + 1,
                        truncate(count, 30)
                    ),
                )
            })?;
            pairs.push((word.to_string(), count));
        }
        if pairs.is_empty() {
            return Err(Error::input(path, "the vocabulary file holds no words"));
        }
        let v = Vocab::from_counts(pairs, min_count, max_vocab);
        if v.is_empty() {
            return Err(Error::input(
                path,
                format!("no word in the vocabulary file has a count of at least --min-count {min_count}"),
            ));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_count_then_word_and_prunes() {
        let pairs = vec![
            ("b".to_string(), 5),
            ("a".to_string(), 5),
            ("c".to_string(), 9),
            ("rare".to_string(), 1),
            ("d".to_string(), 2),
        ];
        let v = Vocab::from_counts(pairs.clone(), 2, None);
        assert_eq!(v.words(), &["c", "a", "b", "d"]);
        assert_eq!(v.counts(), &[9, 5, 5, 2]);
        assert_eq!(v.train_words(), 21);
        assert_eq!(v.id("a"), Some(1));
        assert_eq!(v.id("rare"), None);
        let v = Vocab::from_counts(pairs, 1, Some(2));
        assert_eq!(v.words(), &["c", "a"]);
    }

    #[test]
    fn duplicate_words_are_merged() {
        let v = Vocab::from_counts(
            vec![("x".into(), 2), ("x".into(), 3), ("y".into(), 4)],
            1,
            None,
        );
        assert_eq!(v.words(), &["x", "y"]);
        assert_eq!(v.counts(), &[5, 4]);
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vocab.txt");
        let v = Vocab::from_counts(
            vec![("the".into(), 10), ("cat".into(), 3), ("sat".into(), 3)],
            1,
            None,
        );
        v.save(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "the 10\ncat 3\nsat 3\n"
        );
        let w = Vocab::load(&p, 4, None).unwrap();
        assert_eq!(w.words(), &["the"]);
        std::fs::write(&p, "the ten\n").unwrap();
        let err = Vocab::load(&p, 1, None).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("count"), "{err}");
    }
}
