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
}

impl Batch {
    /// The sentence chunks of the batch.
    pub fn chunks(&self) -> impl Iterator<Item = &[u32]> {
        self.tokens
            .split(|&t| t == SENTENCE_END)
            .filter(|c| !c.is_empty())
    }

    /// Number of centre positions (kept words).
    pub fn positions(&self) -> usize {
        self.tokens.iter().filter(|&&t| t != SENTENCE_END).count()
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

    #[test]
    fn split_ranges_cover_everything() {
        let r = split_ranges(10, 3);
        assert_eq!(r, vec![0..3, 3..6, 6..10]);
    }
}
