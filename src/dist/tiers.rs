//! When rows are synchronised: pWord2Vec's frequency tiers, counted in words per rank.
//!
//! The vocabulary is sorted by frequency, so the rows updated most are a prefix. Sync
//! number `p` (1, 2, 3, …, one every `period_words` words a rank trains) averages the first
//! `base_rows · 2^tz(p)` rows of both word matrices, where `tz(p)` is the number of
//! trailing zero bits of `p`: the top rows every period, twice as many every second
//! period, four times as many every fourth, and so on. Every `full_every`-th sync, and
//! whenever the prefix would cover the whole vocabulary, is a full sync: every row some
//! rank changed since it was last synchronised.

/// What one sync covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The first `n` rows of the input and output matrices (a dense exchange, no index).
    Prefix(usize),
    /// Every row of every matrix that some rank changed since its last sync.
    Full,
}

/// The tier schedule (`--sync-words`, `--sync-rows`, `--full-sync-every`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Words a rank trains between two syncs.
    pub period_words: u64,
    /// Rows of the smallest prefix.
    pub base_rows: usize,
    /// Every this many syncs is full (0: only when the prefix covers everything and at
    /// epoch ends, checkpoints and the end of training).
    pub full_every: u64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            period_words: 65_536,
            base_rows: 1024,
            full_every: 64,
        }
    }
}

impl Schedule {
    /// The scope of sync number `p` (counted from 1) over a vocabulary of `rows` words.
    pub fn scope(&self, p: u64, rows: usize) -> Scope {
        assert!(p > 0, "syncs are counted from 1");
        if self.full_every > 0 && p.is_multiple_of(self.full_every) {
            return Scope::Full;
        }
        let tier = p.trailing_zeros().min(usize::BITS - 1);
        match self.base_rows.checked_mul(1usize << tier) {
            Some(n) if n < rows => Scope::Prefix(n),
            _ => Scope::Full,
        }
    }

    /// Rows of the input and output matrices one rank sends in the first `syncs` syncs when
    /// every full sync sends all `rows` (an upper bound used by the traffic model).
    pub fn rows_sent(&self, syncs: u64, rows: usize) -> u64 {
        (1..=syncs)
            .map(|p| match self.scope(p, rows) {
                Scope::Prefix(n) => n as u64,
                Scope::Full => rows as u64,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_doubles_with_the_trailing_zeros_of_the_sync_number() {
        let s = Schedule {
            period_words: 1000,
            base_rows: 100,
            full_every: 0,
        };
        let got: Vec<Scope> = (1..=8).map(|p| s.scope(p, 1_000_000)).collect();
        use Scope::Prefix as P;
        assert_eq!(
            got,
            [
                P(100),
                P(200),
                P(100),
                P(400),
                P(100),
                P(200),
                P(100),
                P(800)
            ]
        );
        // Closed form: sync p covers base · 2^v2(p) rows, v2 the 2-adic valuation.
        for p in 1..=4096u64 {
            let v2 = (0..).find(|&k| (p >> k) & 1 == 1).unwrap();
            assert_eq!(s.scope(p, usize::MAX), P(100usize << v2), "p = {p}");
        }
    }

    #[test]
    fn full_every_m_syncs_and_when_the_prefix_covers_the_vocabulary() {
        let s = Schedule {
            period_words: 1000,
            base_rows: 100,
            full_every: 6,
        };
        assert_eq!(s.scope(6, 1_000_000), Scope::Full);
        assert_eq!(s.scope(12, 1_000_000), Scope::Full);
        assert_eq!(s.scope(4, 1_000_000), Scope::Prefix(400));
        // 100 · 2^3 = 800 ≥ 500 rows: the whole vocabulary, so a full sync.
        assert_eq!(s.scope(8, 500), Scope::Full);
        assert_eq!(s.scope(4, 500), Scope::Prefix(400));
        // Huge tiers do not overflow.
        let big = Schedule {
            base_rows: usize::MAX / 2,
            ..s
        };
        assert_eq!(big.scope(1 << 40, 10), Scope::Full);
    }

    #[test]
    fn rows_sent_has_the_closed_form_of_the_tiers() {
        // Without full syncs and with an unbounded vocabulary, the first 2^k syncs send
        // base · (k/2 + 1) · 2^k rows: 2^(k−1−j) syncs have tier j < k, each base · 2^j,
        // plus the last sync at tier k.
        let s = Schedule {
            period_words: 1,
            base_rows: 3,
            full_every: 0,
        };
        for k in 0..12u64 {
            let n = 1u64 << k;
            let closed = 3 * (k * n / 2 + n);
            assert_eq!(s.rows_sent(n, usize::MAX), closed, "k = {k}");
        }
    }
}
