//! Checkpoints: everything a run needs to continue exactly where it stopped — the
//! vocabulary, both matrices, the optimizer state, every reader's position in the corpus
//! and RNG state, the words done (the learning-rate schedule) and a fingerprint of the
//! config and corpus that a resume must match.
//!
//! File format (little-endian), `ckpt-<words done, 15 digits>.w2vc` in the checkpoint
//! directory:
//!
//! ```text
//! "W2VCKPT1"                       magic and version
//! u64 n, n bytes                   header: JSON (fingerprint, progress, cursors, shapes)
//! u64 n, n bytes                   vocabulary: "word count\n" lines
//! u64 n, n × f32                   input matrix
//! u64 n, n × f32                   output matrix
//! u64 n, n × f32                   optimizer state, input rows   (0 for sgd)
//! u64 n, n × f32                   optimizer state, output rows
//! u64 n, n × u32                   Adam update counts, input rows  (0 unless adam)
//! u64 n, n × u32                   Adam update counts, output rows
//! u64 n, n × f32                   hierarchical-softmax matrix (0 without --hs)
//! u64 n, n × f32                   subword bucket rows (0 without --subwords)
//!                                  (the last two are absent in files written before them)
//! u64                              checksum of every byte above
//! ```
//!
//! Written to a temporary file, fsynced and renamed, so a crash (even `kill -9`) leaves the
//! previous checkpoints intact; the newest two are kept. The reader checks the magic, every
//! length against the bytes that remain, the shapes against the header, and the checksum,
//! and never panics on a damaged file (tests fuzz it).

pub use crate::batch::Cursor;
use crate::error::{Error, Result};
use crate::io::AtomicFile;
use crate::model::Model;
use crate::optim::{OptimState, OptimizerKind};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"W2VCKPT1";
/// Checkpoints kept in the directory (older ones are deleted after a new one is written).
pub const KEEP: usize = 2;

impl Cursor {
    pub fn to_json(self) -> Value {
        json!([
            self.pos,
            self.epoch,
            self.rng,
            self.step,
            self.group,
            self.builder_rng
        ])
    }

    pub fn from_json(v: &Value) -> Option<Cursor> {
        let a = v.as_array()?;
        let n = |i: usize| a.get(i).and_then(Value::as_u64);
        Some(Cursor {
            pos: n(0)?,
            epoch: n(1)?,
            rng: n(2)?,
            step: n(3)?,
            group: n(4)?,
            builder_rng: n(5)?,
        })
    }
}

/// A training run's complete state.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Config and corpus identity (see [`crate::train::fingerprint`]).
    pub fingerprint: Value,
    /// Corpus words trained so far (all epochs), the schedule's position.
    pub words_done: u64,
    /// Engine steps so far (the GPU's random-number counter).
    pub steps: u64,
    /// One per reader (CPU threads of the Hogwild trainer; one otherwise).
    pub cursors: Vec<Cursor>,
    pub words: Vec<String>,
    pub counts: Vec<u64>,
    pub model: Model,
    pub state: Option<OptimState>,
}

/// 64-bit checksum over `data`, 8 bytes at a time (a multiply-xorshift mix per word; any
/// flipped bit changes it).
pub fn checksum(data: &[u8]) -> u64 {
    let mut h = 0x243f_6a88_85a3_08d3u64 ^ data.len() as u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h ^ (h >> 32)
}

fn push_section(buf: &mut Vec<u8>, bytes: &[u8], elems: usize) {
    buf.extend_from_slice(&(elems as u64).to_le_bytes());
    buf.extend_from_slice(bytes);
}

impl Checkpoint {
    /// The file name for this checkpoint: sorts by progress.
    pub fn file_name(&self) -> String {
        format!("ckpt-{:015}.w2vc", self.words_done)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let state = self.state.as_ref();
        let header = json!({
            "fingerprint": self.fingerprint,
            "words_done": self.words_done,
            "steps": self.steps,
            "cursors": self.cursors.iter().map(|c| c.to_json()).collect::<Vec<_>>(),
            "dim": self.model.dim,
            "vocab": self.words.len(),
            "optimizer": state.map(|s| s.kind.name()),
            "state_step": state.map(|s| s.step),
        })
        .to_string();
        let mut vocab = String::new();
        for (w, c) in self.words.iter().zip(&self.counts) {
            vocab.push_str(w);
            vocab.push(' ');
            vocab.push_str(&c.to_string());
            vocab.push('\n');
        }
        let mut buf = Vec::with_capacity(self.model.bytes() as usize * 3 + vocab.len() + 256);
        buf.extend_from_slice(MAGIC);
        push_section(&mut buf, header.as_bytes(), header.len());
        push_section(&mut buf, vocab.as_bytes(), vocab.len());
        for m in [&self.model.input, &self.model.output] {
            push_section(&mut buf, bytemuck::cast_slice(m), m.len());
        }
        let empty_f: Vec<f32> = Vec::new();
        let empty_u: Vec<u32> = Vec::new();
        let (si, so, ti, to) = match state {
            Some(s) => (&s.input, &s.output, &s.input_steps, &s.output_steps),
            None => (&empty_f, &empty_f, &empty_u, &empty_u),
        };
        for m in [si, so] {
            push_section(&mut buf, bytemuck::cast_slice(m), m.len());
        }
        for t in [ti, to] {
            push_section(&mut buf, bytemuck::cast_slice(t), t.len());
        }
        for m in [&self.model.hs, &self.model.subwords] {
            push_section(&mut buf, bytemuck::cast_slice(m), m.len());
        }
        let sum = checksum(&buf);
        buf.extend_from_slice(&sum.to_le_bytes());
        buf
    }

    /// Parses a checkpoint; `path` names the file in errors.
    pub fn from_bytes(path: &Path, data: &[u8]) -> Result<Checkpoint> {
        let bad = |m: &str| Error::input(path, format!("not a usable checkpoint: {m}"));
        if data.len() < MAGIC.len() + 8 || &data[..8] != MAGIC {
            return Err(bad(
                "wrong magic (not a w2v-gpu checkpoint, or another version)",
            ));
        }
        let (body, tail) = data.split_at(data.len() - 8);
        let want = u64::from_le_bytes(tail.try_into().expect("8 bytes"));
        if checksum(body) != want {
            return Err(bad("checksum mismatch (truncated or corrupted file)"));
        }
        let mut at = MAGIC.len();
        let mut section = |elem: usize| -> Result<&[u8]> {
            let len = body
                .get(at..at + 8)
                .ok_or_else(|| bad("truncated section header"))?;
            let n = u64::from_le_bytes(len.try_into().expect("8 bytes"));
            at += 8;
            let bytes =
                n.checked_mul(elem as u64)
                    .filter(|&b| b <= (body.len() - at) as u64)
                    .ok_or_else(|| bad("section longer than the file"))? as usize;
            let s = &body[at..at + bytes];
            at += bytes;
            Ok(s)
        };
        let header: Value = serde_json::from_slice(section(1)?)
            .map_err(|e| bad(&format!("header is not JSON: {e}")))?;
        let vocab = std::str::from_utf8(section(1)?).map_err(|_| bad("vocabulary is not UTF-8"))?;
        let floats = |b: &[u8]| -> Vec<f32> {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        };
        let ints = |b: &[u8]| -> Vec<u32> {
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        };
        let input = floats(section(4)?);
        let output = floats(section(4)?);
        let state_in = floats(section(4)?);
        let state_out = floats(section(4)?);
        let steps_in = ints(section(4)?);
        let steps_out = ints(section(4)?);
        // Absent in files written before --hs existed; a damaged one leaves bytes behind,
        // which the check below rejects.
        let hs = section(4).map(floats).unwrap_or_default();
        let subwords = section(4).map(floats).unwrap_or_default();
        if at != body.len() {
            return Err(bad("trailing bytes after the last section"));
        }
        let num = |k: &str| {
            header[k]
                .as_u64()
                .ok_or_else(|| bad(&format!("header field {k} missing")))
        };
        let dim = num("dim")? as usize;
        let n_vocab = num("vocab")? as usize;
        let mut words = Vec::with_capacity(n_vocab.min(vocab.len()));
        let mut counts = Vec::with_capacity(n_vocab.min(vocab.len()));
        for line in vocab.lines() {
            let (w, c) = line
                .rsplit_once(' ')
                .ok_or_else(|| bad("vocabulary line without a count"))?;
            words.push(w.to_string());
            counts.push(
                c.parse()
                    .map_err(|_| bad("vocabulary count is not a number"))?,
            );
        }
        if dim == 0
            || words.len() != n_vocab
            || input.len() != n_vocab * dim
            || output.len() != input.len()
            || !(hs.is_empty() || hs.len() == n_vocab.saturating_sub(1) * dim)
            || subwords.len() % dim != 0
        {
            return Err(bad(
                "matrix shapes do not match the vocabulary and dimension",
            ));
        }
        let state = match header["optimizer"].as_str() {
            None => None,
            Some(name) => {
                let kind = OptimizerKind::parse(name).ok_or_else(|| bad("unknown optimizer"))?;
                let mut s = OptimState::new(kind, 0, dim);
                // With subwords the input state covers the bucket rows too.
                let n_in = n_vocab + subwords.len() / dim.max(1);
                let counted = |rows: usize| if kind.counts_steps() { rows } else { 0 };
                if state_in.len() != n_in * s.row_len()
                    || state_out.len() != n_vocab * s.row_len()
                    || steps_in.len() != counted(n_in)
                    || steps_out.len() != counted(n_vocab)
                {
                    return Err(bad("optimizer state shapes do not match"));
                }
                s.input = state_in;
                s.output = state_out;
                s.input_steps = steps_in;
                s.output_steps = steps_out;
                s.step = num("state_step")?;
                Some(s)
            }
        };
        let cursors = header["cursors"]
            .as_array()
            .ok_or_else(|| bad("cursors missing"))?
            .iter()
            .map(|c| Cursor::from_json(c).ok_or_else(|| bad("malformed cursor")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Checkpoint {
            fingerprint: header["fingerprint"].clone(),
            words_done: num("words_done")?,
            steps: num("steps")?,
            cursors,
            words,
            counts,
            model: Model {
                dim,
                input,
                output,
                hs,
                subwords,
            },
            state,
        })
    }

    /// Writes the checkpoint into `dir` atomically (temporary file, fsync, rename) and
    /// deletes all but the newest [`KEEP`]. Returns the file written.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(self.file_name());
        let mut f = AtomicFile::create(&path)?;
        f.writer()
            .write_all(&self.to_bytes())
            .map_err(|e| Error::io(&path, e))?;
        f.commit()?;
        // The rename is durable once the directory entry is.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        let all = list(dir)?;
        for old in all.iter().take(all.len().saturating_sub(KEEP)) {
            let _ = std::fs::remove_file(old);
        }
        Ok(path)
    }

    /// The newest readable checkpoint in `dir`; a damaged newest one is skipped with a
    /// note (the previous one is used).
    pub fn load_latest(dir: &Path, note: &dyn Fn(&str)) -> Result<Checkpoint> {
        let all = list(dir)?;
        if all.is_empty() {
            return Err(Error::input(
                dir,
                "no checkpoint (ckpt-*.w2vc) in this directory; train with --checkpoint-dir first",
            ));
        }
        let mut last_err = None;
        for p in all.iter().rev() {
            let data = std::fs::read(p).map_err(|e| Error::io(p, e))?;
            match Checkpoint::from_bytes(p, &data) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    note(&format!("skipping {e}"));
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.expect("at least one file"))
    }
}

/// Checkpoint files in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ckpt-") && n.ends_with(".w2vc"))
        })
        .collect();
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: Option<OptimizerKind>) -> Checkpoint {
        let model = Model::new(3, 4, 1);
        let state = kind.map(|k| {
            let mut s = OptimState::new(k, 3, 4);
            s.input
                .iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = i as f32);
            s.step = 7;
            s
        });
        Checkpoint {
            fingerprint: json!({"dim": 4, "input": "c.txt"}),
            words_done: 1234,
            steps: 5,
            cursors: vec![
                Cursor {
                    pos: 9,
                    epoch: 1,
                    rng: u64::MAX,
                    step: 3,
                    group: 2,
                    builder_rng: 77,
                },
                Cursor::default(),
            ],
            words: vec!["the".into(), "of".into(), "zebra crossing".into()],
            counts: vec![10, 5, 1],
            model,
            state,
        }
    }

    #[test]
    fn round_trip_all_optimizers() {
        for k in [
            None,
            Some(OptimizerKind::Adagrad),
            Some(OptimizerKind::Adam),
            Some(OptimizerKind::Sgd),
        ] {
            let c = sample(k);
            let bytes = c.to_bytes();
            assert_eq!(Checkpoint::from_bytes(Path::new("x"), &bytes).unwrap(), c);
        }
        // With the hierarchical-softmax matrix.
        let mut c = sample(None);
        c.model = c.model.with_hs();
        c.model
            .hs
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = i as f32 * 0.5);
        assert_eq!(c.model.hs.len(), 2 * 4);
        let back = Checkpoint::from_bytes(Path::new("x"), &c.to_bytes()).unwrap();
        assert_eq!(back, c);
        // A file written before the section existed (no hs section) still reads.
        let mut old = sample(None).to_bytes();
        old.truncate(old.len() - 8 - 16); // checksum and the empty hs and subword sections
        let sum = checksum(&old);
        old.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(
            Checkpoint::from_bytes(Path::new("x"), &old).unwrap(),
            sample(None)
        );
    }

    /// Every truncation and every single-byte corruption is an error, never a panic.
    #[test]
    fn damaged_files_are_errors() {
        let bytes = sample(Some(OptimizerKind::Adam)).to_bytes();
        for n in 0..bytes.len() {
            assert!(Checkpoint::from_bytes(Path::new("x"), &bytes[..n]).is_err());
        }
        let mut rng = crate::sampling::Rng::new(3);
        for _ in 0..2000 {
            let mut b = bytes.clone();
            let i = rng.below(b.len() as u32) as usize;
            b[i] ^= 1 << rng.below(8);
            assert!(Checkpoint::from_bytes(Path::new("x"), &b).is_err());
        }
    }

    /// Structurally wrong content with a valid checksum (what a bug, not a disk, would
    /// produce) is rejected by the shape checks.
    #[test]
    fn valid_checksum_bad_shapes_are_errors() {
        let mut c = sample(Some(OptimizerKind::Adam));
        c.model.output.pop();
        let b = c.to_bytes();
        let e = Checkpoint::from_bytes(Path::new("x"), &b).unwrap_err();
        assert!(e.to_string().contains("shapes"), "{e}");
        let mut rng = crate::sampling::Rng::new(5);
        for len in [0usize, 1, 7, 8, 16, 100, 1000] {
            let mut junk: Vec<u8> = MAGIC.to_vec();
            junk.extend((0..len).map(|_| rng.next_u32() as u8));
            let sum = checksum(&junk);
            junk.extend_from_slice(&sum.to_le_bytes());
            assert!(Checkpoint::from_bytes(Path::new("x"), &junk).is_err());
        }
    }

    #[test]
    fn save_rotates_and_load_skips_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = sample(None);
        for w in [100u64, 200, 300] {
            c.words_done = w;
            c.save(dir.path()).unwrap();
        }
        let files = list(dir.path()).unwrap();
        assert_eq!(files.len(), KEEP);
        assert!(files[1].ends_with("ckpt-000000000000300.w2vc"));
        std::fs::write(&files[1], b"garbage").unwrap();
        let got = Checkpoint::load_latest(dir.path(), &|_| {}).unwrap();
        assert_eq!(got.words_done, 200);
    }
}
