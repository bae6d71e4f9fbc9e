//! word2vec.c's evaluation tool `compute-accuracy`, with its arithmetic and its output byte
//! for byte, so that `compute-accuracy vectors.bin 30000 < questions-words.txt` scripts keep
//! working (and keep their numbers) after switching.

use crate::io::Embeddings;
use std::fmt::Write as _;

/// word2vec.c's vocabulary entries hold at most this many bytes (`max_w`).
const MAX_W: usize = 50;

/// C's `%.2f` of a float as glibc prints it on x86 (a NaN from 0/0 carries the sign bit).
fn c_percent(x: f32) -> String {
    if x.is_nan() {
        "-nan".to_string()
    } else {
        format!("{:.2}", x as f64)
    }
}

/// `compute-accuracy FILE [threshold] < questions`: the first `threshold` rows of `emb` (all
/// with 0) upper-cased byte by byte (ASCII, as C's `toupper`) and divided by their f32 norm;
/// each question `a b c d` answered by the row with the largest dot product with
/// `(b − a) + c` (the three rows themselves left out, the first of equal scores kept, none
/// scoring above 0 an empty answer), counted right when that row's word is `d`; questions
/// with a word outside the rows skipped but counted in the total. Sections (`: name` lines)
/// print their accuracy and the running totals, the first five counted as semantic and the
/// rest as syntactic, as word2vec.c does. Returns the text word2vec.c prints.
pub fn compute_accuracy(emb: &Embeddings, threshold: usize, questions: &str) -> String {
    let n = if threshold > 0 {
        threshold.min(emb.words.len())
    } else {
        emb.words.len()
    };
    let dim = emb.dim;
    let upper = |w: &str| -> Vec<u8> { w.bytes().map(|b| b.to_ascii_uppercase()).collect() };
    let vocab: Vec<Vec<u8>> = emb.words[..n]
        .iter()
        .map(|w| {
            let mut u = upper(w);
            u.truncate(MAX_W);
            u
        })
        .collect();
    let mut m = emb.vectors[..n * dim].to_vec();
    for row in m.chunks_mut(dim.max(1)) {
        let mut len = 0.0f32;
        for x in row.iter() {
            len += x * x;
        }
        let len = len.sqrt();
        row.iter_mut().for_each(|x| *x /= len);
    }
    // The first row of each word (C searches from row 0).
    let mut index: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for (i, w) in vocab.iter().enumerate().rev() {
        index.insert(w.as_slice(), i);
    }
    let mut out = String::new();
    let (mut tcn, mut ccn, mut tacn, mut cacn) = (0i32, 0i32, 0i32, 0i32);
    let (mut secn, mut sycn, mut seac, mut syac) = (0i32, 0i32, 0i32, 0i32);
    let (mut qid, mut tq, mut tqs) = (0i32, 0i32, 0i32);
    let mut tokens = questions.split_ascii_whitespace().peekable();
    let report = |out: &mut String, tcn: &mut i32, ccn: i32, tot: [i32; 6]| {
        let [cacn, tacn, seac, secn, syac, sycn] = tot;
        if *tcn == 0 {
            *tcn = 1;
        }
        let _ = writeln!(
            out,
            "ACCURACY TOP1: {} %  ({} / {})",
            c_percent(ccn as f32 / *tcn as f32 * 100.0),
            ccn,
            tcn
        );
        let _ = writeln!(
            out,
            "Total accuracy: {} %   Semantic accuracy: {} %   Syntactic accuracy: {} % ",
            c_percent(cacn as f32 / tacn as f32 * 100.0),
            c_percent(seac as f32 / secn as f32 * 100.0),
            c_percent(syac as f32 / sycn as f32 * 100.0)
        );
    };
    loop {
        let st1 = tokens.next().map(upper);
        let at_end = st1.is_none();
        if at_end || st1.as_deref() == Some(b":") || st1.as_deref() == Some(b"EXIT") {
            if qid != 0 {
                report(
                    &mut out,
                    &mut tcn,
                    ccn,
                    [cacn, tacn, seac, secn, syac, sycn],
                );
            }
            qid += 1;
            match tokens.next() {
                Some(name) if !at_end => {
                    let _ = writeln!(out, "{name}:");
                }
                _ => break,
            }
            tcn = 0;
            ccn = 0;
            continue;
        }
        let st1 = st1.unwrap_or_default();
        let rest: Vec<Vec<u8>> = (0..3)
            .map(|_| tokens.next().map(upper).unwrap_or_default())
            .collect();
        let (st2, st3, st4) = (&rest[0], &rest[1], &rest[2]);
        tq += 1;
        let find = |w: &[u8]| index.get(w).copied();
        let (Some(b1), Some(b2), Some(b3), Some(_)) = (find(&st1), find(st2), find(st3), find(st4))
        else {
            continue;
        };
        let row = |i: usize| &m[i * dim..(i + 1) * dim];
        let vec: Vec<f32> = (0..dim)
            .map(|a| (row(b2)[a] - row(b1)[a]) + row(b3)[a])
            .collect();
        tqs += 1;
        let (mut best, mut best_word): (f32, &[u8]) = (0.0, b"");
        for (c, word) in vocab.iter().enumerate() {
            if c == b1 || c == b2 || c == b3 {
                continue;
            }
            let mut dist = 0.0f32;
            for (v, x) in vec.iter().zip(row(c)) {
                dist += v * x;
            }
            if dist > best {
                best = dist;
                best_word = word;
            }
        }
        if st4.as_slice() == best_word {
            ccn += 1;
            cacn += 1;
            if qid <= 5 {
                seac += 1;
            } else {
                syac += 1;
            }
        }
        if qid <= 5 {
            secn += 1;
        } else {
            sycn += 1;
        }
        tcn += 1;
        tacn += 1;
    }
    let _ = writeln!(
        out,
        "Questions seen / total: {} {}   {} % ",
        tqs,
        tq,
        c_percent(tqs as f32 / tq as f32 * 100.0)
    );
    out
}
