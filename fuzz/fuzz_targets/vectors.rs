//! word2vec text and binary vectors files: parsed, then queried as `similar` and `analogy`
//! query them. Any input must give vectors or an error, never a panic or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use w2v_gpu::eval::Space;

fuzz_target!(|data: &[u8]| {
    let limit = data.first().map(|&b| b as usize % 4).filter(|&l| l > 0);
    let Ok(emb) = w2v_gpu::io::parse_vectors(Path::new("fuzz.bin"), data, limit) else {
        return;
    };
    let space = Space::new(&emb, true);
    if let Some(w) = emb.words.first() {
        let _ = space.similar(w, 3);
        let _ = space.analogy(w, w, w, 2, false);
        let _ = space.analogy(w, w, w, 2, true);
    }
});
