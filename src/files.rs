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

/// Whether `a` and `b` name one existing file (links and `..` resolved).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Refuses, before any work, writing `output` (named by the flag `flag`) where it is a file
/// the run reads (`inputs`, each with the flag that names it): the write would destroy it.
pub fn refuse_overwriting_input(flag: &str, output: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    match inputs.iter().find(|(_, p)| same_file(p, output)) {
        Some((given_to, _)) => Err(Error::usage(
            flag,
            format!(
                "{} is the file given to {given_to}; writing there would destroy it",
                output.display()
            ),
        )),
        None => Ok(()),
    }
}

/// Fails now, naming the path, when `path` could not be written later (its directory is
/// missing or read-only, or it is a directory), so a long run is refused before it starts.
/// Writes nothing; `-` (standard output) always passes.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    AtomicFile::create(path).map(drop)
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

/// Bytes per chunk when a corpus file is streamed (each chunk ends after a word separator).
pub const CHUNK_BYTES: usize = 16 << 20;

/// Whether every file can be read a second time (regular files; not standard input, pipes
/// or fifos, which are read once into memory).
pub fn rereadable(files: &[PathBuf]) -> bool {
    files
        .iter()
        .all(|f| f.as_os_str() != "-" && std::fs::metadata(f).is_ok_and(|m| m.is_file()))
}

/// word2vec.c's word separators (the trainer's and `phrases`' tokenizer, and where the
/// streamed corpus is cut into chunks).
#[inline]
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// The last word separator in `b` (the end of the part of a chunk that holds only whole
/// words), if any.
fn last_separator(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| is_space(c))
}

/// Streams `files` (expanded by [`expand_input`] already, every one re-readable) as one
/// corpus in chunks of about [`CHUNK_BYTES`] that end after a word separator, so that no
/// word spans two chunks; between files, a newline is fed when a file does not end with one
/// (as [`read_all`] joins them). Plain files are memory-mapped and the pages of each chunk
/// are released (`madvise(MADV_DONTNEED)`) once `f` has returned, so the resident memory of
/// the text stays at about one chunk; `.gz` files are decompressed chunk by chunk.
pub fn stream_chunks(files: &[PathBuf], f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let several = files.len() > 1;
    for path in files {
        let ends_with_newline = if is_gz(path) {
            stream_gz(path, f)?
        } else {
            stream_mapped(path, f)?
        };
        if several && !ends_with_newline {
            f(b"\n")?;
        }
    }
    Ok(())
}

/// Returns whether the decompressed text ended with a newline (or was empty).
fn stream_gz(path: &Path, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut dec = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let mut buf = vec![0u8; CHUNK_BYTES];
    let (mut filled, mut checked, mut last) = (0usize, false, b'\n');
    loop {
        if filled == buf.len() {
            // Hand over the whole words; keep the unfinished one for the next read (a
            // word longer than the buffer grows it).
            match last_separator(&buf) {
                Some(i) => {
                    f(&buf[..=i])?;
                    buf.copy_within(i + 1..filled, 0);
                    filled -= i + 1;
                }
                None => buf.resize(buf.len() * 2, 0),
            }
        }
        let n = dec
            .read(&mut buf[filled..])
            .map_err(|e| Error::input(path, format!("cannot decompress gzip data: {e}")))?;
        filled += n;
        if filled > 0 {
            last = buf[filled - 1];
        }
        if !checked && (filled >= 1 << 16 || n == 0) {
            check_text(path, &buf[..filled])?;
            checked = true;
        }
        if n == 0 {
            if filled > 0 {
                f(&buf[..filled])?;
            }
            return Ok(last == b'\n');
        }
    }
}

fn stream_mapped(path: &Path, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
    stream_range(path, None, f)
}

/// Streams bytes `range` of a plain file (all of it with `None`) in chunks ending after a
/// word separator; returns whether the file ends with a newline (or is empty).
fn stream_range(
    path: &Path,
    range: Option<(usize, usize)>,
    f: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<bool> {
    let bytes = read_bytes(path)?;
    check_text(path, &bytes)?;
    let (mut start, stop) = range.unwrap_or((0, bytes.len()));
    let stop = stop.min(bytes.len());
    while start < stop {
        let mut end = (start + CHUNK_BYTES).min(stop);
        if end < stop {
            // Extend to the next separator so the chunk ends on a whole word.
            end = bytes[end..stop]
                .iter()
                .position(|&c| is_space(c))
                .map_or(stop, |i| end + i + 1);
        }
        f(&bytes[start..end])?;
        release(&bytes, start, end);
        start = end;
    }
    Ok(bytes.last().is_none_or(|&b| b == b'\n'))
}

/// A byte range of one corpus file (`start..end`; a compressed file is always whole): a
/// rank's share of the corpus (`dist::split`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub path: PathBuf,
    pub start: u64,
    pub end: u64,
    /// The range ends at the end of its file.
    pub to_end: bool,
}

/// [`stream_chunks`] over one rank's part of the corpus (`dist::split`): each piece's bytes
/// in order, a newline fed after a piece that ends its file when the file does not end
/// with one and the corpus has several files (as [`read_all`] joins files).
pub fn stream_pieces(
    pieces: &[Piece],
    several_files: bool,
    f: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    for p in pieces {
        let ends_with_newline = if is_gz(&p.path) {
            stream_gz(&p.path, f)?
        } else {
            stream_range(&p.path, Some((p.start as usize, p.end as usize)), f)?
        };
        if several_files && p.to_end && !ends_with_newline {
            f(b"\n")?;
        }
    }
    Ok(())
}

/// Drops the resident pages of `bytes[start..end]` when it is a file mapping (they are
/// read again from the file if touched later).
fn release(bytes: &CorpusBytes, start: usize, end: usize) {
    #[cfg(unix)]
    if let CorpusBytes::Mapped(map) = bytes {
        const PAGE: usize = 4096;
        let lo = start.div_ceil(PAGE) * PAGE;
        let hi = if end == map.len() {
            end
        } else {
            end / PAGE * PAGE
        };
        if hi > lo {
            // SAFETY: a read-only private file mapping: MADV_DONTNEED only drops the
            // pages, and a later read faults them in again from the file with the same
            // content; no slice of the range is held past this call.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, lo, hi - lo)
            };
        }
    }
    #[cfg(not(unix))]
    let _ = (bytes, start, end);
}

/// The encoded corpus: word ids, in memory or in a memory-mapped cache file (deleted when
/// the stream is dropped; on Unix it is unlinked as soon as it is mapped).
pub enum IdStream {
    Memory(Vec<u32>),
    Mapped {
        map: memmap2::Mmap,
        len: usize,
        path: PathBuf,
    },
}

impl IdStream {
    /// Bytes of the cache file (0 in memory).
    pub fn cache_bytes(&self) -> u64 {
        match self {
            IdStream::Memory(_) => 0,
            IdStream::Mapped { len, .. } => *len as u64 * 4,
        }
    }
}

impl std::fmt::Debug for IdStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdStream::Memory(v) => write!(f, "IdStream::Memory({} ids)", v.len()),
            IdStream::Mapped { len, path, .. } => {
                write!(f, "IdStream::Mapped({len} ids, {})", path.display())
            }
        }
    }
}

impl From<Vec<u32>> for IdStream {
    fn from(v: Vec<u32>) -> IdStream {
        IdStream::Memory(v)
    }
}

impl std::ops::Deref for IdStream {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        match self {
            IdStream::Memory(v) => v,
            IdStream::Mapped { map, len, .. } => bytemuck::cast_slice(&map[..len * 4]),
        }
    }
}

impl Drop for IdStream {
    fn drop(&mut self) {
        if let IdStream::Mapped { path, .. } = self {
            let _ = std::fs::remove_file(path.as_path());
        }
    }
}

/// Writes an id stream to a cache file in `dir`, then maps it. Dropped unfinished (an
/// error while encoding), it removes the file.
pub struct IdCacheWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    len: usize,
}

impl IdCacheWriter {
    pub fn create(dir: &Path) -> Result<IdCacheWriter> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "w2v-gpu-ids-{}-{}.u32",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        // Readable too: the finished file is mapped through the same handle.
        let file =
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| {
                    Error::io(
                &path,
                std::io::Error::new(
                    e.kind(),
                    format!("{e}; the id cache needs a writable directory: give --cache-dir DIR"),
                ),
            )
                })?;
        Ok(IdCacheWriter {
            path,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            len: 0,
        })
    }

    #[inline]
    pub fn push(&mut self, id: u32) -> Result<()> {
        use std::io::Write;
        self.len += 1;
        let out = self.out.as_mut().expect("IdCacheWriter used after finish");
        out.write_all(&id.to_le_bytes())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Ids written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Flushes and maps the file.
    pub fn finish(mut self) -> Result<IdStream> {
        let out = self.out.take().expect("IdCacheWriter finished twice");
        let path = self.path.clone();
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        if self.len == 0 {
            let _ = std::fs::remove_file(&path);
            return Ok(IdStream::Memory(Vec::new()));
        }
        // SAFETY: the file was created by this process under a unique name; nothing else
        // writes it, and it is removed (Unix: now; elsewhere: when the stream is dropped).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
        #[cfg(unix)]
        let _ = std::fs::remove_file(&path);
        Ok(IdStream::Mapped {
            map,
            len: self.len,
            path,
        })
    }
}

impl Drop for IdCacheWriter {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
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

pub(crate) fn is_gz(path: &Path) -> bool {
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
    read_bytes_of(
        path,
        "check the path given to --input (a text file, .gz, a directory of files, or - for standard input)",
        "--input needs a text file",
    )
}

/// [`read_bytes`] for a file that is not a corpus (a vectors file, a model): what it is
/// expected to be, for the messages of a missing path or a directory.
pub fn read_model_bytes(path: &Path, expected: &str) -> Result<CorpusBytes> {
    read_bytes_of(
        path,
        &format!("check the path (expected {expected})"),
        &format!("expected {expected}"),
    )
}

/// [`read_bytes`] with the advice for a missing path and for a directory.
fn read_bytes_of(path: &Path, missing: &str, directory: &str) -> Result<CorpusBytes> {
    if path.as_os_str() == "-" {
        return read_stream(path, std::io::stdin().lock());
    }
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(path, format!("no such file; {missing}")),
        _ => Error::io(path, e),
    })?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::input(path, format!("is a directory; {directory}")));
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
