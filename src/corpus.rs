//! Corpus reading and encoding: the text is tokenised once into a `u32` id stream that every
//! epoch reuses.
//!
//! Tokenisation is word2vec.c's: words are separated by ASCII whitespace (space, tab, CR,
//! vertical tab, form feed, newline) and a newline ends a sentence. Bytes are not decoded
//! while splitting, so invalid UTF-8 never fails: each word's bytes are turned into a
//! `String` with invalid sequences **replaced by U+FFFD** (`String::from_utf8_lossy`).
//! Files ending in `.gz` are decompressed transparently; other files are memory-mapped.

use crate::error::{Error, Result};
use crate::files::check_text;
pub use crate::files::{expand_input, read_all, read_bytes, CorpusBytes};
use crate::vocab::{FxMap, Vocab};
use std::path::Path;

/// Marks the end of a sentence (a newline in the corpus) in the id stream.
pub const SENTENCE_END: u32 = u32::MAX;

/// word2vec.c's word separators (the trainer's and `phrases`' tokenizer).
#[inline]
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Calls `on(Some(word))` for every word and `on(None)` for every newline, in corpus order.
#[inline]
fn tokenize<'a>(bytes: &'a [u8], mut on: impl FnMut(Option<&'a [u8]>)) {
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        while i < n && is_space(bytes[i]) {
            if bytes[i] == b'\n' {
                on(None);
            }
            i += 1;
        }
        let start = i;
        while i < n && !is_space(bytes[i]) {
            i += 1;
        }
        if i > start {
            on(Some(&bytes[start..i]));
        }
    }
}

/// The encoded corpus: the vocabulary and the id stream of every in-vocabulary word, with
/// [`SENTENCE_END`] after each line that had at least one such word.
#[derive(Debug)]
pub struct Corpus {
    pub vocab: Vocab,
    pub ids: Vec<u32>,
    /// Tokens read, including words dropped as out of vocabulary.
    pub tokens_read: u64,
}

impl Corpus {
    /// In-vocabulary words in the stream (one epoch's worth of `words`).
    pub fn words(&self) -> u64 {
        self.ids.iter().filter(|&&i| i != SENTENCE_END).count() as u64
    }
}

/// Reads, counts and encodes a corpus in one pass over the bytes.
///
/// Every distinct word gets a provisional id at first sight; after counting, provisional
/// ids are mapped to vocabulary ids (or dropped), so each word is hashed once.
pub fn load(
    path: &Path,
    min_count: u64,
    max_vocab: Option<usize>,
    fixed_vocab: Option<Vocab>,
) -> Result<Corpus> {
    load_all(&[path.to_path_buf()], min_count, max_vocab, fixed_vocab)
}

/// [`load`] over several files or directories read as one corpus (see [`read_all`]).
pub fn load_all(
    paths: &[std::path::PathBuf],
    min_count: u64,
    max_vocab: Option<usize>,
    fixed_vocab: Option<Vocab>,
) -> Result<Corpus> {
    load_normalized(
        paths,
        min_count,
        max_vocab,
        fixed_vocab,
        Normalize::default(),
    )
}

/// How raw words are turned into vocabulary words, the same when counting and encoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Normalize {
    /// Lower-case every word (Unicode-aware: `Über` → `über`).
    pub lowercase: bool,
    /// Strip leading and trailing characters that are not letters or digits (Unicode
    /// classes), so `man,` and `"man` are `man`; a word of punctuation only is dropped.
    /// Inner punctuation stays (`don't`, `U.S.` → `U.S`).
    pub strip_punctuation: bool,
}

impl Normalize {
    /// The normalised word, borrowed when unchanged; `None` when nothing is left.
    pub fn apply<'a>(&self, w: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
        use std::borrow::Cow;
        if !self.lowercase && !self.strip_punctuation {
            return Some(Cow::Borrowed(w));
        }
        let text = String::from_utf8_lossy(w);
        let mut t: &str = &text;
        if self.strip_punctuation {
            t = t.trim_matches(|c: char| !c.is_alphanumeric());
            if t.is_empty() {
                return None;
            }
        }
        let out = if self.lowercase {
            t.to_lowercase()
        } else {
            t.to_string()
        };
        if out.as_bytes() == w {
            Some(Cow::Borrowed(w))
        } else {
            Some(Cow::Owned(out.into_bytes()))
        }
    }
}

/// [`load_all`] with words normalised by `norm` (`--lowercase`, `--strip-punctuation`).
pub fn load_normalized(
    paths: &[std::path::PathBuf],
    min_count: u64,
    max_vocab: Option<usize>,
    fixed_vocab: Option<Vocab>,
    norm: Normalize,
) -> Result<Corpus> {
    use std::borrow::Cow;
    let path = paths.first().map_or(Path::new(""), |p| p.as_path());
    let bytes = read_all(paths)?;
    check_text(path, &bytes)?;

    let mut table: FxMap<Cow<[u8]>, u32> = FxMap::default();
    let mut counts: Vec<u64> = Vec::new();
    let mut keys: Vec<Cow<[u8]>> = Vec::new();
    let mut stream: Vec<u32> = Vec::with_capacity(bytes.len() / 6);
    let mut tokens_read = 0u64;
    let mut line_has_word = false;
    tokenize(&bytes, |tok| match tok {
        Some(w) => {
            let Some(w) = norm.apply(w) else { return };
            tokens_read += 1;
            line_has_word = true;
            let next = counts.len() as u32;
            let id = *table.entry(w.clone()).or_insert_with(|| {
                counts.push(0);
                keys.push(w);
                next
            });
            counts[id as usize] += 1;
            stream.push(id);
        }
        None => {
            if line_has_word {
                stream.push(SENTENCE_END);
                line_has_word = false;
            }
        }
    });
    if tokens_read == 0 {
        return Err(Error::input(
            path,
            "contains no words; --input expects plain text, words separated by spaces, one sentence per line",
        ));
    }
    drop(table);

    let vocab = match fixed_vocab {
        Some(v) => v,
        None => {
            let pairs = keys
                .iter()
                .zip(&counts)
                .map(|(k, &c)| (String::from_utf8_lossy(k).into_owned(), c));
            let v = Vocab::from_counts(pairs, min_count, max_vocab);
            if v.is_empty() {
                let top = counts.iter().max().copied().unwrap_or(0);
                return Err(Error::input(
                    path,
                    format!(
                        "no word occurs at least --min-count {min_count} times (the most frequent occurs {top} times); lower --min-count or use a larger corpus"
                    ),
                ));
            }
            v
        }
    };

    let remap: Vec<u32> = keys
        .iter()
        .map(|k| {
            vocab
                .id(&String::from_utf8_lossy(k))
                .unwrap_or(SENTENCE_END - 1)
        })
        .collect();
    const DROPPED: u32 = SENTENCE_END - 1;
    let mut out = 0usize;
    let mut last_was_end = true;
    for i in 0..stream.len() {
        let p = stream[i];
        let id = if p == SENTENCE_END {
            if last_was_end {
                continue;
            }
            SENTENCE_END
        } else {
            match remap[p as usize] {
                DROPPED => continue,
                id => id,
            }
        };
        last_was_end = id == SENTENCE_END;
        stream[out] = id;
        out += 1;
    }
    stream.truncate(out);
    stream.shrink_to_fit();
    if stream.iter().all(|&i| i == SENTENCE_END) {
        return Err(Error::input(
            path,
            "no word of the corpus is in the vocabulary given by --read-vocab",
        ));
    }
    Ok(Corpus {
        vocab,
        ids: stream,
        tokens_read,
    })
}

/// A synthetic corpus for benchmarks: `words` ids drawn from a Zipf(1) law over `vocab`
/// words (the shape of natural text), in sentences of 20 words.
pub fn synthetic_zipf(vocab: usize, words: usize, seed: u64) -> Corpus {
    let weights: Vec<f64> = (1..=vocab).map(|r| 1.0 / r as f64).collect();
    let zipf = crate::sampling::AliasTable::new(&weights);
    let mut rng = crate::sampling::Rng::new(seed);
    let mut ids = Vec::with_capacity(words + words / 20 + 1);
    let mut counts = vec![0u64; vocab];
    for i in 0..words {
        let id = zipf.draw(&mut rng);
        counts[id as usize] += 1;
        ids.push(id);
        if i % 20 == 19 {
            ids.push(SENTENCE_END);
        }
    }
    // Ids must be in frequency order, as a real vocabulary's are.
    let mut order: Vec<u32> = (0..vocab as u32).collect();
    order.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
    let mut rank = vec![0u32; vocab];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    for id in ids.iter_mut().filter(|i| **i != SENTENCE_END) {
        *id = rank[*id as usize];
    }
    // Zero-padded names sort like ranks, so the vocabulary's tie-break keeps this order.
    let vocab = Vocab::from_counts(
        order
            .iter()
            .enumerate()
            .filter(|(_, &id)| counts[id as usize] > 0)
            .map(|(r, &id)| (format!("w{r:07}"), counts[id as usize])),
        1,
        None,
    );
    let keep = vocab.len() as u32;
    ids.retain(|&i| i == SENTENCE_END || i < keep);
    Corpus {
        vocab,
        ids,
        tokens_read: words as u64,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn normalisation_folds_case_and_strips_punctuation_the_same_everywhere() {
        let n = Normalize {
            lowercase: true,
            strip_punctuation: true,
        };
        let got = |w: &str| {
            n.apply(w.as_bytes())
                .map(|c| String::from_utf8(c.into_owned()).unwrap())
        };
        assert_eq!(got("Man,").as_deref(), Some("man"));
        assert_eq!(got("\u{201c}Über\u{201d}").as_deref(), Some("über"));
        assert_eq!(got("don't").as_deref(), Some("don't"));
        assert_eq!(got("U.S.").as_deref(), Some("u.s"));
        assert_eq!(got("\u{2014}"), None, "an em dash alone is dropped");
        let off = Normalize::default();
        assert!(matches!(
            off.apply(b"Man,"),
            Some(std::borrow::Cow::Borrowed(_))
        ));
        // Counting and encoding agree: every form of "man" is one word.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt");
        std::fs::write(&p, "Man, man. MAN man! \"man\" the\n, ;\nthe man\n").unwrap();
        let c = load_normalized(std::slice::from_ref(&p), 1, None, None, n).unwrap();
        assert_eq!(c.vocab.words(), &["man".to_string(), "the".to_string()]);
        assert_eq!(c.vocab.counts(), &[6, 2]);
        assert_eq!(c.words(), 8);
        let raw = load_all(&[p], 1, None, None).unwrap();
        assert!(
            raw.vocab.len() > 5,
            "without the flags every spelling is its own word"
        );
    }

    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> std::path::PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    #[test]
    fn encodes_sentences_and_drops_rare_words() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "c.txt", b"a b a\r\n\n c a b rare\nb\ta  \n");
        let c = load(&p, 2, None, None).unwrap();
        assert_eq!(c.vocab.words(), &["a", "b"]);
        let e = SENTENCE_END;
        assert_eq!(c.ids, vec![0, 1, 0, e, 0, 1, e, 1, 0, e]);
        assert_eq!(c.tokens_read, 9);
        assert_eq!(c.words(), 7);
    }

    #[test]
    fn gzip_is_transparent_and_invalid_utf8_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(b"caf\xe9 caf\xe9 ok\n").unwrap();
        gz.finish().unwrap();
        let c = load(&p, 1, None, None).unwrap();
        assert_eq!(c.vocab.words(), &["caf\u{fffd}", "ok"]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = write(&dir, "e.txt", b"");
        assert!(load(&empty, 1, None, None)
            .unwrap_err()
            .to_string()
            .contains("no words"));
        let ws = write(&dir, "w.txt", b"  \n\t\n");
        assert!(load(&ws, 1, None, None)
            .unwrap_err()
            .to_string()
            .contains("no words"));
        let bin = write(&dir, "b.txt", b"\x7fELF\0\0\0\x01junk");
        assert!(load(&bin, 1, None, None)
            .unwrap_err()
            .to_string()
            .contains("binary"));
        let few = write(&dir, "f.txt", b"a b c");
        let e = load(&few, 5, None, None).unwrap_err().to_string();
        assert!(e.contains("--min-count 5"), "{e}");
        let missing = dir.path().join("missing.txt");
        assert!(load(&missing, 1, None, None).is_err());
    }
}
