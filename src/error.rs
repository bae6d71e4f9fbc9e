//! The library's error type: what can go wrong, always naming the file or flag involved.

use std::path::{Path, PathBuf};

/// Every failure the library reports. The CLI maps [`Error::Usage`] to exit code 2 and
/// everything else to exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag value that cannot work (`--dim 0`, a negative `--sample`, ...).
    #[error("invalid value for {flag}: {message}")]
    Usage { flag: String, message: String },

    /// Reading or writing a file failed at the OS level.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },

    /// A file was read but its content is unusable.
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },

    /// The GPU path failed: no adapter, a validation or internal device error.
    #[error("{0}")]
    Gpu(String),

    /// The device was lost (driver reset, GPU removed or hung).
    #[error("GPU error on {adapter}: device lost ({message})\nthe device was lost (driver reset, GPU removed or hung); restart the run, on another adapter or --backend cpu if it repeats.")]
    GpuDeviceLost { adapter: String, message: String },

    /// The device ran out of memory.
    #[error("GPU error on {adapter}: {message}\nthe device is out of memory; use a smaller --dim, --gpu-batch or --batch-size, or --backend cpu.")]
    GpuOutOfMemory { adapter: String, message: String },

    /// Training diverged (a non-finite or exploding loss, non-finite vectors); nothing was
    /// written, the newest checkpoint (if any) is kept.
    #[error("{0}")]
    Diverged(String),

    /// Another rank of a distributed run failed (or this one, as every rank reports it):
    /// every rank stops with the failing rank's message and exit code.
    #[error("rank {rank} of the MPI job: {message}")]
    Ranks {
        rank: usize,
        code: i32,
        message: String,
    },

    /// Training stopped on SIGINT/SIGTERM after saving what it could; the message says
    /// how to resume.
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    pub fn usage(flag: &str, message: impl Into<String>) -> Self {
        Error::Usage {
            flag: flag.to_string(),
            message: message.into(),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            cause: source,
        }
    }

    pub fn input(path: &Path, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// The process exit code this error maps to: 2 for usage errors, 130 for an
    /// interrupted run (the shell convention for SIGINT), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } => 2,
            Error::Interrupted(_) => 130,
            Error::Ranks { code, .. } => *code,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `x` as a person reads it in an error: scientific notation where plain digits would run
/// long (`1e30`, not thirty-one digits; `2.5e-7`), plain otherwise (`0.025`).
pub fn readable<T>(x: T) -> String
where
    T: Copy + Into<f64> + std::fmt::Display + std::fmt::LowerExp,
{
    let a = x.into().abs();
    if a != 0.0 && a.is_finite() && !(1e-4..1e6).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn readable_numbers() {
        assert_eq!(readable(0.025f32), "0.025");
        assert_eq!(readable(1e30f32), "1e30");
        assert_eq!(readable(2.5e29f32), "2.5e29");
        assert_eq!(readable(2.5e-7f64), "2.5e-7");
        assert_eq!(readable(0.0f32), "0");
        assert_eq!(readable(12345.5f64), "12345.5");
        assert_eq!(readable(f64::INFINITY), "inf");
        assert_eq!(readable(f64::NAN), "NaN");
    }
}
