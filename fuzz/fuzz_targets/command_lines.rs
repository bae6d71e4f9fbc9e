//! Command lines: word2vec.c's and fastText's translated as `main` translates them, then
//! parsed, and a `train` command line turned into a configuration and validated (every flag's
//! range and every combination's check, with the arithmetic on sizes they do). Arguments are
//! the input split at NUL bytes. Any input must give a configuration or an error, never a
//! panic (the fuzz build checks integer overflow too).
#![no_main]
use clap::Parser;
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use w2v_gpu::cli::{Cli, Command};
use w2v_gpu::{fasttext_args, w2vc_args};

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = data
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    let args = if w2vc_args::is_word2vec_c(&args) {
        match w2vc_args::translate(&args) {
            Ok(a) => a,
            Err(_) => return,
        }
    } else if fasttext_args::is_fasttext(&args) {
        match fasttext_args::translate(&args) {
            Ok(fasttext_args::Translation::Args(a, _)) => a,
            _ => return,
        }
    } else {
        std::iter::once(OsString::from("w2v-gpu"))
            .chain(args)
            .collect()
    };
    let Ok(cli) = Cli::try_parse_from(args) else {
        return;
    };
    if let Command::Train(t) = cli.command {
        if let Ok(cfg) = t.to_config() {
            let _ = cfg.validate();
        }
    }
});
