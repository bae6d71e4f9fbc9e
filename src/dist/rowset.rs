//! A rank's set of touched rows on the wire: a list of `u32` row indices or a bitmap,
//! whichever is smaller. `k` indices take `4k` bytes, a bitmap of `rows` rows `⌈rows/8⌉`,
//! so the list wins exactly below a density of 1/32 (`4k < ⌈rows/8⌉`); the choice is made
//! from these byte counts for each set, not from a fixed threshold.

/// The first byte of an encoded set.
const LIST: u8 = 0;
const BITMAP: u8 = 1;

/// Which encoding a set got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    List,
    Bitmap,
}

/// The encoding [`encode`] picks for `k` of `rows` rows.
pub fn choose(k: usize, rows: usize) -> Encoding {
    if 4 * k < rows.div_ceil(8) {
        Encoding::List
    } else {
        Encoding::Bitmap
    }
}

/// Encodes the sorted, distinct row indices `set` (each `< rows`).
pub fn encode(set: &[u32], rows: usize) -> Vec<u8> {
    debug_assert!(set.windows(2).all(|w| w[0] < w[1]));
    match choose(set.len(), rows) {
        Encoding::List => {
            let mut out = Vec::with_capacity(1 + 4 * set.len());
            out.push(LIST);
            for &r in set {
                out.extend_from_slice(&r.to_le_bytes());
            }
            out
        }
        Encoding::Bitmap => {
            let mut out = vec![0u8; 1 + rows.div_ceil(8)];
            out[0] = BITMAP;
            for &r in set {
                out[1 + r as usize / 8] |= 1 << (r % 8);
            }
            out
        }
    }
}

/// Calls `f` for every row of an encoded set, in increasing order. `None` if the bytes are
/// not a set over `rows` rows.
pub fn decode(bytes: &[u8], rows: usize, mut f: impl FnMut(usize)) -> Option<()> {
    let (&tag, body) = bytes.split_first()?;
    match tag {
        LIST => {
            if body.len() % 4 != 0 {
                return None;
            }
            for c in body.chunks_exact(4) {
                let r = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
                if r >= rows {
                    return None;
                }
                f(r);
            }
        }
        BITMAP => {
            if body.len() != rows.div_ceil(8) {
                return None;
            }
            for (i, &b) in body.iter().enumerate() {
                let mut b = b;
                while b != 0 {
                    let r = i * 8 + b.trailing_zeros() as usize;
                    if r >= rows {
                        return None;
                    }
                    f(r);
                    b &= b - 1;
                }
            }
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(set: &[u32], rows: usize) -> Vec<u32> {
        let mut got = Vec::new();
        decode(&encode(set, rows), rows, |r| got.push(r as u32)).unwrap();
        got
    }

    #[test]
    fn the_smaller_encoding_wins_at_density_one_in_32() {
        let rows = 32 * 1000; // a bitmap is 4000 bytes; a list of k rows 4k bytes
        assert_eq!(choose(999, rows), Encoding::List);
        assert_eq!(choose(1000, rows), Encoding::Bitmap);
        for k in [0usize, 1, 10, 999, 1000, 1001, 5000, rows] {
            let set: Vec<u32> = (0..k as u32)
                .map(|i| i * (rows / k.max(1)) as u32)
                .collect();
            let bytes = encode(&set, rows);
            assert_eq!(bytes.len(), 1 + (4 * k).min(rows / 8), "k = {k}");
            assert_eq!(roundtrip(&set, rows), set, "k = {k}");
        }
    }

    #[test]
    fn odd_sizes_and_the_last_row_roundtrip() {
        for rows in [1usize, 7, 8, 9, 63, 65, 1000] {
            let all: Vec<u32> = (0..rows as u32).collect();
            assert_eq!(roundtrip(&all, rows), all);
            let last = [rows as u32 - 1];
            assert_eq!(roundtrip(&last, rows), last);
            assert_eq!(roundtrip(&[], rows), Vec::<u32>::new());
        }
    }

    #[test]
    fn damaged_sets_are_refused() {
        assert!(decode(&[], 10, |_| {}).is_none());
        assert!(decode(&[7], 10, |_| {}).is_none());
        assert!(decode(&[LIST, 1, 0, 0], 10, |_| {}).is_none());
        assert!(decode(&[LIST, 10, 0, 0, 0], 10, |_| {}).is_none());
        assert!(decode(&[BITMAP, 0], 10, |_| {}).is_none());
        // Bit 10 of a 10-row bitmap is past the last row.
        assert!(decode(&[BITMAP, 0, 4], 10, |_| {}).is_none());
    }
}
