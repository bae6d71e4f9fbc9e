//! word2vec.c's own command line (`w2v-gpu -train corpus.txt -output vec.bin -cbow 0 -size
//! 300 ...`), translated into `train` arguments with word2vec.c's defaults for every flag
//! that is absent (CBOW, 12 threads, text output, sample 1e-3, ...), so a ported script
//! trains what word2vec.c would (`-hs 1` is `--hs`, `-negative 0` hierarchical softmax
//! alone). A flag word2vec.c does not have, or a value this program cannot honour (e.g.
//! `-negative 0` without `-hs 1`, which word2vec.c would train into nothing), is a usage
//! error, never a silent success.

use crate::error::{Error, Result};
use std::ffi::OsString;

/// word2vec.c's flags, each taking one value.
pub const FLAGS: [&str; 17] = [
    "-train",
    "-output",
    "-size",
    "-window",
    "-sample",
    "-hs",
    "-negative",
    "-threads",
    "-iter",
    "-min-count",
    "-alpha",
    "-classes",
    "-debug",
    "-binary",
    "-save-vocab",
    "-read-vocab",
    "-cbow",
];

/// Whether `args` (without the program name) is a word2vec.c command line: it starts with
/// one of its single-dash flags.
pub fn is_word2vec_c(args: &[OsString]) -> bool {
    args.first()
        .and_then(|a| a.to_str())
        .is_some_and(|a| FLAGS.contains(&a))
}

/// The `train` arguments for a word2vec.c command line.
pub fn translate(args: &[OsString]) -> Result<Vec<OsString>> {
    let mut values: Vec<(&str, OsString)> = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let f = flag.to_string_lossy();
        let Some(&known) = FLAGS.iter().find(|&&k| k == f) else {
            return Err(Error::usage(
                &f,
                format!(
                    "is not a word2vec.c flag (a word2vec.c command line was recognised by its first flag); word2vec.c's flags are {}",
                    FLAGS.join(" ")
                ),
            ));
        };
        let Some(v) = it.next() else {
            return Err(Error::usage(known, "needs a value, as in word2vec.c"));
        };
        values.retain(|(k, _)| *k != known);
        values.push((known, v.clone()));
    }
    let get = |k: &str| values.iter().find(|(f, _)| *f == k).map(|(_, v)| v.clone());
    let num = |k: &str, default: i64| -> Result<i64> {
        match get(k) {
            None => Ok(default),
            Some(v) => v
                .to_string_lossy()
                .parse::<i64>()
                .map_err(|_| Error::usage(k, format!("{:?} is not an integer", v))),
        }
    };
    let (Some(train), Some(output)) = (get("-train"), get("-output")) else {
        return Err(Error::usage(
            "-train/-output",
            "word2vec.c's command line needs -train FILE and -output FILE",
        ));
    };
    let hs = match num("-hs", 0)? {
        0 => false,
        1 => true,
        n => return Err(Error::usage("-hs", format!("{n} is not 0 or 1"))),
    };
    let negative = num("-negative", 5)?;
    if negative < 0 || (negative == 0 && !hs) {
        return Err(Error::usage(
            "-negative",
            "must be at least 1, or 0 together with -hs 1 (hierarchical softmax alone)",
        ));
    }
    if num("-classes", 0)? < 0 {
        return Err(Error::usage(
            "-classes",
            "must be 0 (vectors) or a number of classes",
        ));
    }
    let cbow = num("-cbow", 1)? != 0;
    let binary = num("-binary", 0)? != 0;
    let mut out: Vec<OsString> = vec!["w2v-gpu".into(), "train".into()];
    let mut push = |flag: &str, v: OsString| {
        out.push(flag.into());
        out.push(v);
    };
    push("--input", train);
    push("--output", output);
    push("--model", if cbow { "cbow" } else { "skipgram" }.into());
    push("--format", if binary { "binary" } else { "text" }.into());
    // word2vec.c's defaults where this program's differ; the rest are the same values.
    push("--threads", get("-threads").unwrap_or_else(|| "12".into()));
    for (w2vc, ours) in [
        ("-size", "--dim"),
        ("-window", "--window"),
        ("-sample", "--sample"),
        ("-negative", "--negative"),
        ("-iter", "--epochs"),
        ("-min-count", "--min-count"),
        ("-alpha", "--alpha"),
        ("-save-vocab", "--save-vocab"),
        ("-read-vocab", "--read-vocab"),
        ("-classes", "--classes"),
    ] {
        if let Some(v) = get(w2vc) {
            push(ours, v);
        }
    }
    if hs {
        out.push("--hs".into());
    }
    if num("-debug", 2)? == 0 {
        out.push("--quiet".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn s(v: Vec<OsString>) -> Vec<String> {
        v.into_iter()
            .map(|x| x.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn word2vec_c_defaults_fill_absent_flags() {
        let a = os(&["-train", "c.txt", "-output", "v.bin"]);
        assert!(is_word2vec_c(&a));
        let t = s(translate(&a).unwrap());
        let joined = t.join(" ");
        assert!(joined.contains("--model cbow"), "{joined}");
        assert!(
            joined.contains("--format text"),
            "-binary 0 is the default: {joined}"
        );
        assert!(joined.contains("--threads 12"), "{joined}");
    }

    #[test]
    fn every_flag_maps_and_bad_ones_fail() {
        let a = os(&[
            "-train",
            "c",
            "-output",
            "v",
            "-cbow",
            "0",
            "-size",
            "300",
            "-window",
            "5",
            "-negative",
            "5",
            "-hs",
            "0",
            "-sample",
            "1e-4",
            "-threads",
            "8",
            "-binary",
            "1",
            "-iter",
            "5",
            "-min-count",
            "5",
            "-alpha",
            "0.025",
            "-save-vocab",
            "sv",
            "-read-vocab",
            "rv",
            "-classes",
            "0",
            "-debug",
            "2",
        ]);
        let j = s(translate(&a).unwrap()).join(" ");
        for want in [
            "--model skipgram",
            "--dim 300",
            "--window 5",
            "--negative 5",
            "--sample 1e-4",
            "--threads 8",
            "--format binary",
            "--epochs 5",
            "--min-count 5",
            "--alpha 0.025",
            "--save-vocab sv",
            "--read-vocab rv",
        ] {
            assert!(j.contains(want), "{want} missing in {j}");
        }
        let hs = s(translate(&os(&[
            "-train",
            "c",
            "-output",
            "v",
            "-hs",
            "1",
            "-negative",
            "0",
        ]))
        .unwrap())
        .join(" ");
        assert!(hs.contains("--hs") && hs.contains("--negative 0"), "{hs}");
        for bad in [
            &["-train", "c", "-output", "v", "-hs", "2"][..],
            &["-train", "c", "-output", "v", "-negative", "0"],
            &["-train", "c", "-output", "v", "-classes", "-3"],
            &["-train", "c", "-output", "v", "-sise", "10"],
            &["-train", "c", "-output", "v", "-size"],
            &["-train", "c"],
        ] {
            let e = translate(&os(bad)).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
        assert!(!is_word2vec_c(&os(&["train", "--input", "x"])));
        assert!(!is_word2vec_c(&os(&["--help"])));
    }
}
