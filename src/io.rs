//! word2vec text and binary formats, and atomic file writes.
//!
//! Both formats start with a `V D` header line. Text rows are `word v1 v2 … vD` (word2vec.c
//! writes `%lf ` per value, so rows end in a space before the newline); binary rows are the
//! word, one space, D little-endian `f32` and a newline. gensim's
//! `KeyedVectors.load_word2vec_format` reads both.

use crate::config::Format;
use crate::error::{Error, Result};
pub use crate::files::AtomicFile;
use std::io::Write;
use std::path::Path;

/// Word vectors as read from a file: row `i` of `vectors` belongs to `words[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub words: Vec<String>,
    pub dim: usize,
    pub vectors: Vec<f32>,
}

impl Embeddings {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// Writes vectors in word2vec.c's text or binary format, atomically.
pub fn write_vectors(
    path: &Path,
    words: &[String],
    dim: usize,
    vectors: &[f32],
    format: Format,
) -> Result<()> {
    assert_eq!(words.len() * dim, vectors.len());
    if path.as_os_str() == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        return write_rows(&mut out, words, dim, vectors, format)
            .and_then(|()| out.flush())
            .map_err(|e| Error::io(Path::new("standard output"), e));
    }
    let mut f = AtomicFile::create(path)?;
    write_rows(f.writer(), words, dim, vectors, format).map_err(|e| Error::io(path, e))?;
    f.commit()
}

/// The word2vec text or binary rows, header first.
fn write_rows(
    w: &mut impl Write,
    words: &[String],
    dim: usize,
    vectors: &[f32],
    format: Format,
) -> std::io::Result<()> {
    {
        writeln!(w, "{} {}", words.len(), dim)?;
        for (word, row) in words.iter().zip(vectors.chunks_exact(dim.max(1))) {
            match format {
                Format::Text => {
                    write!(w, "{word} ")?;
                    for x in row {
                        write!(w, "{x:.6} ")?;
                    }
                    w.write_all(b"\n")?;
                }
                Format::Binary => {
                    w.write_all(word.as_bytes())?;
                    w.write_all(b" ")?;
                    for x in row {
                        w.write_all(&x.to_le_bytes())?;
                    }
                    w.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }
}

/// [`read_vectors`], or the vocabulary vectors of a fastText `.bin` model (each word's
/// mean of its own and its n-gram rows), told apart by the file's first bytes.
pub fn read_any_vectors(path: &Path, limit: Option<usize>) -> Result<Embeddings> {
    if crate::fasttext::is_fasttext_bin(path) {
        let m = crate::fasttext::FastTextModel::read(path)?;
        return Ok(fasttext_embeddings(&m, limit));
    }
    read_vectors_expecting(
        path,
        limit,
        "a vectors file: word2vec text or binary, GloVe text, or a fastText .bin",
    )
}

/// Reads a word2vec text or binary file (detected from the content, whatever the name), or
/// a text file without the header (GloVe's format: the first line is a row, `word v1 v2
/// ...`, as gensim's `load_word2vec_format(..., no_header=True)` reads it); with `limit`,
/// only the first `limit` rows (the most frequent words, for files written by word2vec
/// tools and GloVe).
pub fn read_vectors(path: &Path, limit: Option<usize>) -> Result<Embeddings> {
    read_vectors_expecting(
        path,
        limit,
        "a vectors file: word2vec text or binary, or GloVe text",
    )
}

/// The first `limit` vocabulary words of a fastText model with their vectors.
pub fn fasttext_embeddings(m: &crate::fasttext::FastTextModel, limit: Option<usize>) -> Embeddings {
    let n = limit.map_or(m.words.len(), |l| l.min(m.words.len()));
    let mut vectors = m.word_vectors();
    vectors.truncate(n * m.dim);
    Embeddings {
        words: m.words[..n].to_vec(),
        dim: m.dim,
        vectors,
    }
}

/// [`read_vectors`], saying that `path` should be `expected` when it is missing or a
/// directory.
fn read_vectors_expecting(path: &Path, limit: Option<usize>, expected: &str) -> Result<Embeddings> {
    let bytes = crate::files::read_model_bytes(path, expected)?;
    parse_vectors(path, &bytes, limit)
}

/// Parses the bytes of a word2vec text or binary file (see [`read_vectors`]); `path` names
/// the file in errors.
pub fn parse_vectors(path: &Path, bytes: &[u8], limit: Option<usize>) -> Result<Embeddings> {
    let nl = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| {
        Error::input(
            path,
            "no header line; a word2vec file starts with `<words> <dim>`",
        )
    })?;
    let header = String::from_utf8_lossy(&bytes[..nl]);
    let mut parts = header.split_whitespace();
    let parsed = (
        parts.next().and_then(|s| s.parse::<usize>().ok()),
        parts.next().and_then(|s| s.parse::<usize>().ok()),
        parts.next(),
    );
    let (Some(count), Some(dim), None) = parsed else {
        if let Some(dim) = headerless_dim(&header) {
            // GloVe's text format: no header, the first line is already a row.
            let count = bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.trim_ascii().is_empty())
                .count();
            let rows = limit.map_or(count, |l| l.min(count));
            return read_text(path, bytes, 1, rows, dim, count);
        }
        return Err(Error::input(
            path,
            format!(
                "bad header {:?}; a word2vec file starts with `<words> <dim>` (a GloVe file, without a header, with a row `word v1 v2 ...`)",
                crate::files::truncate(header.trim(), 60)
            ),
        ));
    };
    if dim == 0 {
        return Err(Error::input(path, "header says dimension 0"));
    }
    let rows = limit.map_or(count, |l| l.min(count));
    let body = &bytes[nl + 1..];
    // Every row takes at least `dim` bytes (binary: 4 per value; text: a digit and a
    // space), so a header announcing more than the file holds is damaged: refuse it before
    // sizing anything by it.
    if rows > 0 && (dim > body.len() || rows.saturating_mul(dim) > body.len()) {
        return Err(Error::input(
            path,
            format!(
                "the header announces {count} rows of dimension {dim}, more than the file's {} bytes can hold (truncated or damaged)",
                body.len()
            ),
        ));
    }
    if looks_binary(body, dim) {
        read_binary(path, body, rows, dim, count)
    } else {
        read_text(path, body, 2, rows, dim, count)
    }
}

/// The dimension of a header-less text file (GloVe's format) whose first line is `line`: a
/// word and at least one number; `None` when the line is not such a row.
fn headerless_dim(line: &str) -> Option<usize> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields.len() >= 2 && fields[1..].iter().all(|f| f.parse::<f32>().is_ok()))
        .then(|| fields.len() - 1)
}

/// A text file's first row is `word` and `dim` fields on one UTF-8 line; anything else is
/// binary (D raw floats practically never form exactly D space-separated UTF-8 fields).
fn looks_binary(body: &[u8], dim: usize) -> bool {
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let Ok(line) = std::str::from_utf8(&body[..end]) else {
        return true;
    };
    let toks: Vec<&str> = line.split_whitespace().collect();
    toks.len() != dim + 1
}

/// The rows of a text file, `body` starting at line `first_line` (2 after a header, 1 in a
/// header-less file).
fn read_text(
    path: &Path,
    body: &[u8],
    first_line: usize,
    rows: usize,
    dim: usize,
    count: usize,
) -> Result<Embeddings> {
    let mut words = Vec::with_capacity(rows);
    // Every value takes at least one byte: no capacity the file cannot fill.
    let mut vectors = Vec::with_capacity(rows.saturating_mul(dim).min(body.len()));
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        if words.len() == rows {
            break;
        }
        let line = String::from_utf8_lossy(line);
        if line.trim().is_empty() {
            continue;
        }
        let lineno = n + first_line;
        let mut it = line.split_whitespace();
        let word = it.next().unwrap_or_default().to_string();
        let before = vectors.len();
        for tok in it {
            let x: f32 = tok.parse().map_err(|_| {
                Error::input(
                    path,
                    format!(
                        "line {lineno}: {:?} is not a number",
                        crate::files::truncate(tok, 30)
                    ),
                )
            })?;
            if !x.is_finite() {
                return Err(Error::input(
                    path,
                    format!("line {lineno}: value {tok} is not finite"),
                ));
            }
            vectors.push(x);
        }
        let got = vectors.len() - before;
        if got != dim {
            return Err(Error::input(
                path,
                if first_line == 1 {
                    format!("line {lineno}: word {word:?} has {got} values, the first row {dim}")
                } else {
                    format!("line {lineno}: word {word:?} has {got} values, the header says {dim}")
                },
            ));
        }
        words.push(word);
    }
    if words.len() < rows {
        return Err(Error::input(
            path,
            format!(
                "truncated: the header announces {count} rows, found {}",
                words.len()
            ),
        ));
    }
    Ok(Embeddings {
        words,
        dim,
        vectors,
    })
}

fn read_binary(
    path: &Path,
    body: &[u8],
    rows: usize,
    dim: usize,
    count: usize,
) -> Result<Embeddings> {
    let mut words = Vec::with_capacity(rows);
    let mut vectors = Vec::with_capacity(rows * dim);
    let mut p = 0usize;
    for r in 0..rows {
        while p < body.len() && (body[p] == b'\n' || body[p] == b'\r') {
            p += 1;
        }
        let sp = body[p..].iter().position(|&b| b == b' ').ok_or_else(|| {
            Error::input(
                path,
                format!(
                    "truncated: the header announces {count} rows, row {} is incomplete",
                    r + 1
                ),
            )
        })?;
        let word = String::from_utf8_lossy(&body[p..p + sp]).into_owned();
        p += sp + 1;
        let end = p + 4 * dim;
        if end > body.len() {
            return Err(Error::input(
                path,
                format!(
                    "truncated: row {} ({word:?}) of {count} is cut short",
                    r + 1
                ),
            ));
        }
        for c in body[p..end].chunks_exact(4) {
            let x = f32::from_le_bytes(c.try_into().unwrap());
            if !x.is_finite() {
                return Err(Error::input(
                    path,
                    format!("row {} ({word:?}) has a non-finite value", r + 1),
                ));
            }
            vectors.push(x);
        }
        p = end;
        words.push(word);
    }
    Ok(Embeddings {
        words,
        dim,
        vectors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<String>, Vec<f32>) {
        (
            vec!["the".into(), "cat".into(), "ñandú".into()],
            vec![0.5, -1.25, 3.0, 1e-7, -0.0, 2.5, 0.125, 7.0, -3.5],
        )
    }

    #[test]
    fn binary_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.bin");
        let (w, v) = sample();
        write_vectors(&p, &w, 3, &v, Format::Binary).unwrap();
        let e = read_vectors(&p, None).unwrap();
        assert_eq!(
            e,
            Embeddings {
                words: w.clone(),
                dim: 3,
                vectors: v.clone()
            }
        );
        let e = read_vectors(&p, Some(2)).unwrap();
        assert_eq!(e.words, &w[..2]);
    }

    #[test]
    fn text_matches_word2vec_c_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.txt");
        let (w, v) = sample();
        write_vectors(&p, &w, 3, &v, Format::Text).unwrap();
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(
            s.starts_with("3 3\nthe 0.500000 -1.250000 3.000000 \ncat "),
            "{s}"
        );
        let e = read_vectors(&p, None).unwrap();
        assert_eq!(e.words, w);
        for (a, b) in e.vectors.iter().zip(&v) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn failed_write_keeps_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.txt");
        std::fs::write(&p, "precious").unwrap();
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.writer().write_all(b"partial").unwrap();
            // dropped without commit
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "precious");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let bad = dir.path().join("no/such/dir/v.txt");
        assert!(AtomicFile::create(&bad)
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
    }

    /// GloVe's text format (no header): the first line is a row; `--limit` applies; rows of
    /// another width are errors naming the line.
    #[test]
    fn headerless_glove_text_is_read() {
        let p = Path::new("glove.txt");
        let glove =
            b"the 0.418 0.24968 -0.41242\n, 0.013441 0.23682 -0.16899\n\nking 1 -2.5e-1 3\n";
        let e = parse_vectors(p, glove, None).unwrap();
        assert_eq!((e.words.len(), e.dim), (3, 3));
        assert_eq!(e.words, ["the", ",", "king"]);
        assert_eq!(e.row(2), &[1.0, -0.25, 3.0]);
        assert_eq!(e.row(0)[1], 0.24968);
        let e = parse_vectors(p, glove, Some(2)).unwrap();
        assert_eq!(e.words, ["the", ","]);
        let e = parse_vectors(p, b"a 1 2\nb 1\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("the first row 2"), "{e}");
        // A one-dimensional file, and a header that is neither.
        assert_eq!(parse_vectors(p, b"a 0.5\nb -1\n", None).unwrap().dim, 1);
        let e = parse_vectors(p, b"hello world\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad header"), "{e}");
    }

    #[test]
    fn malformed_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.txt");
        for (content, needle) in [
            ("", "header"),
            ("two three\n", "bad header"),
            ("2 3\na 1 2 3\nb 1 2\n", "line 3"),
            ("2 3\na 1 2 3\n", "truncated"),
            ("1 2\na nan 1\n", "not finite"),
            ("1 2\na x 1\n", "not a number"),
        ] {
            std::fs::write(&p, content).unwrap();
            let e = read_vectors(&p, None).unwrap_err().to_string();
            assert!(e.contains(needle), "{content:?}: {e}");
        }
        let mut bin = b"2 2\na ".to_vec();
        bin.extend_from_slice(&1.5f32.to_le_bytes());
        bin.extend_from_slice(&2.5f32.to_le_bytes());
        bin.extend_from_slice(b"\nb \x01\x02");
        std::fs::write(&p, &bin).unwrap();
        let e = read_vectors(&p, None).unwrap_err().to_string();
        assert!(e.contains("cut short"), "{e}");
    }
}
