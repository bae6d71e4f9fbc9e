//! Minibatches for the adaptive optimizers: `--batch-size` centre words, each with its
//! (dynamic) window of context words and K noise words per example, in the form a sparse
//! step needs — the *unique* rows the step touches (slots) and the examples as slot indices.
//!
//! One example is one prediction: skip-gram trains the input row of each context word `c`
//! against the output rows of the centre `w` (label 1) and K noise words (label 0), drawn
//! per (c, w) pair as word2vec.c and d2l draw them; CBOW trains the mean of the context
//! input rows against the same outputs. The loss of a step is the sum over its examples of
//! `Σⱼ BCE(σ(h·uⱼ), yⱼ)`, and its gradient with respect to a row is the sum over every
//! occurrence of that row in the step — frequent words occur many times per minibatch, and
//! they get one optimizer update with the summed gradient, not one per occurrence. In CBOW
//! each context row receives `∂L/∂h / n` (the mean's derivative; word2vec's SGD adds the
//! whole `∂L/∂h` to each).
//!
//! The builder draws window shrinks and noise words on the host from an [`Rng`] the
//! caller passes; the training pipeline seeds one per minibatch from a sequential stream,
//! so a minibatch is fully determined by the seed and its position in the run (not by the
//! thread that builds it) and every engine trains on exactly the same examples.

use crate::config::ModelKind;
use crate::corpus::SENTENCE_END;
use crate::sampling::{AliasTable, Rng};
use crate::subword::SubwordTable;
use std::ops::Range;
use std::sync::Arc;

/// An output slot that contributes nothing (a noise word equal to the positive word,
/// which word2vec.c skips).
pub const SKIP: u32 = u32::MAX;

/// One optimizer step's work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Minibatch {
    /// Input-matrix row of each input slot, in first-use order.
    pub in_rows: Vec<u32>,
    /// Output-matrix row of each output slot.
    pub out_rows: Vec<u32>,
    /// Example `e`'s input slots are `inputs[offsets[e]..offsets[e + 1]]`.
    pub offsets: Vec<u32>,
    pub inputs: Vec<u32>,
    /// `negative + 1` output slots per example: the positive word, then the noise words
    /// ([`SKIP`] where a noise word equals the positive one).
    pub outputs: Vec<u32>,
    pub negative: usize,
    /// Where each slot occurs, in example order (built by [`MinibatchBuilder::finish`]):
    /// input slot `s` is used by the examples `in_occ[in_occ_offsets[s]..in_occ_offsets[s+1]]`,
    /// output slot `s` at the positions `out_occ[..]` of `outputs`. Summing a slot's
    /// gradient along this list gives the same floats whatever the thread count or
    /// device.
    pub in_occ_offsets: Vec<u32>,
    pub in_occ: Vec<u32>,
    pub out_occ_offsets: Vec<u32>,
    pub out_occ: Vec<u32>,
    /// Corpus words this minibatch accounts for (schedule and words/s).
    pub words: u64,
    /// Where the corpus reader's streams stand after this minibatch (checkpoints); the
    /// first also holds the minibatch's place in its batch.
    pub cursors: Vec<crate::batch::Cursor>,
}

impl Minibatch {
    pub fn examples(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn clear(&mut self) {
        self.in_rows.clear();
        self.out_rows.clear();
        self.offsets.clear();
        self.inputs.clear();
        self.outputs.clear();
        self.in_occ_offsets.clear();
        self.in_occ.clear();
        self.out_occ_offsets.clear();
        self.out_occ.clear();
        self.words = 0;
    }

    /// Input slots of example `e`.
    pub fn example_inputs(&self, e: usize) -> &[u32] {
        &self.inputs[self.offsets[e] as usize..self.offsets[e + 1] as usize]
    }

    /// Output slots of example `e` (positive first).
    pub fn example_outputs(&self, e: usize) -> &[u32] {
        let k = self.negative + 1;
        &self.outputs[e * k..(e + 1) * k]
    }
}

/// Builds minibatches, mapping rows to slots with two vocabulary-sized tables that are
/// reset after each minibatch (cost proportional to the rows used, not the vocabulary).
/// A clone builds the same minibatches (the pipeline's workers each have one); the subword
/// table is shared between clones.
#[derive(Clone)]
pub struct MinibatchBuilder {
    model: ModelKind,
    window: usize,
    negative: usize,
    slot_in: Vec<u32>,
    slot_out: Vec<u32>,
    ctx: Vec<u32>,
    /// Subword units: every word's input rows (its own, then `vocab + bucket` per n-gram).
    subwords: Option<Arc<SubwordTable>>,
}

impl MinibatchBuilder {
    pub fn new(model: ModelKind, window: usize, negative: usize, vocab: usize) -> Self {
        MinibatchBuilder {
            model,
            window,
            negative,
            slot_in: vec![SKIP; vocab],
            slot_out: vec![SKIP; vocab],
            ctx: Vec::with_capacity(2 * window),
            subwords: None,
        }
    }

    /// `n` synthetic minibatches of at least `centres` positions each (for the parity
    /// tests and `devices --check`): sentences of 1–40 ids drawn with Zipf frequencies
    /// (weight 1/(r+1)) from the first `live` ids of the vocabulary, noise words from the
    /// same weights, so ids from `live` on never occur and their rows stay untouched.
    pub fn zipf_minibatches(
        &mut self,
        live: usize,
        n: usize,
        centres: usize,
        seed: u64,
    ) -> Vec<Minibatch> {
        let vocab = self.slot_out.len();
        let weight = |r: usize| if r < live { 1.0 / (r + 1) as f64 } else { 0.0 };
        let zipf = AliasTable::new(&(0..live).map(weight).collect::<Vec<_>>());
        let noise = AliasTable::new(&(0..vocab).map(weight).collect::<Vec<_>>());
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let mut toks = Vec::new();
                while toks.len() < centres {
                    let len = 1 + rng.below(40) as usize;
                    for _ in 0..len {
                        toks.push(zipf.sample(rng.next_u32(), rng.next_u32()));
                    }
                    toks.push(SENTENCE_END);
                }
                let mut mb = Minibatch::default();
                self.add(&toks, 0..toks.len(), &mut rng, &noise, &mut mb);
                self.finish(&mut mb);
                mb
            })
            .collect()
    }

    /// fastText's examples (`--subwords`, `bucket` bucket rows after the vocabulary's):
    /// skip-gram trains the centre word's bag (its own row and its n-gram rows) against each
    /// context word in turn — fastText's orientation — and CBOW the bag of every context
    /// word's rows against the centre. `h` is the mean of the bag (a row twice in it counts
    /// twice), so each bag row receives `∂L/∂h / n` per occurrence.
    pub fn with_subwords(mut self, table: SubwordTable, bucket: usize) -> Self {
        self.slot_in = vec![SKIP; self.slot_out.len() + bucket];
        self.subwords = Some(Arc::new(table));
        self
    }

    /// Pushes the input slots of word `w`'s bag (its own row without subwords).
    fn push_bag(&mut self, w: u32, mb: &mut Minibatch) {
        match &self.subwords {
            Some(t) => {
                for &r in t.rows(w) {
                    let s = Self::slot(&mut self.slot_in, &mut mb.in_rows, r);
                    mb.inputs.push(s);
                }
            }
            None => {
                let s = Self::slot(&mut self.slot_in, &mut mb.in_rows, w);
                mb.inputs.push(s);
            }
        }
    }

    fn slot(table: &mut [u32], rows: &mut Vec<u32>, row: u32) -> u32 {
        let s = &mut table[row as usize];
        if *s == SKIP {
            *s = rows.len() as u32;
            rows.push(row);
        }
        *s
    }

    /// Appends the examples of the centre positions `centres` of `tokens` (kept ids with
    /// [`SENTENCE_END`] separators; context words may lie outside `centres`) to `mb`,
    /// which must have been cleared; call [`MinibatchBuilder::finish`] after the last one.
    pub fn add(
        &mut self,
        tokens: &[u32],
        centres: Range<usize>,
        rng: &mut Rng,
        alias: &AliasTable,
        mb: &mut Minibatch,
    ) {
        mb.negative = self.negative;
        if mb.offsets.is_empty() {
            mb.offsets.push(0);
        }
        let w = self.window;
        for pos in centres {
            let centre = tokens[pos];
            if centre == SENTENCE_END {
                continue;
            }
            // word2vec.c's shrink: b uniform in 0..window, effective window window − b.
            let eff = w - rng.below(w as u32) as usize;
            self.ctx.clear();
            let lo = pos.saturating_sub(eff);
            let hi = (pos + eff).min(tokens.len() - 1);
            let mut a = pos;
            while a > lo && tokens[a - 1] != SENTENCE_END {
                a -= 1;
            }
            let mut b = pos;
            while b < hi && tokens[b + 1] != SENTENCE_END {
                b += 1;
            }
            self.ctx
                .extend((a..=b).filter(|&c| c != pos).map(|c| tokens[c]));
            if self.ctx.is_empty() {
                continue;
            }
            match self.model {
                ModelKind::SkipGram if self.subwords.is_some() => {
                    for i in 0..self.ctx.len() {
                        self.push_bag(centre, mb);
                        mb.offsets.push(mb.inputs.len() as u32);
                        self.push_outputs(self.ctx[i], rng, alias, mb);
                    }
                }
                ModelKind::SkipGram => {
                    for i in 0..self.ctx.len() {
                        self.push_bag(self.ctx[i], mb);
                        mb.offsets.push(mb.inputs.len() as u32);
                        self.push_outputs(centre, rng, alias, mb);
                    }
                }
                ModelKind::Cbow => {
                    for i in 0..self.ctx.len() {
                        self.push_bag(self.ctx[i], mb);
                    }
                    mb.offsets.push(mb.inputs.len() as u32);
                    self.push_outputs(centre, rng, alias, mb);
                }
            }
        }
    }

    fn push_outputs(&mut self, centre: u32, rng: &mut Rng, alias: &AliasTable, mb: &mut Minibatch) {
        let s = Self::slot(&mut self.slot_out, &mut mb.out_rows, centre);
        mb.outputs.push(s);
        for _ in 0..self.negative {
            let n = alias.draw(rng);
            let s = if n == centre {
                SKIP
            } else {
                Self::slot(&mut self.slot_out, &mut mb.out_rows, n)
            };
            mb.outputs.push(s);
        }
    }

    /// Builds the occurrence lists and resets the slot tables for the next minibatch.
    pub fn finish(&mut self, mb: &mut Minibatch) {
        for &r in &mb.in_rows {
            self.slot_in[r as usize] = SKIP;
        }
        for &r in &mb.out_rows {
            self.slot_out[r as usize] = SKIP;
        }
        if mb.offsets.is_empty() {
            mb.offsets.push(0);
        }
        let examples = mb.examples() as u32;
        let (offsets, inputs) = (&mb.offsets, &mb.inputs);
        let in_entries = (0..examples).flat_map(|e| {
            inputs[offsets[e as usize] as usize..offsets[e as usize + 1] as usize]
                .iter()
                .map(move |&s| (s, e))
        });
        counting_sort(
            mb.in_rows.len(),
            in_entries,
            &mut mb.in_occ_offsets,
            &mut mb.in_occ,
        );
        let out_entries = mb
            .outputs
            .iter()
            .enumerate()
            .filter(|(_, &s)| s != SKIP)
            .map(|(i, &s)| (s, i as u32));
        counting_sort(
            mb.out_rows.len(),
            out_entries,
            &mut mb.out_occ_offsets,
            &mut mb.out_occ,
        );
    }

    /// Upper bounds for a minibatch of `batch_size` centre positions: (examples, input
    /// slot entries, input slots, output slots), for sizing device buffers.
    pub fn capacity(&self, batch_size: usize) -> (usize, usize, usize, usize) {
        let bag = self.subwords.as_ref().map_or(1, |t| t.max_bag());
        capacity(
            self.model,
            self.window,
            self.negative,
            batch_size,
            (self.slot_in.len(), self.slot_out.len()),
            bag,
        )
    }
}

/// [`MinibatchBuilder::capacity`] from the settings: `rows` are the input and output
/// matrices' rows (the input's include the subword buckets), `bag` the most input rows one
/// word brings (1 without subwords; [`SubwordTable::max_bag`] with them).
pub fn capacity(
    model: ModelKind,
    window: usize,
    negative: usize,
    batch_size: usize,
    (in_rows, out_rows): (usize, usize),
    bag: usize,
) -> (usize, usize, usize, usize) {
    let ctx = 2 * window;
    let examples = match model {
        ModelKind::SkipGram => batch_size * ctx,
        ModelKind::Cbow => batch_size,
    };
    let inputs = batch_size * ctx * bag;
    let in_slots = ((batch_size + ctx) * bag).min(in_rows);
    let out_slots = (batch_size + examples * negative).min(out_rows);
    (examples, inputs, in_slots, out_slots)
}

/// Groups `(slot, value)` entries by slot, keeping their order within a slot (CSR).
fn counting_sort(
    slots: usize,
    entries: impl Iterator<Item = (u32, u32)> + Clone,
    offsets: &mut Vec<u32>,
    values: &mut Vec<u32>,
) {
    offsets.clear();
    offsets.resize(slots + 1, 0);
    for (s, _) in entries.clone() {
        offsets[s as usize + 1] += 1;
    }
    for i in 0..slots {
        offsets[i + 1] += offsets[i];
    }
    values.clear();
    values.resize(offsets[slots] as usize, 0);
    let mut next: Vec<u32> = offsets[..slots].to_vec();
    for (s, v) in entries {
        values[next[s as usize] as usize] = v;
        next[s as usize] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const E: u32 = SENTENCE_END;

    #[test]
    fn slots_are_unique_and_examples_follow_the_window() {
        let alias = AliasTable::unigram(&[10, 10, 10, 10, 10, 10], 0.75);
        let mut b = MinibatchBuilder::new(ModelKind::SkipGram, 2, 3, 6);
        let toks = [0, 1, 0, 2, E, 3, 3];
        let mut mb = Minibatch::default();
        let mut rng = Rng::new(7);
        b.add(&toks, 0..toks.len(), &mut rng, &alias, &mut mb);
        b.finish(&mut mb);
        // Occurrence lists: every use of a slot, in example order.
        for s in 0..mb.in_rows.len() {
            let occ = &mb.in_occ[mb.in_occ_offsets[s] as usize..mb.in_occ_offsets[s + 1] as usize];
            assert!(occ.windows(2).all(|w| w[0] <= w[1]));
            let want = (0..mb.examples())
                .filter(|&e| mb.example_inputs(e).contains(&(s as u32)))
                .count();
            assert_eq!(occ.len(), want);
        }
        let uses: usize = mb.outputs.iter().filter(|&&o| o != SKIP).count();
        assert_eq!(mb.out_occ.len(), uses);
        for s in 0..mb.out_rows.len() {
            for &i in
                &mb.out_occ[mb.out_occ_offsets[s] as usize..mb.out_occ_offsets[s + 1] as usize]
            {
                assert_eq!(mb.outputs[i as usize], s as u32);
            }
        }
        // Unique rows.
        let mut r = mb.in_rows.clone();
        r.sort();
        r.dedup();
        assert_eq!(r.len(), mb.in_rows.len());
        assert!(mb.examples() > 0);
        for e in 0..mb.examples() {
            let ins = mb.example_inputs(e);
            assert_eq!(ins.len(), 1);
            let outs = mb.example_outputs(e);
            assert_eq!(outs.len(), 4);
            let pos_row = mb.out_rows[outs[0] as usize];
            for &o in &outs[1..] {
                assert!(o == SKIP || mb.out_rows[o as usize] != pos_row);
            }
            // Never across the sentence end: 2 and 3 are never paired.
            let in_row = mb.in_rows[ins[0] as usize];
            assert!(![(in_row, pos_row), (pos_row, in_row)].contains(&(3, 2)));
        }
        assert!(b.slot_in.iter().all(|&s| s == SKIP));
        let (ex, _, ins, outs) = b.capacity(7);
        assert!(mb.examples() <= ex && mb.in_rows.len() <= ins && mb.out_rows.len() <= outs);
    }

    /// With subwords, skip-gram examples are fastText's: the centre word's bag (its own row
    /// first, then its n-gram rows past the vocabulary) against one context word each; CBOW
    /// concatenates the context words' bags.
    #[test]
    fn subword_examples_are_bags() {
        use crate::subword::{SubwordParams, SubwordTable};
        let words: Vec<String> = ["ab", "bc", "cd", "de"].map(String::from).to_vec();
        let p = SubwordParams {
            minn: 2,
            maxn: 3,
            bucket: 50,
        };
        let table = SubwordTable::new(&words, &p);
        let alias = AliasTable::unigram(&[1, 1, 1, 1], 0.75);
        let toks = [0, 1, 2, 3];
        let mut mb = Minibatch::default();
        let mut b = MinibatchBuilder::new(ModelKind::SkipGram, 1, 2, 4)
            .with_subwords(table.clone(), p.bucket);
        let mut rng = Rng::new(3);
        b.add(&toks, 1..2, &mut rng, &alias, &mut mb);
        b.finish(&mut mb);
        assert!(mb.examples() >= 1);
        for e in 0..mb.examples() {
            let bag: Vec<u32> = mb
                .example_inputs(e)
                .iter()
                .map(|&s| mb.in_rows[s as usize])
                .collect();
            assert_eq!(bag, table.rows(1), "the centre's bag");
            let positive = mb.out_rows[mb.example_outputs(e)[0] as usize];
            assert!(positive == 0 || positive == 2, "a context word: {positive}");
        }
        // The device buffers' bounds hold bags: every word's rows, not one per word.
        let (ex, inputs, ins, outs) = b.capacity(1);
        assert_eq!(
            table.max_bag(),
            6,
            "own row, <a ab b> and <ab ab> of \"ab\""
        );
        assert!(mb.examples() <= ex && mb.inputs.len() <= inputs);
        assert!(mb.in_rows.len() <= ins && mb.out_rows.len() <= outs);
        assert!(inputs >= 2 * table.max_bag());
        let mut mb = Minibatch::default();
        let mut b =
            MinibatchBuilder::new(ModelKind::Cbow, 1, 2, 4).with_subwords(table.clone(), 50);
        b.add(&toks, 1..2, &mut Rng::new(3), &alias, &mut mb);
        b.finish(&mut mb);
        assert_eq!(mb.examples(), 1);
        let bag: Vec<u32> = mb
            .example_inputs(0)
            .iter()
            .map(|&s| mb.in_rows[s as usize])
            .collect();
        let want: Vec<u32> = [0u32, 2]
            .iter()
            .flat_map(|&w| table.rows(w).to_vec())
            .collect();
        assert!(
            bag == want || bag == table.rows(0) || bag == table.rows(2),
            "{bag:?}"
        );
        assert_eq!(mb.out_rows[mb.example_outputs(0)[0] as usize], 1);
        assert!(b.slot_in.iter().all(|&s| s == SKIP));
    }

    #[test]
    fn cbow_has_one_example_per_centre() {
        let alias = AliasTable::unigram(&[1, 1, 1, 1], 0.75);
        let mut b = MinibatchBuilder::new(ModelKind::Cbow, 3, 2, 4);
        let toks = [0, 1, 2, 3];
        let mut mb = Minibatch::default();
        b.add(&toks, 1..3, &mut Rng::new(1), &alias, &mut mb);
        assert_eq!(mb.examples(), 2);
        assert_eq!(mb.outputs.len(), 6);
        assert_eq!(mb.out_rows[mb.example_outputs(0)[0] as usize], 1);
    }
}
