//! Randomness and sampling: the host RNG, the counter-based hash shared with the shaders,
//! subsampling keep-probabilities, the unigram^0.75 alias table and the learning-rate
//! schedule.

/// A small, fast, seedable generator (wyrand). Each CPU thread owns one.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Avoid the weak all-zero-ish states by mixing the seed once.
        Rng(splitmix64(seed ^ 0x9e37_79b9_7f4a_7c15))
    }

    /// The raw state, for checkpoints.
    pub fn state(&self) -> u64 {
        self.0
    }

    /// A generator continuing from a [`Rng::state`].
    pub fn from_state(state: u64) -> Rng {
        Rng(state)
    }

    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.0 as u128).wrapping_mul((self.0 ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    }

    #[inline(always)]
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; bias below 2^-32 · n).
    #[inline(always)]
    pub fn below(&mut self, n: u32) -> u32 {
        mulhi(self.next_u32(), n)
    }

    /// Uniform in `[0, 1)`.
    #[inline(always)]
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Zipf-like in `0..n`, about 1/(r + 1) (`(n + 1)^u − 1` for a uniform u; the test
    /// batches of the classifier and dm_concat kernels draw their hot rows so).
    pub fn zipf_below(&mut self, n: u32) -> u32 {
        let u = self.next_f32();
        (((n as f32 + 1.0).powf(u) - 1.0) as u32).min(n - 1)
    }
}

pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// High 32 bits of a 32×32-bit product: maps a uniform u32 to `0..n`. The shaders compute
/// the same value from 16-bit halves (WGSL has no u64).
#[inline(always)]
pub fn mulhi(a: u32, b: u32) -> u32 {
    ((a as u64 * b as u64) >> 32) as u32
}

/// PCG-RXS-M-XS 32-bit hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020).
/// The GPU kernels draw every random number as a hash of (seed, step, position, lane), so
/// nothing random is uploaded; the CPU reference calls the same function.
#[inline(always)]
pub fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The per-step key of the counter-based RNG: mixes the run seed and the step number.
pub fn step_key(seed: u64, step: u64) -> u32 {
    pcg_hash(
        (seed as u32)
            ^ pcg_hash((step as u32) ^ pcg_hash((seed >> 32) as u32 ^ (step >> 32) as u32)),
    )
}

/// Random u32 number `lane` for centre position `pos` of a step with key `key`. Identical
/// to `rand_at` in `shaders/common.wgsl`.
#[inline(always)]
pub fn rand_at(key: u32, pos: u32, lane: u32) -> u32 {
    pcg_hash(key ^ pcg_hash(pos.wrapping_mul(64).wrapping_add(lane)))
}

/// The key of the noise words of context `i` of a window in the subword kernel (skip-gram
/// draws noise words for every context, more than one position's 64 lanes hold). Identical
/// to `context_key` in `shaders/subword.wgsl`.
#[inline(always)]
pub fn context_key(key: u32, i: u32) -> u32 {
    pcg_hash(key ^ 0x9e37_79b9u32.wrapping_mul(i + 1))
}

/// Subsampling of frequent words with word2vec.c's rule: a word of count `c` among
/// `total` training words is kept with probability
/// `min(1, (sqrt(c / (s·total)) + 1) · (s·total) / c)`, where `s` is `--sample`.
///
/// Stored as u32 thresholds: a word is kept when a uniform u32 is below its threshold;
/// `u32::MAX` means "always keep".
#[derive(Debug, Clone)]
pub struct Subsampler {
    thresholds: Vec<u32>,
}

impl Subsampler {
    pub fn new(counts: &[u64], sample: f64) -> Subsampler {
        let total: u64 = counts.iter().sum();
        let thresholds = counts
            .iter()
            .map(|&c| {
                let p = keep_probability(c, total, sample);
                if p >= 1.0 {
                    u32::MAX
                } else {
                    (p * 4_294_967_296.0) as u32
                }
            })
            .collect();
        Subsampler { thresholds }
    }

    #[inline(always)]
    pub fn keep(&self, word: u32, r: u32) -> bool {
        let t = self.thresholds[word as usize];
        t == u32::MAX || r < t
    }

    pub fn thresholds(&self) -> &[u32] {
        &self.thresholds
    }
}

/// word2vec.c's keep probability (clamped to 1); `sample == 0` disables subsampling.
pub fn keep_probability(count: u64, total: u64, sample: f64) -> f64 {
    if sample <= 0.0 || count == 0 {
        return 1.0;
    }
    let st = sample * total as f64;
    let c = count as f64;
    (((c / st).sqrt() + 1.0) * st / c).min(1.0)
}

/// Walker/Vose alias table for the noise distribution P(w) ∝ count(w)^0.75.
///
/// Sampling takes two u32 randoms: `i = mulhi(r1, n)`, then `i` if `r2 < prob[i]` else
/// `alias[i]`, O(1) and branch-light, with the table as `n` (prob, alias) u32 pairs so that
/// the shaders read exactly the same data. word2vec.c uses a 10^8-entry lookup table,
/// which costs 400 MB and quantises rare words' probabilities.
#[derive(Debug, Clone)]
pub struct AliasTable {
    /// Interleaved (threshold, alias) pairs.
    entries: Vec<[u32; 2]>,
}

impl AliasTable {
    pub fn unigram(counts: &[u64], power: f64) -> AliasTable {
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        AliasTable::new(&weights)
    }

    /// Vose's algorithm; `weights` need not be normalised but must not all be zero.
    pub fn new(weights: &[f64]) -> AliasTable {
        let n = weights.len();
        assert!(
            n > 0 && n <= u32::MAX as usize,
            "alias table needs 1..2^32 weights"
        );
        let sum: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / sum).collect();
        let mut small = Vec::new();
        let mut large = Vec::new();
        for (i, &p) in scaled.iter().enumerate() {
            if p < 1.0 {
                small.push(i);
            } else {
                large.push(i);
            }
        }
        let mut prob = vec![1.0f64; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            prob[s] = scaled[s];
            alias[s] = l as u32;
            scaled[l] = scaled[l] + scaled[s] - 1.0;
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers (rounding) keep probability 1 and alias themselves.
        let entries = prob
            .iter()
            .zip(&alias)
            .map(|(&p, &a)| {
                let t = if p >= 1.0 {
                    u32::MAX
                } else {
                    (p * 4_294_967_296.0) as u32
                };
                [t, a]
            })
            .collect();
        AliasTable { entries }
    }

    #[inline(always)]
    pub fn sample(&self, r1: u32, r2: u32) -> u32 {
        let i = mulhi(r1, self.entries.len() as u32) as usize;
        let [t, a] = self.entries[i];
        if t == u32::MAX || r2 < t {
            i as u32
        } else {
            a
        }
    }

    /// One draw using one 64-bit random number from `rng` (its low and high halves as the
    /// two u32s of [`AliasTable::sample`]).
    #[inline(always)]
    pub fn draw(&self, rng: &mut Rng) -> u32 {
        let r = rng.next_u64();
        self.sample(r as u32, (r >> 32) as u32)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The table as flat u32 words, as uploaded to the GPU.
    pub fn as_words(&self) -> &[u32] {
        bytemuck::cast_slice(&self.entries)
    }
}

/// gensim's schedule: linear from `start` to `end` as `done` goes from 0 to `total` words
/// (`end` after that).
#[inline]
pub fn linear_rate(start: f32, end: f32, done: u64, total: u64) -> f32 {
    let p = (done as f64 / total.max(1) as f64).min(1.0);
    (start as f64 - (start as f64 - end as f64) * p) as f32
}

/// word2vec.c's linear decay: `alpha · (1 − done / (total + 1))`, never below `alpha·1e-4`.
#[inline]
pub fn learning_rate(start: f32, done_words: u64, total_words: u64) -> f32 {
    let frac = 1.0 - done_words as f64 / (total_words as f64 + 1.0);
    (start as f64 * frac).max(start as f64 * 1e-4) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_frequencies_match_unigram_075() {
        let counts: Vec<u64> = (1..=50u64).map(|r| 100_000 / r).collect();
        let t = AliasTable::unigram(&counts, 0.75);
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let z: f64 = w.iter().sum();
        let mut rng = Rng::new(7);
        let n = 2_000_000;
        let mut hist = vec![0u64; counts.len()];
        for _ in 0..n {
            hist[t.sample(rng.next_u32(), rng.next_u32()) as usize] += 1;
        }
        for (i, &h) in hist.iter().enumerate() {
            let p = w[i] / z;
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            let diff = (h as f64 - n as f64 * p).abs();
            assert!(
                diff < 5.0 * sd + 1.0,
                "word {i}: got {h}, expected {:.0} ± {:.0}",
                n as f64 * p,
                sd
            );
        }
    }

    #[test]
    fn alias_handles_degenerate_weights() {
        let t = AliasTable::new(&[0.0, 1.0, 0.0]);
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            assert_eq!(t.sample(rng.next_u32(), rng.next_u32()), 1);
        }
        let one = AliasTable::new(&[3.0]);
        assert_eq!(one.sample(u32::MAX, u32::MAX), 0);
    }

    #[test]
    fn subsampling_rates_match_word2vec_formula() {
        // total 1e6; sample 1e-3 → s·T = 1000. A word with count 100k is kept with
        // (sqrt(100) + 1) · 1000/100000 = 0.11; one with count 1000 with (1+1)·1 → 1 (clamped).
        let counts = vec![100_000u64, 1_000, 899_000];
        assert!((keep_probability(100_000, 1_000_000, 1e-3) - 0.11).abs() < 1e-12);
        assert_eq!(keep_probability(1_000, 1_000_000, 1e-3), 1.0);
        assert_eq!(keep_probability(5, 1_000_000, 0.0), 1.0);
        let s = Subsampler::new(&counts, 1e-3);
        let mut rng = Rng::new(3);
        let n = 400_000;
        let kept = (0..n).filter(|_| s.keep(0, rng.next_u32())).count() as f64 / n as f64;
        assert!((kept - 0.11).abs() < 0.003, "kept {kept}");
        assert!((0..1000).all(|_| s.keep(1, rng.next_u32())));
    }

    #[test]
    fn learning_rate_decays_linearly_with_floor() {
        assert_eq!(learning_rate(0.025, 0, 1000), 0.025 * (1.0 - 0.0));
        let mid = learning_rate(0.025, 500, 999);
        assert!((mid - 0.0125).abs() < 1e-7);
        assert!((learning_rate(0.025, 2000, 1000) - 0.025e-4).abs() < 1e-12);
    }

    #[test]
    fn mulhi_and_hash_are_stable() {
        assert_eq!(mulhi(u32::MAX, 10), 9);
        assert_eq!(mulhi(0, 10), 0);
        // Pinned values: the WGSL copy in shaders/common.wgsl must produce the same.
        assert_eq!(pcg_hash(0), 129_708_002);
        let a = rand_at(step_key(1, 0), 0, 0);
        let b = rand_at(step_key(1, 0), 0, 1);
        assert_ne!(a, b);
    }
}
