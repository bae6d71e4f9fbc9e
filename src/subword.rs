//! fastText's character n-grams (`--subwords`): a word is `<word>`, every n-gram of `minn`
//! to `maxn` characters (UTF-8 aware: continuation bytes never start or split one) is hashed
//! with fastText's FNV-1a — each byte taken as a *signed* char, as fastText's C++ does — into
//! one of `bucket` rows. A word's input vector is the mean of its own row and its n-gram
//! rows, so any string, seen in training or not, has a vector.

/// fastText's `Dictionary::hash`: 32-bit FNV-1a over the bytes, each byte sign-extended
/// (`uint32_t(int8_t(c))`), so bytes ≥ 0x80 differ from a plain FNV-1a.
pub fn fasttext_hash(bytes: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in bytes {
        h ^= b as i8 as i32 as u32;
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// The subword settings of a run (fastText's `-minn`, `-maxn`, `-bucket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubwordParams {
    pub minn: usize,
    pub maxn: usize,
    pub bucket: usize,
}

/// fastText's end-of-sentence word, which never has n-grams (`Dictionary::initNgrams` and
/// `getSubwords` leave it out).
pub const EOS: &str = "</s>";

impl SubwordParams {
    /// Calls `f` with the bytes of every n-gram of `word`, in fastText's order
    /// (`Dictionary::computeSubwords`): by start character, then by length, over `<word>`.
    /// The one-character n-grams `<` and `>` alone are skipped, as fastText skips them, and
    /// so is every n-gram of `</s>`.
    fn for_each_ngram(&self, word: &str, mut f: impl FnMut(&[u8])) {
        if self.maxn == 0 || self.bucket == 0 || word == EOS {
            return;
        }
        let mut w = Vec::with_capacity(word.len() + 2);
        w.push(b'<');
        w.extend_from_slice(word.as_bytes());
        w.push(b'>');
        let cont = |b: u8| b & 0xC0 == 0x80;
        let mut ngram = Vec::with_capacity(w.len());
        for i in 0..w.len() {
            if cont(w[i]) {
                continue;
            }
            ngram.clear();
            let (mut j, mut n) = (i, 1);
            while j < w.len() && n <= self.maxn {
                ngram.push(w[j]);
                j += 1;
                while j < w.len() && cont(w[j]) {
                    ngram.push(w[j]);
                    j += 1;
                }
                if n >= self.minn && !(n == 1 && (i == 0 || j == w.len())) {
                    f(&ngram);
                }
                n += 1;
            }
        }
    }

    /// Appends the bucket (0..`bucket`) of every n-gram of `word` to `out`, in fastText's
    /// order (see `for_each_ngram`).
    pub fn ngram_buckets(&self, word: &str, out: &mut Vec<u32>) {
        self.for_each_ngram(word, |g| out.push(self.bucket_of(g)));
    }

    /// Every n-gram of `word` as text with its bucket, in fastText's order (what fastText's
    /// `print-ngrams` lists after a vocabulary word's own row).
    pub fn ngrams(&self, word: &str) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        self.for_each_ngram(word, |g| {
            // Whole characters of a `&str`: always UTF-8.
            out.push((String::from_utf8_lossy(g).into_owned(), self.bucket_of(g)));
        });
        out
    }

    fn bucket_of(&self, ngram: &[u8]) -> u32 {
        fasttext_hash(ngram) % self.bucket as u32
    }
}

/// Every vocabulary word's input rows: its own row, then `vocab + bucket` for each of its
/// n-grams (fastText's `subwords` of a dictionary entry), stored flat.
#[derive(Debug, Clone)]
pub struct SubwordTable {
    offsets: Vec<usize>,
    rows: Vec<u32>,
}

impl SubwordTable {
    pub fn new(words: &[String], p: &SubwordParams) -> SubwordTable {
        let mut offsets = Vec::with_capacity(words.len() + 1);
        let mut rows = Vec::new();
        let mut buf = Vec::new();
        offsets.push(0);
        let v = words.len() as u32;
        for (i, w) in words.iter().enumerate() {
            rows.push(i as u32);
            buf.clear();
            p.ngram_buckets(w, &mut buf);
            rows.extend(buf.iter().map(|&b| v + b));
            offsets.push(rows.len());
        }
        SubwordTable { offsets, rows }
    }

    /// A table of `words` words whose bags are their own rows alone (word-only training by
    /// the subword kernels: paragraph vectors on the GPU).
    pub fn words_only(words: usize) -> SubwordTable {
        SubwordTable {
            offsets: (0..=words).collect(),
            rows: (0..words as u32).collect(),
        }
    }

    /// Word `w`'s input rows (its own first).
    #[inline]
    pub fn rows(&self, w: u32) -> &[u32] {
        &self.rows[self.offsets[w as usize]..self.offsets[w as usize + 1]]
    }

    /// The most rows one word's bag holds (its own row and its n-gram rows).
    pub fn max_bag(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(1)
    }

    /// Words in the table.
    pub fn words(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The table as the GPU's subword kernel reads it: the `words + 1` offsets, then the
    /// rows (an offset is relative to where the rows start).
    pub fn flat(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.offsets.len() + self.rows.len());
        out.extend(self.offsets.iter().map(|&o| o as u32));
        out.extend_from_slice(&self.rows);
        out
    }
}

/// The vector of any string from a subword model's input rows (`vocab` word rows followed
/// by the bucket rows, `dim` wide): the mean of its own row (when `id` is given) and its
/// n-gram rows, as fastText's `getWordVector`; `None` when it has neither.
pub fn word_vector(
    input: &[f32],
    dim: usize,
    vocab: usize,
    p: &SubwordParams,
    id: Option<u32>,
    word: &str,
) -> Option<Vec<f32>> {
    let mut rows: Vec<usize> = id.map(|i| i as usize).into_iter().collect();
    let mut b = Vec::new();
    p.ngram_buckets(word, &mut b);
    rows.extend(b.iter().map(|&x| vocab + x as usize));
    if rows.is_empty() {
        return None;
    }
    let mut v = vec![0.0f32; dim];
    for r in &rows {
        for (a, x) in v.iter_mut().zip(&input[r * dim..(r + 1) * dim]) {
            *a += x;
        }
    }
    let inv = 1.0 / rows.len() as f32;
    v.iter_mut().for_each(|x| *x *= inv);
    Some(v)
}

/// Every vocabulary word's vector, row-major: the mean of its own row and its n-gram rows
/// ([`word_vector`] with the word's id), as fastText writes its `.vec`.
pub fn vocab_vectors(input: &[f32], dim: usize, words: &[String], p: &SubwordParams) -> Vec<f32> {
    let mut out = Vec::with_capacity(words.len() * dim);
    for (i, w) in words.iter().enumerate() {
        out.extend(
            word_vector(input, dim, words.len(), p, Some(i as u32), w)
                .expect("a vocabulary word has a row"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bucket ids computed by gensim 4.4's `ft_ngram_hashes(word, 3, 6, 2000000)`, which
    /// reproduces fastText's C++ hash (signed chars) and n-gram walk.
    #[test]
    fn buckets_equal_fasttext_on_ascii_and_non_ascii() {
        let p = SubwordParams {
            minn: 3,
            maxn: 6,
            bucket: 2_000_000,
        };
        let cases: [(&str, &[u32]); 5] = [
            (
                "king",
                &[
                    299675, 1736367, 824152, 785298, 1950837, 736598, 420536, 771707, 590751,
                    217300,
                ],
            ),
            ("où", &[1867388, 845926, 1745676]),
            (
                "naïve",
                &[
                    1806890, 1907692, 878190, 933201, 1590546, 1719404, 832043, 156687, 356832,
                    1223007, 1505331, 1711570, 1788548, 1088654,
                ],
            ),
            ("日本", &[758587, 1313759, 196157]),
            ("a", &[1087600]),
        ];
        for (w, want) in cases {
            let mut got = Vec::new();
            p.ngram_buckets(w, &mut got);
            assert_eq!(got, want, "{w}");
        }
        // The n-grams as text, with the same buckets, in the same order.
        let listed = p.ngrams("naïve");
        assert_eq!(listed.len(), 14);
        assert_eq!(listed[0].0, "<na");
        assert!(listed.iter().any(|(g, _)| g == "aïv"));
        let mut buckets = Vec::new();
        p.ngram_buckets("naïve", &mut buckets);
        assert_eq!(listed.iter().map(|&(_, b)| b).collect::<Vec<_>>(), buckets);
        // fastText gives its end-of-sentence word no n-grams.
        assert!(p.ngrams(EOS).is_empty());
        // gensim's ft_hash_bytes on the raw strings.
        assert_eq!(fasttext_hash("<kin".as_bytes()), 3129736367);
        assert_eq!(fasttext_hash("日本".as_bytes()), 4164387409);
    }

    #[test]
    fn table_and_vectors_follow_the_rows() {
        let p = SubwordParams {
            minn: 2,
            maxn: 3,
            bucket: 10,
        };
        let words = vec!["ab".to_string(), "b".to_string()];
        let t = SubwordTable::new(&words, &p);
        assert_eq!(t.rows(0)[0], 0);
        assert!(t.rows(0)[1..].iter().all(|&r| (2..12).contains(&r)));
        // "<ab>", 2..=3 characters: <a <ab ab ab> b> = 5 n-grams.
        assert_eq!(t.rows(0).len(), 1 + 5);
        let dim = 2;
        let input: Vec<f32> = (0..12 * dim).map(|i| i as f32).collect();
        let v = word_vector(&input, dim, 2, &p, Some(0), "ab").unwrap();
        let rows = t.rows(0);
        let mean0: f32 =
            rows.iter().map(|&r| input[r as usize * dim]).sum::<f32>() / rows.len() as f32;
        assert!((v[0] - mean0).abs() < 1e-6);
        // An unseen word has a vector from its n-grams alone.
        assert!(word_vector(&input, dim, 2, &p, None, "zzz").is_some());
        let none = SubwordParams {
            minn: 0,
            maxn: 0,
            bucket: 10,
        };
        assert!(word_vector(&input, dim, 2, &none, None, "zzz").is_none());
    }
}
