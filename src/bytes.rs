//! Bounds-checked reads of little-endian values from a binary file's bytes, for the model
//! readers (fastText's `.bin`, doc2vec models): every read past the end is an error naming
//! the file, never a panic.

use crate::error::{Error, Result};

/// A reading position in a file's bytes; `bad` turns a reason into the reader's error.
pub(crate) struct Cursor<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) at: usize,
    pub(crate) bad: &'a dyn Fn(&str) -> Error,
}

impl Cursor<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8]> {
        let s = self
            .at
            .checked_add(n)
            .and_then(|end| self.data.get(self.at..end))
            .ok_or_else(|| (self.bad)("the file ends early (truncated?)"))?;
        self.at += n;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// `n` f32 values.
    pub(crate) fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        let bytes = n
            .checked_mul(4)
            .ok_or_else(|| (self.bad)("a matrix larger than memory"))?;
        Ok(self
            .take(bytes)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }

    /// Bytes not read yet.
    pub(crate) fn left(&self) -> usize {
        self.data.len().saturating_sub(self.at)
    }
}
