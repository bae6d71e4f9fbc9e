//! doc2vec models (`doc2vec --save-model`, read by `infer`): any input must parse or give an
//! error, never a panic or an abort; a model that parses infers vectors of its dimension.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use w2v_gpu::doc2vec::{infer_many, Doc2Vec, InferSettings};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Doc2Vec::from_bytes(Path::new("fuzz.d2v"), data) {
        let s = InferSettings {
            epochs: Some(1),
            ..InferSettings::default()
        };
        let texts = vec![vec!["a", "the", "zzz"], vec![]];
        for v in infer_many(&m, &texts, &s, 1) {
            assert_eq!(v.len(), m.dim());
        }
    }
});
