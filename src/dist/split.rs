//! Which part of the corpus each rank reads.
//!
//! The input files are taken as one byte stream in order, cut into `n · k` stripes of about
//! [`STRIPE`] bytes (`k` stripes per rank, at most [`MAX_STRIPES`]; `k` = 1 for one rank);
//! rank `r` of `n` reads stripes `r, r + n, r + 2n, …`, so each rank samples the whole
//! corpus instead of one contiguous stretch of it (of its topics). Cut `i` of `m` lies near
//! byte `i · total / m`: moved forward to just after
//! the next newline when one is within [`SEARCH`] bytes (a sentence boundary), else to just
//! after the next word separator, so no sentence or word is split where the text has lines
//! and no word where it has none (text8 is one line). A compressed file cannot be entered in
//! the middle: a cut inside it moves to its start or end, whichever is nearer, so such a
//! file is read whole by one rank. Every rank computes every cut from the file sizes and
//! bytes, so all agree without talking.

use crate::error::{Error, Result};
pub use crate::files::Piece;
use crate::files::{is_gz, is_space};
#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;

/// How far past a cut to look for a newline before settling for a word separator.
pub const SEARCH: usize = 1 << 20;

/// The bytes a stripe aims at.
pub const STRIPE: u64 = 1 << 20;

/// Stripes per rank at most.
pub const MAX_STRIPES: u64 = 256;

/// Stripes per rank for `total` bytes over `ranks` ranks of about `stripe` bytes each.
fn stripes(total: u64, ranks: usize, stripe: u64) -> usize {
    if ranks <= 1 {
        return 1;
    }
    (total / (ranks as u64 * stripe.max(1))).clamp(1, MAX_STRIPES) as usize
}

/// Where a cut near `offset` of a plain file lands: just after a newline within
/// [`SEARCH`], else just after a separator, else the end.
fn snap(bytes: &[u8], offset: usize) -> usize {
    if offset == 0 || offset >= bytes.len() {
        return offset.min(bytes.len());
    }
    let window = &bytes[offset..(offset + SEARCH).min(bytes.len())];
    if let Some(i) = window.iter().position(|&b| b == b'\n') {
        return offset + i + 1;
    }
    bytes[offset..]
        .iter()
        .position(|&b| is_space(b))
        .map_or(bytes.len(), |i| offset + i + 1)
}

/// The pieces rank `rank` of `ranks` reads, from `files` (expanded already, all regular
/// files), in corpus order. Empty when the rank's stripes hold no bytes.
pub fn pieces(files: &[PathBuf], rank: usize, ranks: usize) -> Result<Vec<Piece>> {
    pieces_with(files, rank, ranks, STRIPE)
}

fn pieces_with(files: &[PathBuf], rank: usize, ranks: usize, stripe: u64) -> Result<Vec<Piece>> {
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .map(|m| m.len())
                .map_err(|e| Error::io(f, e))
        })
        .collect::<Result<_>>()?;
    let total: u64 = sizes.iter().sum();
    let parts = ranks * stripes(total, ranks, stripe);
    // A cut as (file index, offset in it); offsets past the last file are (len, 0).
    let cut = |i: usize| -> Result<(usize, u64)> {
        let mut x = ((total as u128 * i as u128) / parts as u128) as u64;
        if i == 0 {
            return Ok((0, 0));
        }
        if i == parts {
            return Ok((files.len(), 0));
        }
        for (f, &len) in sizes.iter().enumerate() {
            if x < len || (x == len && f + 1 == files.len()) {
                if x == 0 {
                    return Ok((f, 0));
                }
                if is_gz(&files[f]) {
                    return Ok(if x < len / 2 { (f, 0) } else { (f + 1, 0) });
                }
                let bytes = crate::files::read_bytes(&files[f])?;
                let o = snap(&bytes, x as usize) as u64;
                return Ok(if o >= len { (f + 1, 0) } else { (f, o) });
            }
            x -= len;
        }
        Ok((files.len(), 0))
    };
    let mut out = Vec::new();
    for s in (rank..parts).step_by(ranks) {
        let (a, b) = (cut(s)?, cut(s + 1)?);
        if a >= b {
            continue;
        }
        for f in a.0..=b.0.min(files.len().saturating_sub(1)) {
            let start = if f == a.0 { a.1 } else { 0 };
            let (end, to_end) = if f == b.0 {
                (b.1, false)
            } else {
                (sizes[f], true)
            };
            if end > start || (to_end && start == 0 && sizes[f] == 0) {
                out.push(Piece {
                    path: files[f].clone(),
                    start,
                    end,
                    to_end,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn read(p: &Piece) -> Vec<u8> {
        let b = std::fs::read(&p.path).unwrap();
        b[p.start as usize..p.end as usize].to_vec()
    }

    #[test]
    fn parts_cover_the_corpus_once_cut_at_newlines_or_separators() {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..200).map(|i| format!("w{i} x{i} y{i}\n")).collect();
        let words: String = (0..300).map(|i| format!("word{i} ")).collect();
        let a = write(dir.path(), "a.txt", lines.as_bytes());
        let b = write(dir.path(), "b.txt", words.as_bytes());
        let files = vec![a, b];
        // One stripe per rank (these files are far below STRIPE), and stripes of 200 bytes:
        // several per rank, interleaved.
        for (ranks, stripe) in (1..=7)
            .map(|n| (n, STRIPE))
            .chain((1..=5).map(|n| (n, 200)))
        {
            let mut all = Vec::new();
            for r in 0..ranks {
                let ps = pieces_with(&files, r, ranks, stripe).unwrap();
                assert!(!ps.is_empty(), "rank {r} of {ranks} got nothing");
                if stripe == 200 && ranks > 1 {
                    assert!(ps.len() > 2, "rank {r} of {ranks}: {} pieces", ps.len());
                }
                assert!(
                    ps.windows(2)
                        .all(|w| (files.iter().position(|f| *f == w[0].path), w[0].start)
                            < (files.iter().position(|f| *f == w[1].path), w[1].start)),
                    "a rank's pieces are in corpus order"
                );
                all.extend(ps);
            }
            all.sort_by_key(|p| (files.iter().position(|f| *f == p.path), p.start));
            let mut joined = Vec::new();
            for p in &all {
                let t = read(p);
                // Starts at a line start in the lined file, a word start in the other.
                if p.start > 0 {
                    let whole = std::fs::read(&p.path).unwrap();
                    let prev = whole[p.start as usize - 1];
                    if p.path.ends_with("a.txt") {
                        assert_eq!(prev, b'\n');
                    } else {
                        assert!(is_space(prev));
                    }
                }
                joined.extend_from_slice(&t);
            }
            let mut want = lines.clone().into_bytes();
            want.extend_from_slice(words.as_bytes());
            assert_eq!(joined, want, "{ranks} ranks, stripes of {stripe} bytes");
        }
    }

    #[test]
    fn a_compressed_file_is_read_whole_by_one_rank_and_a_rank_can_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(b"a b c\n").unwrap();
        enc.finish().unwrap();
        let files = vec![p];
        let all: Vec<Vec<Piece>> = (0..3).map(|r| pieces(&files, r, 3).unwrap()).collect();
        assert_eq!(all.iter().filter(|p| !p.is_empty()).count(), 1);
        assert!(all.iter().flatten().all(|p| p.start == 0 && p.to_end));
    }

    #[test]
    fn a_missing_file_names_itself() {
        let e = pieces(&[PathBuf::from("/nonexistent/x.txt")], 0, 2).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.txt"), "{e}");
    }
}
