//! The batcher: turns the id stream into batches of kept (subsampled) word ids, cut into
//! sentence chunks of at most [`MAX_SENTENCE`] words, exactly as word2vec.c reads them.

use crate::corpus::SENTENCE_END;
use crate::sampling::{Rng, Subsampler};
use std::ops::Range;

/// Where one corpus reader stands: enough to regenerate exactly the batches that follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Next id-stream position, epoch and subsampling RNG state of the batcher, and its
    /// batch counter.
    pub pos: u64,
    pub epoch: u64,
    pub rng: u64,
    pub step: u64,
    /// Minibatch engine: minibatches of the current batch already trained, and the
    /// builder's RNG state after them.
    pub group: u64,
    pub builder_rng: u64,
}

/// word2vec.c's `MAX_SENTENCE_LENGTH`: a sentence is cut after this many kept words.
pub const MAX_SENTENCE: usize = 1000;

/// One step's work: kept word ids, each sentence chunk followed by [`SENTENCE_END`].
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub tokens: Vec<u32>,
    /// In-vocabulary corpus words read to make this batch (kept or not), for the
    /// learning-rate schedule and words/s.
    pub words: u64,
    /// Batch number within its batcher, the counter of the GPU's random numbers.
    pub step: u64,
    /// Paragraph vectors only (empty otherwise): for every token, the input row of its
    /// document's vector (the vocabulary size plus the document's index).
    pub docs: Vec<u32>,
}

impl Batch {
    /// The sentence chunks of the batch.
    pub fn chunks(&self) -> impl Iterator<Item = &[u32]> {
        self.chunks_at().map(|(_, c)| c)
    }

    /// The chunks with the position of each one's first token in `tokens`.
    pub fn chunks_at(&self) -> impl Iterator<Item = (usize, &[u32])> {
        self.tokens
            .split(|&t| t == SENTENCE_END)
            .scan(0, |next, c| {
                let at = *next;
                *next += c.len() + 1;
                Some((at, c))
            })
            .filter(|(_, c)| !c.is_empty())
    }

    /// Number of centre positions (kept words).
    pub fn positions(&self) -> usize {
        self.tokens.iter().filter(|&&t| t != SENTENCE_END).count()
    }

    /// A synthetic batch of at least `positions` words: ids `0..vocab` drawn with Zipf
    /// frequencies (id r with weight 1/(r+1)) in sentences of 1–60 words, each followed by
    /// [`SENTENCE_END`]; the same for the same `seed`. The frequent ids' rows are updated
    /// by many windows at once, as in a real corpus (the GPU checks and parity tests).
    pub fn zipf(vocab: usize, positions: usize, seed: u64) -> Batch {
        let weights: Vec<f64> = (1..=vocab).map(|r| 1.0 / r as f64).collect();
        let zipf = crate::sampling::AliasTable::new(&weights);
        let mut rng = Rng::new(seed);
        let mut tokens = Vec::new();
        let mut n = 0;
        while n < positions {
            let len = 1 + rng.below(60) as usize;
            for _ in 0..len {
                tokens.push(zipf.sample(rng.next_u32(), rng.next_u32()));
            }
            tokens.push(SENTENCE_END);
            n += len;
        }
        Batch {
            tokens,
            words: n as u64,
            step: 0,
            docs: Vec::new(),
        }
    }
}

/// Reads `epochs` passes over a range of the id stream and yields batches of about
/// `capacity` kept words (a batch always ends at a chunk boundary).
pub struct Batcher<'a> {
    ids: &'a [u32],
    range: Range<usize>,
    pos: usize,
    epoch: usize,
    epochs: usize,
    subsampler: &'a Subsampler,
    sample: bool,
    rng: Rng,
    /// The seed of `rng` (the parts of [`Streams`] derive theirs from it).
    seed: u64,
    capacity: usize,
    step: u64,
}

impl<'a> Batcher<'a> {
    pub fn new(
        ids: &'a [u32],
        range: Range<usize>,
        epochs: usize,
        subsampler: &'a Subsampler,
        sample: bool,
        seed: u64,
        capacity: usize,
    ) -> Batcher<'a> {
        Batcher {
            ids,
            pos: range.start,
            range,
            epoch: 0,
            epochs,
            subsampler,
            sample,
            rng: Rng::new(seed),
            seed,
            capacity: capacity.max(1),
            step: 0,
        }
    }

    /// Where the batcher stands (the next batch it will produce), for checkpoints.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            pos: self.pos as u64,
            epoch: self.epoch as u64,
            rng: self.rng.state(),
            step: self.step,
            ..Cursor::default()
        }
    }

    /// Continues from a [`Batcher::cursor`] taken on a batcher over the same ids, range,
    /// epochs and subsampling.
    pub fn restore(&mut self, c: &Cursor) {
        self.pos = (c.pos as usize).clamp(self.range.start, self.range.end);
        self.epoch = c.epoch as usize;
        self.rng = Rng::from_state(c.rng);
        self.step = c.step;
    }

    /// Fills `batch` with the next batch; returns false when all epochs are done.
    pub fn next_batch(&mut self, batch: &mut Batch) -> bool {
        batch.tokens.clear();
        batch.words = 0;
        if self.epoch >= self.epochs {
            return false;
        }
        let mut chunk_len = 0usize;
        loop {
            if self.pos >= self.range.end {
                if chunk_len > 0 {
                    batch.tokens.push(SENTENCE_END);
                    chunk_len = 0;
                }
                self.epoch += 1;
                self.pos = self.range.start;
                if self.epoch >= self.epochs || batch.tokens.len() >= self.capacity {
                    break;
                }
                continue;
            }
            let id = self.ids[self.pos];
            self.pos += 1;
            if id == SENTENCE_END {
                if chunk_len > 0 {
                    batch.tokens.push(SENTENCE_END);
                    chunk_len = 0;
                    if batch.tokens.len() >= self.capacity {
                        break;
                    }
                }
                continue;
            }
            batch.words += 1;
            if self.sample && !self.subsampler.keep(id, self.rng.next_u32()) {
                continue;
            }
            batch.tokens.push(id);
            chunk_len += 1;
            if chunk_len == MAX_SENTENCE {
                batch.tokens.push(SENTENCE_END);
                chunk_len = 0;
                if batch.tokens.len() >= self.capacity {
                    break;
                }
            }
        }
        batch.step = self.step;
        self.step += 1;
        batch.words > 0 || !batch.tokens.is_empty()
    }
}

/// The id stream read as `streams` contiguous parts side by side, as word2vec.c's threads
/// read theirs: every batch holds the next sentence chunks of each part in turn (about
/// `capacity / streams` kept words of each), so a step trains on every region of the corpus
/// at once instead of one region at a time. One stream is the plain [`Batcher`]'s order,
/// batch for batch. Each part has its own subsampling random numbers and its own
/// [`Cursor`]; a part that ends first leaves the others to fill the batches that follow.
pub struct Streams<'a> {
    parts: Vec<Batcher<'a>>,
    scratch: Batch,
    step: u64,
}

impl<'a> Streams<'a> {
    /// `b`'s range and epochs read as `streams` parts, batches of about `b`'s capacity.
    pub fn new(b: Batcher<'a>, streams: usize) -> Streams<'a> {
        let streams = streams.max(1);
        let per_part = b.capacity.div_ceil(streams);
        let parts = split_ranges(b.range.len(), streams)
            .into_iter()
            .enumerate()
            .map(|(s, r)| {
                let r = b.range.start + r.start..b.range.start + r.end;
                let seed = stream_seed(b.seed, s);
                Batcher::new(b.ids, r, b.epochs, b.subsampler, b.sample, seed, per_part)
            })
            .collect();
        Streams {
            parts,
            scratch: Batch::default(),
            step: 0,
        }
    }

    /// Where every part stands (the next batch they will produce), one cursor per part;
    /// each carries the batch counter.
    pub fn cursors(&self) -> Vec<Cursor> {
        self.parts
            .iter()
            .map(|b| Cursor {
                step: self.step,
                ..b.cursor()
            })
            .collect()
    }

    /// Continues from [`Streams::cursors`] taken on streams over the same ids, range,
    /// epochs, subsampling and stream count.
    pub fn restore(&mut self, cursors: &[Cursor]) {
        for (b, c) in self.parts.iter_mut().zip(cursors) {
            b.restore(c);
        }
        self.step = cursors.first().map_or(0, |c| c.step);
    }

    /// Fills `batch` with the next chunks of every part; returns false when every part has
    /// done all its epochs.
    pub fn next_batch(&mut self, batch: &mut Batch) -> bool {
        batch.tokens.clear();
        batch.words = 0;
        let mut any = false;
        for b in &mut self.parts {
            if b.next_batch(&mut self.scratch) {
                batch.tokens.extend_from_slice(&self.scratch.tokens);
                batch.words += self.scratch.words;
                any = true;
            }
        }
        batch.step = self.step;
        if any {
            self.step += 1;
        }
        any
    }
}

/// The subsampling seed of part `s` (part 0: `seed` itself, so one stream is the plain
/// batcher's).
fn stream_seed(seed: u64, s: usize) -> u64 {
    seed ^ (s as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The most tokens a batch of [`Streams`] with `capacity` and `streams` holds: each part
/// ends its share at the first chunk end past it, so it may pass it by one chunk.
pub fn max_batch_tokens(capacity: usize, streams: usize) -> usize {
    let streams = streams.max(1);
    capacity.div_ceil(streams) * streams + streams * (MAX_SENTENCE + 1)
}

/// Splits `0..len` into `parts` nearly equal ranges (as word2vec.c splits the file).
pub fn split_ranges(len: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    (0..parts)
        .map(|p| (len * p / parts)..(len * (p + 1) / parts))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    const E: u32 = SENTENCE_END;

    #[test]
    fn chunks_sentences_and_counts_words() {
        let ids = vec![0, 1, 2, E, 3, 4, E];
        let s = Subsampler::new(&[1, 1, 1, 1, 1], 0.0);
        let mut b = Batcher::new(&ids, 0..ids.len(), 2, &s, false, 1, 4);
        let mut batch = Batch::default();
        let mut all = Vec::new();
        let mut words = 0;
        while b.next_batch(&mut batch) {
            words += batch.words;
            all.extend_from_slice(&batch.tokens);
            assert!(batch.tokens.last() == Some(&E));
        }
        assert_eq!(words, 10);
        assert_eq!(all, vec![0, 1, 2, E, 3, 4, E, 0, 1, 2, E, 3, 4, E]);
    }

    #[test]
    fn chunks_know_where_they_start() {
        let batch = Batch {
            tokens: vec![E, 5, 6, E, E, 7, E, 8],
            words: 0,
            step: 0,
            docs: Vec::new(),
        };
        let got: Vec<(usize, &[u32])> = batch.chunks_at().collect();
        assert_eq!(got, vec![(1, &[5, 6][..]), (5, &[7][..]), (7, &[8][..])]);
        assert_eq!(
            batch.chunks().collect::<Vec<_>>(),
            vec![&[5, 6][..], &[7], &[8]]
        );
    }

    #[test]
    fn long_sentences_are_cut_at_1000_words() {
        let ids: Vec<u32> = (0..2500).map(|i| i % 3).collect();
        let s = Subsampler::new(&[1, 1, 1], 0.0);
        let mut b = Batcher::new(&ids, 0..ids.len(), 1, &s, false, 1, 1 << 20);
        let mut batch = Batch::default();
        assert!(b.next_batch(&mut batch));
        let lens: Vec<usize> = batch.chunks().map(|c| c.len()).collect();
        assert_eq!(lens, vec![1000, 1000, 500]);
        assert!(!b.next_batch(&mut batch));
    }

    /// One stream is the plain batcher, batch for batch (same tokens, words and
    /// subsampling draws), so `--streams 1` trains exactly as before.
    #[test]
    fn one_stream_is_the_plain_batcher() {
        let ids: Vec<u32> = (0..5000u32)
            .map(|i| if i % 97 == 96 { E } else { i % 7 })
            .collect();
        let s = Subsampler::new(&[900, 50, 30, 10, 5, 3, 2], 1e-2);
        let mut plain = Batcher::new(&ids, 0..ids.len(), 2, &s, true, 9, 700);
        let mut streams = Streams::new(Batcher::new(&ids, 0..ids.len(), 2, &s, true, 9, 700), 1);
        let (mut a, mut b) = (Batch::default(), Batch::default());
        loop {
            let (more_a, more_b) = (plain.next_batch(&mut a), streams.next_batch(&mut b));
            assert_eq!(more_a, more_b);
            if !more_a {
                break;
            }
            assert_eq!((&a.tokens, a.words, a.step), (&b.tokens, b.words, b.step));
            assert_eq!(vec![plain.cursor()], streams.cursors());
        }
    }

    /// S streams read S contiguous parts side by side: every word of every epoch exactly
    /// once, each part in its own order, every batch holding the next chunks of every
    /// part that has any left, never more tokens than `max_batch_tokens`; and a restore
    /// from any batch's cursors gives the batches that followed it.
    #[test]
    fn streams_interleave_the_parts_and_resume() {
        let ids: Vec<u32> = (0..10_000u32)
            .map(|i| if i % 50 == 49 { E } else { i % 1000 })
            .collect();
        let s = Subsampler::new(&[1; 1000], 0.0);
        let (parts, epochs, cap) = (4, 2, 600);
        let run = |start: Option<&[Cursor]>| {
            let b = Batcher::new(&ids, 0..ids.len(), epochs, &s, false, 3, cap);
            let mut st = Streams::new(b, parts);
            if let Some(c) = start {
                st.restore(c);
            }
            let mut out = Vec::new();
            let mut b = Batch::default();
            while st.next_batch(&mut b) {
                out.push((b.tokens.clone(), b.words, b.step, st.cursors()));
            }
            out
        };
        let all = run(None);
        let words: u64 = all.iter().map(|b| b.1).sum();
        assert_eq!(words, 2 * (10_000 - 200), "every word of both epochs once");
        let ranges = split_ranges(ids.len(), parts);
        for (k, b) in all.iter().enumerate() {
            assert!(b.0.len() <= max_batch_tokens(cap, parts), "batch {k}");
            assert_eq!(b.2, k as u64);
            assert_eq!(b.3.len(), parts);
        }
        // In the first batch, part p's chunk starts where part p's range starts.
        let firsts: Vec<u32> = std::iter::once(all[0].0[0])
            .chain(
                all[0]
                    .0
                    .windows(2)
                    .filter(|w| w[0] == E)
                    .map(|w| w[1])
                    .filter(|&t| t != E),
            )
            .collect();
        for r in &ranges {
            assert!(firsts.contains(&ids[r.start]), "part at {}", r.start);
        }
        for k in [1, all.len() / 2, all.len() - 1] {
            let again = run(Some(&all[k - 1].3));
            assert_eq!(again, all[k..].to_vec(), "restore after batch {k}");
        }
    }

    #[test]
    fn split_ranges_cover_everything() {
        let r = split_ranges(10, 3);
        assert_eq!(r, vec![0..3, 3..6, 6..10]);
    }
}
