//! Files in and out, below every format: corpus bytes (memory-mapped, gunzipped, or read
//! from a stream; several files or a directory as one corpus) and atomic writes that never
//! destroy an earlier output.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

/// A file written to a temporary name beside its destination and renamed over it on
/// [`AtomicFile::commit`], so a failed or interrupted write never destroys an earlier
/// output. Dropping it uncommitted removes the temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            let why = if dir.exists() {
                format!("{} is a file, not a directory", dir.display())
            } else {
                format!(
                    "directory {} does not exist; create it first",
                    dir.display()
                )
            };
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, why),
            ));
        }
        if path.is_dir() {
            return Err(Error::io(
                path,
                std::io::Error::other("is a directory; give a file name"),
            ));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io(path, e))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("AtomicFile used after commit")
    }

    /// Flushes, syncs and renames over the destination.
    pub fn commit(mut self) -> Result<()> {
        let w = self.writer.take().expect("AtomicFile committed twice");
        let file = w
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.writer = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The corpus bytes: memory-mapped, or decompressed into memory for `.gz`.
pub enum CorpusBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for CorpusBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            CorpusBytes::Mapped(m) => m,
            CorpusBytes::Owned(v) => v,
        }
    }
}

/// The files a corpus path stands for: the file itself, or every regular file of a
/// directory (not hidden, sorted by name, not recursive).
pub fn expand_input(path: &Path) -> Result<Vec<std::path::PathBuf>> {
    if path.as_os_str() == "-" || !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
        let entry = entry.map_err(|e| Error::io(path, e))?;
        let name = entry.file_name();
        let p = entry.path();
        if !name.to_string_lossy().starts_with('.') && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::input(
            path,
            "is a directory without files; give --input a text file, several files, or a directory of them",
        ));
    }
    Ok(files)
}

/// Reads several corpus files (or directories of them) as one corpus, each file ending a
/// sentence. One plain file is memory-mapped; several are concatenated in memory.
pub fn read_all(paths: &[std::path::PathBuf]) -> Result<CorpusBytes> {
    let mut files = Vec::new();
    for p in paths {
        files.extend(expand_input(p)?);
    }
    if files.len() == 1 {
        return read_bytes(&files[0]);
    }
    let mut out = Vec::new();
    for f in &files {
        let b = read_bytes(f)?;
        check_text(f, &b)?;
        out.extend_from_slice(&b);
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    Ok(CorpusBytes::Owned(out))
}

fn is_gz(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Reads a whole stream (standard input, a pipe, a fifo, `<(...)`), gunzipping it when the
/// name ends in `.gz` or the data starts with the gzip magic bytes.
fn read_stream(path: &Path, mut r: impl Read) -> Result<CorpusBytes> {
    let mut raw = Vec::new();
    r.read_to_end(&mut raw).map_err(|e| Error::io(path, e))?;
    if is_gz(path) || raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::input(path, format!("cannot decompress gzip data: {e}")))?;
        return Ok(CorpusBytes::Owned(out));
    }
    Ok(CorpusBytes::Owned(raw))
}

/// Opens a corpus file: memory-mapped, gunzipped when the name ends in `.gz`, or read to
/// the end when it cannot be mapped (`-` for standard input, pipes, fifos).
pub fn read_bytes(path: &Path) -> Result<CorpusBytes> {
    if path.as_os_str() == "-" {
        return read_stream(path, std::io::stdin().lock());
    }
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(
            path,
            "no such file; check the path given to --input (a text file, .gz, a directory of files, or - for standard input)",
        ),
        _ => Error::io(path, e),
    })?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::input(
            path,
            "is a directory; --input needs a text file",
        ));
    }
    if is_gz(path) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
            .read_to_end(&mut out)
            .map_err(|e| Error::input(path, format!("cannot decompress gzip data: {e}")))?;
        return Ok(CorpusBytes::Owned(out));
    }
    if !meta.is_file() {
        // A pipe, fifo or character device: not mappable, read it through.
        return read_stream(path, file);
    }
    if meta.len() == 0 {
        return Ok(CorpusBytes::Owned(Vec::new()));
    }
    // SAFETY: the map is read-only and private to this process. If another process truncates
    // the file while it is mapped, reads may fault (SIGBUS); this is the documented risk of
    // every memory-mapped reader and the reason word2vec tools ask for a stable corpus file.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    Ok(CorpusBytes::Mapped(map))
}

/// Rejects files that are clearly not text (NUL bytes near the start), so that a binary
/// passed by mistake fails with a message rather than training on garbage.
pub(crate) fn check_text(path: &Path, bytes: &[u8]) -> Result<()> {
    let head = &bytes[..bytes.len().min(1 << 16)];
    let nul = head.iter().filter(|&&b| b == 0).count();
    if nul > 0 {
        return Err(Error::input(
            path,
            format!(
                "looks like a binary file ({nul} NUL bytes in the first {} bytes); --input expects plain text (or .gz), words separated by spaces, one sentence per line",
                head.len()
            ),
        ));
    }
    Ok(())
}

/// `s` cut to `n` characters (with an ellipsis) for error messages.
pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}
