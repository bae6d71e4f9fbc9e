//! fastText `.bin` and `.ftz` models: parsed, then asked for what `vector`, `print-ngrams`,
//! `print-sentence-vectors`, `nn` and `analogies` ask of them (a model without quantized
//! matrices, which those commands read), and a classifier's predictions (`predict`, `test`,
//! also on quantized and pruned models). Any input must give a model or an error, never a
//! panic or an abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use w2v_gpu::classifier::{Classifier, Features};
use w2v_gpu::fasttext::{sentence_vector, FastTextModel};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = FastTextModel::from_bytes_quantized(Path::new("fuzz.bin"), data) else {
        return;
    };
    if m.quant.is_some() || m.pruneidx.is_some() {
        assert!(FastTextModel::from_bytes(Path::new("fuzz.bin"), data).is_err());
        classify(m);
        return;
    }
    let first = m.words.first().cloned().unwrap_or_default();
    let ids = m.ids();
    let mut vectors = Vec::new();
    for w in [first.as_str(), "unseen", "naïve", "</s>", ""] {
        let id = ids.get(w).copied();
        if let Some(v) = m.vector(w, id) {
            vectors.push(v);
        }
        let _ = m.ngram_vectors(w, id);
    }
    let _ = sentence_vector(m.dim, vectors.iter().map(Vec::as_slice));
    let nb = m.neighbours();
    let _ = nb.nn(&first, 3);
    let _ = nb.analogies(&first, "unseen", "naïve", 3);
    classify(m);
});

/// What `predict`, `test` and `print-sentence-vectors` ask of a classifier.
fn classify(m: FastTextModel) {
    let first = m.words.first().cloned().unwrap_or_default();
    if let Ok(c) = Classifier::from_model(m, Path::new("fuzz.bin")) {
        let mut f = Features::default();
        let line = format!("{first} unseen __label__x naïve");
        c.features(line.as_bytes(), true, &mut f);
        let _ = c.predict(&f.rows, None, 0.0);
        let _ = c.predict(&f.rows, Some(2), 0.5);
        let _ = c.sentence_vector(&f.rows);
    }
}
