//! Training checkpoints (`--resume`): any input must parse or give an error, never a panic
//! or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = w2v_gpu::checkpoint::Checkpoint::from_bytes(Path::new("fuzz.ckpt"), data);
});
