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
pub use crate::files::{expand_input, read_all, read_bytes, CorpusBytes, IdStream};
use crate::vocab::{FxMap, Vocab};
use std::path::Path;

/// Marks the end of a sentence (a newline in the corpus) in the id stream.
pub const SENTENCE_END: u32 = u32::MAX;

pub(crate) use crate::files::is_space;

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
    pub ids: IdStream,
    /// Tokens read, including words dropped as out of vocabulary.
    pub tokens_read: u64,
    /// Times the counting table was pruned (word2vec.c's `ReduceVocab`; 0: exact counts).
    pub prunes: u32,
    /// The most a word's count can be below its true count after those prunings.
    pub max_undercount: u64,
    /// Most distinct words the counting table held at once.
    pub table_peak: usize,
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

/// [`load_all`] with words normalised by `norm` (`--lowercase`, `--strip-punctuation`),
/// the ids in memory.
pub fn load_normalized(
    paths: &[std::path::PathBuf],
    min_count: u64,
    max_vocab: Option<usize>,
    fixed_vocab: Option<Vocab>,
    norm: Normalize,
) -> Result<Corpus> {
    load_with(
        paths,
        LoadOptions {
            min_count,
            max_vocab,
            fixed_vocab,
            normalize: norm,
            ..LoadOptions::default()
        },
    )
}

/// word2vec.c's limit on distinct words held while counting (0.7 × its 30M-entry hash).
pub const DEFAULT_TABLE_LIMIT: usize = 21_000_000;

/// How a corpus is read: the vocabulary rules and where the encoded ids go.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub min_count: u64,
    pub max_vocab: Option<usize>,
    /// A vocabulary to use instead of counting (`--read-vocab`).
    pub fixed_vocab: Option<Vocab>,
    pub normalize: Normalize,
    /// Distinct words held while counting; past it the rarest are pruned as word2vec.c's
    /// `ReduceVocab` does (`--max-vocab-size`).
    pub table_limit: usize,
    /// Where the id stream is written and memory-mapped (`None`: held in memory).
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            min_count: 5,
            max_vocab: None,
            fixed_vocab: None,
            normalize: Normalize::default(),
            table_limit: DEFAULT_TABLE_LIMIT,
            cache_dir: None,
        }
    }
}

/// Word counts gathered with bounded memory: when the table holds more than `limit`
/// distinct words, every word counted `min_reduce` times or fewer is dropped and
/// `min_reduce` grows by one (word2vec.c's `ReduceVocab`). A word that was never dropped
/// has its exact count; one that was is undercounted by at most the sum of the thresholds
/// of the prunings (1 + 2 + … + `prunes`).
#[derive(Debug)]
pub struct WordCounter {
    table: FxMap<Box<[u8]>, u64>,
    limit: usize,
    min_reduce: u64,
    /// Prunings so far.
    pub prunes: u32,
    /// Most distinct words held at once.
    pub peak: usize,
    pub tokens: u64,
}

impl WordCounter {
    pub fn new(limit: usize) -> WordCounter {
        WordCounter {
            table: FxMap::default(),
            limit: limit.max(1),
            min_reduce: 1,
            prunes: 0,
            peak: 0,
            tokens: 0,
        }
    }

    #[inline]
    pub fn add(&mut self, w: &[u8]) {
        self.tokens += 1;
        if let Some(c) = self.table.get_mut(w) {
            *c += 1;
            return;
        }
        self.table.insert(w.into(), 1);
        self.peak = self.peak.max(self.table.len());
        if self.table.len() > self.limit {
            let t = self.min_reduce;
            // Rebuilt rather than `retain`ed: erasing in place leaves tombstones that make
            // every later miss probe the whole table (measured: quadratic time).
            self.table = std::mem::take(&mut self.table)
                .into_iter()
                .filter(|(_, c)| *c > t)
                .collect();
            self.min_reduce += 1;
            self.prunes += 1;
        }
    }

    /// The largest possible undercount of a word (0 without pruning).
    pub fn max_undercount(&self) -> u64 {
        let k = self.prunes as u64;
        k * (k + 1) / 2
    }

    /// (word, count) pairs, words decoded as the vocabulary stores them.
    pub fn into_counts(self) -> impl Iterator<Item = (String, u64)> {
        self.table
            .into_iter()
            .map(|(k, c)| (String::from_utf8_lossy(&k).into_owned(), c))
    }
}

/// Where encoded ids go: memory or the cache file.
enum Sink {
    Memory(Vec<u32>),
    File(crate::files::IdCacheWriter),
}

impl Sink {
    #[inline]
    fn push(&mut self, id: u32) -> Result<()> {
        match self {
            Sink::Memory(v) => {
                v.push(id);
                Ok(())
            }
            Sink::File(w) => w.push(id),
        }
    }
}

/// Reads and encodes a corpus in two streaming passes over the text: counting (with
/// bounded memory, see [`WordCounter`]; skipped with a fixed vocabulary) and encoding into
/// the id stream, written to a memory-mapped cache file when `opts.cache_dir` is set. The
/// text is read in chunks whose pages are released once done, so host memory does not grow
/// with the corpus (standard input and pipes, readable once, are held in memory).
pub fn load_with(paths: &[std::path::PathBuf], opts: LoadOptions) -> Result<Corpus> {
    load_part(paths, opts, None)
}

/// [`load_with`] for one rank of a distributed run: the rank reads and encodes its part
/// of the corpus (`dist::split`); the vocabulary is built from every rank's counts merged
/// (identical on all ranks); `tokens_read` is the whole corpus's. A rank's failure (a
/// missing file, an empty part, a part without vocabulary words) fails every rank with its
/// message. One rank reads the whole corpus exactly as [`load_with`] does.
pub fn load_distributed(
    paths: &[std::path::PathBuf],
    opts: LoadOptions,
    comm: &dyn crate::dist::Comm,
) -> Result<Corpus> {
    if comm.size() == 1 {
        return load_with(paths, opts);
    }
    load_part(paths, opts, Some(comm))
}

/// Counts as bytes for the merge: (u32 length, word bytes, u64 count) each.
fn pack_counts(counts: impl Iterator<Item = (String, u64)>) -> Vec<u8> {
    let mut b = Vec::new();
    for (w, c) in counts {
        b.extend_from_slice(&(w.len() as u32).to_le_bytes());
        b.extend_from_slice(w.as_bytes());
        b.extend_from_slice(&c.to_le_bytes());
    }
    b
}

fn unpack_counts(b: &[u8], out: &mut Vec<(String, u64)>) {
    let mut i = 0;
    while i + 4 <= b.len() {
        let n = u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let w = String::from_utf8_lossy(&b[i + 4..i + 4 + n]).into_owned();
        let mut c = [0u8; 8];
        c.copy_from_slice(&b[i + 4 + n..i + 12 + n]);
        out.push((w, u64::from_le_bytes(c)));
        i += 12 + n;
    }
}

fn load_part(
    paths: &[std::path::PathBuf],
    opts: LoadOptions,
    comm: Option<&dyn crate::dist::Comm>,
) -> Result<Corpus> {
    let path = paths.first().map_or(Path::new(""), |p| p.as_path());
    // Each rank's outcome, shared before any collective that needs every rank.
    let agree = |r: Result<()>| match comm {
        Some(c) => crate::dist::agree(c, r),
        None => r,
    };
    let mut files = Vec::new();
    let expanded = paths.iter().try_for_each(|p| {
        files.extend(expand_input(p)?);
        Ok(())
    });
    agree(expanded)?;
    let pieces = match comm {
        None => None,
        Some(c) => {
            let missing = files
                .iter()
                .find(|f| f.as_os_str() != "-" && std::fs::metadata(f).is_err());
            let r = if let Some(f) = missing {
                Err(Error::input(
                    f,
                    "no such file on this rank; every rank must see the corpus at the same path (a shared file system, or a copy on each node)",
                ))
            } else if crate::files::rereadable(&files) {
                crate::dist::split::pieces(&files, c.rank(), c.size())
            } else {
                Err(Error::usage(
                    "--input",
                    "under mpirun every rank reads its part of the corpus from files; standard input or a pipe cannot be split (write it to a file)",
                ))
            };
            let r = r.and_then(|p| {
                if p.is_empty() {
                    Err(Error::input(
                        path,
                        format!(
                            "rank {} of {}: its part of the corpus is empty (a compressed file is read whole by one rank); use fewer ranks, more text, or split the .gz into several files",
                            c.rank(),
                            c.size()
                        ),
                    ))
                } else {
                    Ok(p)
                }
            });
            let mut got = None;
            agree(r.map(|p| got = Some(p)))?;
            got
        }
    };
    let held = if pieces.is_some() || crate::files::rereadable(&files) {
        None
    } else {
        let b = read_all(paths)?;
        check_text(path, &b)?;
        Some(b)
    };
    let several = files.len() > 1;
    let each = |f: &mut dyn FnMut(&[u8]) -> Result<()>| -> Result<()> {
        match (&held, &pieces) {
            (Some(b), _) => f(b),
            (None, Some(p)) => crate::files::stream_pieces(p, several, f),
            (None, None) => crate::files::stream_chunks(&files, f),
        }
    };
    let norm = opts.normalize;
    let no_words = || {
        Error::input(
            path,
            "contains no words; --input expects plain text, words separated by spaces, one sentence per line",
        )
    };

    let (vocab, prunes, max_undercount, table_peak) = match opts.fixed_vocab {
        Some(v) => (v, 0, 0, 0),
        None => {
            let mut counter = WordCounter::new(opts.table_limit);
            agree(each(&mut |chunk| {
                tokenize(chunk, |tok| {
                    if let Some(w) = tok.and_then(|w| norm.apply(w)) {
                        counter.add(&w);
                    }
                });
                Ok(())
            }))?;
            let (prunes, mut undercount, peak) =
                (counter.prunes, counter.max_undercount(), counter.peak);
            let mut top = 0;
            let v = match comm {
                None => {
                    if counter.tokens == 0 {
                        return Err(no_words());
                    }
                    Vocab::from_counts(
                        counter.into_counts().inspect(|(_, c)| top = top.max(*c)),
                        opts.min_count,
                        opts.max_vocab,
                    )
                }
                Some(c) => {
                    // Every rank's counts, merged: the same vocabulary everywhere.
                    let mut sums = [counter.tokens, undercount];
                    c.sum_u64(&mut sums);
                    undercount = sums[1];
                    if sums[0] == 0 {
                        return Err(no_words());
                    }
                    let all = c.gather_bytes(&pack_counts(counter.into_counts()));
                    let mut pairs = Vec::new();
                    for b in &all {
                        unpack_counts(b, &mut pairs);
                    }
                    Vocab::from_counts(
                        pairs.into_iter().inspect(|(_, c)| top = top.max(*c)),
                        opts.min_count,
                        opts.max_vocab,
                    )
                }
            };
            if v.is_empty() {
                return Err(Error::input(
                    path,
                    format!(
                        "no word occurs at least --min-count {} times (the most frequent occurs {top} times); lower --min-count or use a larger corpus",
                        opts.min_count
                    ),
                ));
            }
            (v, prunes, undercount, peak)
        }
    };

    let mut sink = match &opts.cache_dir {
        Some(dir) => Sink::File(crate::files::IdCacheWriter::create(dir)?),
        None => Sink::Memory(Vec::new()),
    };
    let mut tokens_read = 0u64;
    let mut words = 0u64;
    let mut last_was_end = true;
    let encoded = each(&mut |chunk| {
        let mut failed = Ok(());
        tokenize(chunk, |tok| {
            let id = match tok {
                Some(w) => {
                    let Some(w) = norm.apply(w) else { return };
                    tokens_read += 1;
                    match vocab.id(&String::from_utf8_lossy(&w)) {
                        Some(id) => id,
                        None => return,
                    }
                }
                // A newline ends a sentence unless nothing was kept since the last end.
                None if last_was_end => return,
                None => SENTENCE_END,
            };
            last_was_end = id == SENTENCE_END;
            words += u64::from(id != SENTENCE_END);
            if failed.is_ok() {
                failed = sink.push(id);
            }
        });
        failed
    });
    let encoded = encoded.and_then(|()| match comm {
        Some(c) if words == 0 => Err(Error::input(
            path,
            format!(
                "rank {} of {}: its part of the corpus has no word of the vocabulary; use fewer ranks or more text",
                c.rank(),
                c.size()
            ),
        )),
        _ => Ok(()),
    });
    agree(encoded)?;
    if let Some(c) = comm {
        let mut t = [tokens_read];
        c.sum_u64(&mut t);
        tokens_read = t[0];
    }
    if tokens_read == 0 {
        return Err(no_words());
    }
    if words == 0 {
        return Err(Error::input(
            path,
            "no word of the corpus is in the vocabulary given by --read-vocab",
        ));
    }
    let ids = match sink {
        Sink::Memory(mut v) => {
            v.shrink_to_fit();
            IdStream::Memory(v)
        }
        Sink::File(w) => w.finish()?,
    };
    Ok(Corpus {
        vocab,
        ids,
        tokens_read,
        prunes,
        max_undercount,
        table_peak,
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
    let vocab_len = vocab.len();
    ids.retain(|&i| i == SENTENCE_END || i < keep);
    Corpus {
        vocab,
        ids: ids.into(),
        tokens_read: words as u64,
        prunes: 0,
        max_undercount: 0,
        table_peak: vocab_len,
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
        assert_eq!(&c.ids[..], &[0, 1, 0, e, 0, 1, e, 1, 0, e]);
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

    /// Several files, a gzip file, a directory and chunk boundaries inside the text: the
    /// cache file holds exactly the ids held in memory, and it is gone after the stream.
    #[test]
    fn cached_ids_equal_ids_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        // Longer than a chunk, with a line that does not end in a newline.
        let mut big = Vec::new();
        let mut rng = crate::sampling::Rng::new(4);
        while big.len() < crate::files::CHUNK_BYTES + 12345 {
            let w = rng.below(3000);
            big.extend_from_slice(format!("w{w}").as_bytes());
            big.push(if rng.below(17) == 0 { b'\n' } else { b' ' });
        }
        big.extend_from_slice(b"tail without newline");
        let a = write(&dir, "a.txt", &big);
        let gz = dir.path().join("b.txt.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(&big).unwrap();
        enc.finish().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("x.txt"), b"w1 w2 w3\nw4").unwrap();
        std::fs::write(sub.join("y.txt"), b"w5 w1").unwrap();
        for inputs in [vec![a.clone()], vec![gz.clone()], vec![a, gz, sub]] {
            let opts = LoadOptions {
                min_count: 2,
                ..LoadOptions::default()
            };
            let mem = load_with(&inputs, opts.clone()).unwrap();
            let cached = load_with(
                &inputs,
                LoadOptions {
                    cache_dir: Some(cache.path().to_path_buf()),
                    ..opts
                },
            )
            .unwrap();
            assert_eq!(mem.ids.cache_bytes(), 0);
            assert_eq!(cached.ids.cache_bytes(), cached.ids.len() as u64 * 4);
            assert_eq!(&mem.ids[..], &cached.ids[..], "{inputs:?}");
            assert_eq!(mem.vocab.words(), cached.vocab.words());
            assert_eq!(mem.tokens_read, cached.tokens_read);
            drop(cached);
            assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
        }
    }

    /// word2vec.c's pruning: with a table limit far below the number of distinct words,
    /// the table never holds more than limit + 1 words, every count is at most the truth
    /// and at least the truth minus the bound, and words spread over the whole corpus
    /// (counted above every pruning threshold) keep their exact counts.
    #[test]
    fn pruned_counting_is_bounded_and_exact_for_frequent_words() {
        let limit = 1000;
        let mut counter = WordCounter::new(limit);
        let mut exact: std::collections::HashMap<Vec<u8>, u64> = Default::default();
        let mut rng = crate::sampling::Rng::new(8);
        for i in 0..300_000u32 {
            let w = if i % 5 == 0 {
                format!("common{}", rng.below(20)).into_bytes()
            } else if i % 7 == 0 {
                // Medium words: repeated, but some get pruned between repeats.
                format!("medium{}", rng.below(5000)).into_bytes()
            } else {
                format!("junk{i}").into_bytes()
            };
            counter.add(&w);
            *exact.entry(w).or_default() += 1;
        }
        assert!(
            counter.prunes > 5,
            "the test must prune ({})",
            counter.prunes
        );
        assert!(counter.peak <= limit + 1, "peak {}", counter.peak);
        let bound = counter.max_undercount();
        let counted: std::collections::HashMap<String, u64> = counter.into_counts().collect();
        for (w, &truth) in &exact {
            let name = String::from_utf8(w.clone()).unwrap();
            let got = counted.get(&name).copied().unwrap_or(0);
            assert!(got <= truth, "{name}: {got} > {truth}");
            assert!(got + bound >= truth, "{name}: {got} + {bound} < {truth}");
            if name.starts_with("common") {
                assert_eq!(got, truth, "{name}");
            }
        }
        // Without pruning the counts are exact.
        let mut c = WordCounter::new(usize::MAX);
        for w in ["a", "b", "a"] {
            c.add(w.as_bytes());
        }
        assert_eq!(c.max_undercount(), 0);
        let m: std::collections::HashMap<_, _> = c.into_counts().collect();
        assert_eq!(m["a"], 2);
    }
}
