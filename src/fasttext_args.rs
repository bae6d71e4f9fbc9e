//! fastText's own command line for word vectors (`w2v-gpu skipgram -input data.txt -output
//! model -minn 3 -maxn 6 ...`, `w2v-gpu print-word-vectors model.bin < words` (and
//! `print-sentence-vectors`, `print-ngrams`, `dump`), and the
//! query loops `nn` and `analogies`), translated into `train` and `vector` arguments with fastText's defaults for every absent
//! flag: subwords 3–6 characters in 2M buckets, learning rate 0.05 falling to 0, sample 1e-4,
//! 12 threads, noise words drawn ∝ count^0.5 (fastText's table), and its outputs `model.bin`
//! (fastText's format) and `model.vec`. Its text classification (`supervised`, `predict`,
//! `predict-prob`, `test`, `test-label`) runs [`crate::classifier`] with fastText's flags
//! and defaults. A flag fastText does not have, or one of its quantization or autotune
//! options, is a usage error, never a silent success.

use crate::classifier::SupDevice;
use crate::error::{Error, Result};
use std::ffi::OsString;

/// fastText's commands for word vectors that have a translation here.
const TRAIN: [&str; 2] = ["skipgram", "cbow"];

/// Why fastText's quantization is refused.
const QUANTIZE: &str = "it belongs to `quantize`, run on a classifier after `supervised`";
/// Why fastText's supervised-only flags are refused.
const SUPERVISED: &str = "it belongs to fastText's supervised mode";

/// fastText's classifier commands that read a model and a text.
const CLASSIFY: [&str; 4] = ["predict", "predict-prob", "test", "test-label"];

/// Why fastText's autotune flags are refused.
const AUTOTUNE: &str = "is not an autotune flag; they are -autotune-validation -autotune-metric -autotune-predictions -autotune-duration -autotune-modelsize";

/// The flags of fastText's `supervised` that take a value.
/// (and [`SupDevice::FLAGS`](crate::classifier::SupDevice::FLAGS), where it trains).
const SUPERVISED_VALUED: [&str; 20] = [
    "-input",
    "-output",
    "-lr",
    "-lrUpdateRate",
    "-dim",
    "-ws",
    "-epoch",
    "-minCount",
    "-minCountLabel",
    "-neg",
    "-wordNgrams",
    "-loss",
    "-bucket",
    "-minn",
    "-maxn",
    "-thread",
    "-t",
    "-label",
    "-verbose",
    "-pretrainedVectors",
];

/// The parts of a model fastText's `dump` prints.
pub const DUMP_PARTS: [&str; 4] = ["args", "dict", "input", "output"];

/// fastText's printing commands, as `vector` runs them: the command, its arguments after
/// the model (as fastText's usage names them), and `vector`'s flags for it.
const PRINTS: [(&str, &str, &[&str]); 3] = [
    ("print-word-vectors", "< words", &["--zero-unknown"]),
    ("print-sentence-vectors", "< lines", &["--sentences"]),
    ("print-ngrams", "WORD", &["--ngrams"]),
];

/// fastText's training flags that take a value and their `train` equivalents.
const VALUED: [(&str, &str); 13] = [
    ("-input", "--input"),
    ("-lr", "--alpha"),
    ("-dim", "--dim"),
    ("-ws", "--window"),
    ("-epoch", "--epochs"),
    ("-minCount", "--min-count"),
    ("-neg", "--negative"),
    ("-bucket", "--bucket"),
    ("-minn", "--minn"),
    ("-maxn", "--maxn"),
    ("-thread", "--threads"),
    ("-t", "--sample"),
    ("-seed", "--seed"),
];

/// fastText's flags that take a value and are handled below (not a plain mapping).
const SPECIAL: [&str; 5] = [
    "-output",
    "-loss",
    "-verbose",
    "-wordNgrams",
    "-lrUpdateRate",
];

/// fastText's flags that belong to its supervised mode, quantization or autotune, or that
/// cannot be honoured here, with the reason.
const REFUSED: [(&str, &str); 12] = [
    ("-label", SUPERVISED),
    ("-minCountLabel", SUPERVISED),
    ("-pretrainedVectors", "use `w2v-gpu train --init-vectors FILE` (the corpus words found in FILE start from its vectors; fastText also adds FILE's other words to the vocabulary, which w2v-gpu does not)"),
    ("-cutoff", QUANTIZE),
    ("-dsub", QUANTIZE),
    ("-qnorm", QUANTIZE),
    ("-qout", QUANTIZE),
    ("-retrain", QUANTIZE),
    ("-autotune-validation", SUPERVISED),
    ("-autotune-metric", SUPERVISED),
    ("-autotune-predictions", SUPERVISED),
    ("-autotune-duration", SUPERVISED),
];

/// fastText's interactive query commands: `nn MODEL [K]` and `analogies MODEL [K]`.
const QUERIES: [&str; 2] = ["nn", "analogies"];

/// Whether `args` (without the program name) is a fastText command line: it starts with one
/// of fastText's commands (none of which is a w2v-gpu subcommand).
pub fn is_fasttext(args: &[OsString]) -> bool {
    args.first().and_then(|a| a.to_str()).is_some_and(|a| {
        TRAIN.contains(&a)
            || a == "supervised"
            || CLASSIFY.contains(&a)
            || QUERIES.contains(&a)
            || PRINTS.iter().any(|(c, _, _)| *c == a)
            || a == "dump"
            || a == "quantize"
    })
}

/// What a fastText command line runs here.
#[derive(Debug, PartialEq)]
pub enum Translation {
    /// These w2v-gpu arguments (program name first), after printing these notes about flags
    /// that have no effect.
    Args(Vec<OsString>, Vec<String>),
    /// fastText's `nn` (`analogies: false`: the `k` nearest words of each word read from
    /// standard input) or `analogies` (`A B C` triples: the words nearest `A - B + C`),
    /// with fastText's prompts and `word score` lines.
    Queries {
        model: std::path::PathBuf,
        k: usize,
        analogies: bool,
    },
    /// fastText's `dump MODEL PART`: one of [`DUMP_PARTS`] printed as fastText prints it.
    Dump {
        model: std::path::PathBuf,
        part: &'static str,
    },
    /// fastText's `supervised`: train a classifier, write `output.bin` and `output.vec`
    /// (and with `-saveOutput` the labels' rows as `output.output`).
    Supervised {
        config: Box<crate::classifier::SupConfig>,
        output: String,
        save_output: bool,
        verbose: i64,
        /// fastText's autotune: its flags, and the settings the user gave (never tuned).
        autotune: Option<(crate::autotune::AutotuneArgs, Vec<String>)>,
    },
    /// fastText's `quantize`: `output.bin` quantized into `output.ftz`.
    Quantize {
        args: crate::classifier::QuantArgs,
        input: Option<std::path::PathBuf>,
        output: String,
        verbose: i64,
    },
    /// fastText's `predict`/`predict-prob` (`test: false`) and `test`/`test-label`: the
    /// `k` best labels (all with `None`) of each line of `input` (`-`: standard input) over
    /// `threshold`.
    Classify {
        model: std::path::PathBuf,
        input: std::path::PathBuf,
        k: Option<usize>,
        threshold: f32,
        test: bool,
        /// `predict-prob`'s probabilities, `test-label`'s per-label scores.
        detail: bool,
    },
}

/// fastText's `predict`, `predict-prob`, `test`, `test-label`: `MODEL INPUT [k] [threshold]`.
fn classify(command: &str, args: &[OsString]) -> Result<Translation> {
    let usage = |why: &str| {
        Error::usage(
            &format!("fastText's command {command:?}"),
            format!("{why}; as fastText's: `{command} model.bin input.txt [k] [threshold]` (input - for standard input, k default 1 and -1 for every label, threshold default 0.0)"),
        )
    };
    if !(2..=4).contains(&args.len()) {
        return Err(usage(
            "takes a model, an input and at most k and a threshold",
        ));
    }
    let k = match args.get(2).map(|k| k.to_string_lossy()) {
        None => Some(1),
        Some(k) => match k.parse::<i64>() {
            Ok(-1) => None,
            Ok(k) if k >= 1 => Some(k as usize),
            _ => return Err(usage(&format!("k {k:?} is not 1 or more (or -1)"))),
        },
    };
    let threshold = match args.get(3).map(|t| t.to_string_lossy()) {
        None => 0.0,
        Some(t) => t
            .parse::<f32>()
            .ok()
            .filter(|t| t.is_finite())
            .ok_or_else(|| usage(&format!("threshold {t:?} is not a number")))?,
    };
    Ok(Translation::Classify {
        model: args[0].clone().into(),
        input: args[1].clone().into(),
        k,
        threshold,
        test: command.starts_with("test"),
        detail: command.ends_with("-prob") || command.ends_with("-label"),
    })
}

/// fastText's `quantize` flags: `-output MODEL` (reads `MODEL.bin`, writes `MODEL.ftz`),
/// `-input` (needed by `-retrain`), `-cutoff -dsub -epoch -lr -thread -verbose`, the
/// switches `-retrain -qnorm -qout`, and where `-retrain` trains ([`SupDevice::FLAGS`]).
fn quantize(args: &[OsString]) -> Result<Translation> {
    let mut q = crate::classifier::QuantArgs::default();
    let (mut input, mut output, mut verbose) = (None, None, 2i64);
    let mut device_flag = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let f = flag.to_string_lossy().into_owned();
        match f.as_str() {
            d if SupDevice::FLAGS.contains(&d) => {
                let Some(v) = it.next() else {
                    return Err(Error::usage(&f, "needs a value, as in supervised"));
                };
                q.device.set(&f, &v.to_string_lossy())?;
                device_flag = Some(f);
            }
            "-retrain" => q.retrain = true,
            "-qnorm" => q.qnorm = true,
            "-qout" => q.qout = true,
            "-input" | "-output" | "-cutoff" | "-dsub" | "-epoch" | "-lr" | "-thread"
            | "-verbose" => {
                let Some(v) = it.next() else {
                    return Err(Error::usage(&f, "needs a value, as in fastText"));
                };
                let text = v.to_string_lossy().into_owned();
                let bad = || Error::usage(&f, format!("{text:?} is not a valid value"));
                let size = || text.parse::<usize>().map_err(|_| bad());
                match f.as_str() {
                    "-input" => input = Some(std::path::PathBuf::from(v)),
                    "-output" => output = Some(text.clone()),
                    "-cutoff" => q.cutoff = size()?,
                    "-dsub" => q.dsub = size()?,
                    "-epoch" => q.epoch = size()?,
                    "-thread" => q.threads = size()?.max(1),
                    "-lr" => {
                        q.lr = text
                            .parse()
                            .ok()
                            .filter(|l: &f32| l.is_finite() && *l > 0.0)
                            .ok_or_else(bad)?
                    }
                    _ => verbose = text.parse().map_err(|_| bad())?,
                }
            }
            _ => {
                return Err(Error::usage(
                    &f,
                    format!("is not a flag of fastText's quantize; its flags are -input -output -cutoff -retrain -qnorm -qout -dsub -epoch -lr -thread -verbose, and where -retrain trains: {}", SupDevice::FLAGS.join(" ")),
                ))
            }
        }
    }
    let Some(output) = output else {
        return Err(Error::usage(
            "-output",
            "fastText's quantize needs -output MODEL: it reads MODEL.bin and writes MODEL.ftz",
        ));
    };
    if q.dsub == 0 {
        return Err(Error::usage("-dsub", "must be at least 1"));
    }
    if q.retrain && (input.is_none() || q.cutoff == 0) {
        return Err(Error::usage(
            "-retrain",
            "trains the rows -cutoff keeps on the text of -input; give both",
        ));
    }
    if let (Some(flag), false) = (&device_flag, q.retrain) {
        return Err(Error::usage(
            flag,
            "says where -retrain trains; without -retrain nothing trains (add -retrain -cutoff N -input TEXT, or leave it out)",
        ));
    }
    q.device.validate()?;
    Ok(Translation::Quantize {
        args: q,
        input,
        output,
        verbose,
    })
}

/// fastText's `supervised` flags, with its defaults for the absent ones.
fn supervised(args: &[OsString]) -> Result<Translation> {
    use crate::classifier::{Loss, SupConfig};
    let mut cfg = SupConfig::default();
    let (mut output, mut save_output, mut verbose) = (None, false, 2i64);
    let mut tune = crate::autotune::AutotuneArgs {
        validation: std::path::PathBuf::new(),
        metric: crate::autotune::Metric::F1,
        predictions: 1,
        duration: 300.0,
        model_size: None,
        dsub: 2,
    };
    let (mut autotune_flags, mut manual) = (false, Vec::new());
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let f = flag.to_string_lossy().into_owned();
        if f == "-saveOutput" {
            save_output = true;
            continue;
        }
        if let Some(which) = f.strip_prefix("-autotune-") {
            let Some(v) = it.next() else {
                return Err(Error::usage(&f, "needs a value, as in fastText"));
            };
            let text = v.to_string_lossy().into_owned();
            let bad = |why: &str| Error::usage(&f, format!("{text:?}: {why}"));
            match which {
                "validation" => tune.validation = v.into(),
                "metric" => {
                    tune.metric = crate::autotune::Metric::parse(&text).ok_or_else(|| {
                        bad("one of f1, f1:LABEL, precisionAtRecall:P, precisionAtRecall:P:LABEL, recallAtPrecision:P or recallAtPrecision:P:LABEL, P a percentage from 0 to 100 (fastText's metrics)")
                    })?
                }
                "predictions" => {
                    tune.predictions = text
                        .parse()
                        .ok()
                        .filter(|&k| k >= 1)
                        .ok_or_else(|| bad("not 1 or more"))?
                }
                "duration" => {
                    tune.duration = text
                        .parse::<f64>()
                        .ok()
                        .filter(|d| d.is_finite() && *d > 0.0)
                        .ok_or_else(|| bad("not a number of seconds"))?
                }
                "modelsize" => {
                    tune.model_size = Some(
                        crate::autotune::parse_model_size(&text)
                            .ok_or_else(|| bad("not a size such as 2M or 500K"))?,
                    )
                }
                _ => return Err(Error::usage(&f, AUTOTUNE)),
            }
            autotune_flags = true;
            continue;
        }
        if f == "-dsub" {
            let Some(v) = it.next() else {
                return Err(Error::usage(&f, "needs a value, as in fastText"));
            };
            tune.dsub = v
                .to_string_lossy()
                .parse()
                .ok()
                .filter(|&d| d >= 1)
                .ok_or_else(|| Error::usage(&f, "must be a number of values, 1 or more"))?;
            manual.push("dsub".into());
            continue;
        }
        if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == f) {
            if *why == QUANTIZE {
                return Err(Error::usage(&f, *why));
            }
        }
        let device = SupDevice::FLAGS.contains(&f.as_str());
        if !device && !SUPERVISED_VALUED.contains(&f.as_str()) {
            return Err(Error::usage(
                &f,
                format!(
                    "is not a flag of fastText's supervised; its flags are {} {} -saveOutput",
                    SUPERVISED_VALUED.join(" "),
                    SupDevice::FLAGS.join(" ")
                ),
            ));
        }
        let Some(v) = it.next() else {
            return Err(Error::usage(&f, "needs a value, as in fastText"));
        };
        manual.push(f[1..].to_string());
        let text = v.to_string_lossy().into_owned();
        if device {
            cfg.device.set(&f, &text)?;
            continue;
        }
        let bad = || Error::usage(&f, format!("{text:?} is not a valid value"));
        let int = || text.parse::<u64>().map_err(|_| bad());
        let size = || text.parse::<usize>().map_err(|_| bad());
        match f.as_str() {
            "-input" => cfg.input = v.into(),
            "-output" => output = Some(text.clone()),
            "-lr" => cfg.lr = text.parse().map_err(|_| bad())?,
            "-lrUpdateRate" => cfg.lr_update_rate = int()?,
            "-dim" => cfg.dim = size()?,
            "-ws" => cfg.ws = size()?,
            "-epoch" => cfg.epoch = size()?,
            "-minCount" => cfg.min_count = int()?,
            "-minCountLabel" => cfg.min_count_label = int()?,
            "-neg" => cfg.neg = size()?,
            "-wordNgrams" => cfg.word_ngrams = size()?,
            "-loss" => {
                cfg.loss = Loss::parse(&text).ok_or_else(|| {
                    Error::usage(
                        &f,
                        format!("{text:?}: one of softmax, ns, hs, ova (one-vs-all)"),
                    )
                })?
            }
            "-bucket" => cfg.bucket = size()?,
            "-minn" => cfg.minn = size()?,
            "-maxn" => cfg.maxn = size()?,
            "-thread" => cfg.threads = size()?,
            "-t" => cfg.t = text.parse().map_err(|_| bad())?,
            "-label" => cfg.label = text,
            "-verbose" => verbose = text.parse().map_err(|_| bad())?,
            "-pretrainedVectors" => cfg.pretrained = Some(v.into()),
            _ => unreachable!("every flag of SUPERVISED_VALUED is matched"),
        }
    }
    let (false, Some(output)) = (cfg.input.as_os_str().is_empty(), output) else {
        return Err(Error::usage(
            "-input/-output",
            "fastText's supervised needs -input FILE and -output MODEL (it writes MODEL.bin and MODEL.vec)",
        ));
    };
    cfg.validate()?;
    let autotune = if tune.validation.as_os_str().is_empty() {
        if autotune_flags {
            return Err(Error::usage(
                "-autotune-validation",
                "the other -autotune-* flags need it: the text the trials are scored on",
            ));
        }
        None
    } else {
        Some((tune, manual))
    };
    Ok(Translation::Supervised {
        config: Box::new(cfg),
        output,
        save_output,
        verbose,
        autotune,
    })
}

/// The translation of a fastText command line (`args` without the program name).
pub fn translate(args: &[OsString]) -> Result<Translation> {
    let command = args[0].to_string_lossy().into_owned();
    if command == "quantize" {
        return quantize(&args[1..]);
    }
    if command == "supervised" {
        return supervised(&args[1..]);
    }
    if CLASSIFY.contains(&command.as_str()) {
        return classify(&command, &args[1..]);
    }
    if command == "dump" {
        return match &args[1..] {
            [model, part] => match DUMP_PARTS.iter().find(|p| **p == part.to_string_lossy()) {
                Some(part) => Ok(Translation::Dump {
                    model: model.into(),
                    part,
                }),
                None => Err(Error::usage(
                    "fastText's command \"dump\"",
                    format!(
                        "{part:?} is not a part to dump; one of {}",
                        DUMP_PARTS.join(", ")
                    ),
                )),
            },
            _ => Err(Error::usage(
                "fastText's command \"dump\"",
                format!(
                    "takes a model file and a part, as fastText's (`dump model.bin {}`)",
                    DUMP_PARTS.join("|")
                ),
            )),
        };
    }
    if QUERIES.contains(&command.as_str()) {
        let usage = || {
            Error::usage(
                &format!("fastText's command {command:?}"),
                format!("takes a model file and an optional number of answers, as fastText's (`{command} model.bin [k]`, k default 10)"),
            )
        };
        let k = match &args[1..] {
            [_] => 10,
            [_, k] => k
                .to_str()
                .and_then(|k| k.parse::<usize>().ok())
                .filter(|&k| k > 0)
                .ok_or_else(usage)?,
            _ => return Err(usage()),
        };
        return Ok(Translation::Queries {
            model: args[1].clone().into(),
            k,
            analogies: command == "analogies",
        });
    }
    if let Some((_, rest, flags)) = PRINTS.iter().find(|(c, _, _)| *c == command) {
        let word = *rest == "WORD";
        let usage = || {
            Error::usage(
                &format!("fastText's command {command:?}"),
                format!(
                    "takes one model file{}, as fastText's (`{command} model.bin {rest}`)",
                    if word { " and one word" } else { "" }
                ),
            )
        };
        let (model, words) = match &args[1..] {
            [model] if !word => (model, &[][..]),
            [model, w] if word => (model, std::slice::from_ref(w)),
            _ => return Err(usage()),
        };
        let mut out: Vec<OsString> = vec!["w2v-gpu".into(), "vector".into()];
        out.extend(flags.iter().map(OsString::from));
        out.extend([
            "--fasttext-format".into(),
            "--vectors".into(),
            model.clone(),
        ]);
        if !words.is_empty() {
            out.push("--".into());
            out.extend(words.iter().cloned());
        }
        return Ok(Translation::Args(out, Vec::new()));
    }
    let mut values: Vec<(String, OsString)> = Vec::new();
    let mut save_output = false;
    let mut it = args[1..].iter();
    while let Some(flag) = it.next() {
        let f = flag.to_string_lossy().into_owned();
        if f == "-saveOutput" {
            save_output = true;
            continue;
        }
        if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == f) {
            return Err(Error::usage(&f, *why));
        }
        if !VALUED.iter().any(|(k, _)| *k == f) && !SPECIAL.contains(&f.as_str()) {
            return Err(Error::usage(
                &f,
                format!(
                    "is not a fastText flag for {command} (a fastText command line was recognised by its command); its flags are {} {} -saveOutput",
                    VALUED.map(|(k, _)| k).join(" "),
                    SPECIAL.join(" ")
                ),
            ));
        }
        let Some(v) = it.next() else {
            return Err(Error::usage(&f, "needs a value, as in fastText"));
        };
        values.retain(|(k, _)| *k != f);
        values.push((f, v.clone()));
    }
    let get = |k: &str| values.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let text = |k: &str| get(k).map(|v| v.to_string_lossy().into_owned());
    let (Some(_), Some(output)) = (get("-input"), text("-output")) else {
        return Err(Error::usage(
            "-input/-output",
            "fastText's command line needs -input FILE and -output MODEL (it writes MODEL.bin and MODEL.vec)",
        ));
    };
    let mut notes = Vec::new();
    // Each `train` flag once (clap refuses a repeated one): fastText's defaults where this
    // program's differ (the rest are the same values), then the flags given.
    let mut flags: Vec<(&str, OsString)> = Vec::new();
    let mut set = |flag: &'static str, v: OsString| {
        flags.retain(|(f, _)| *f != flag);
        flags.push((flag, v));
    };
    set("--model", command.clone().into());
    set("--output", format!("{output}.vec").into());
    set("--format", "text".into());
    set("--fasttext-bin", format!("{output}.bin").into());
    if save_output {
        set("--save-context", format!("{output}.output").into());
    }
    for (flag, v) in [
        ("--alpha", "0.05"),
        ("--min-alpha", "0"),
        ("--sample", "1e-4"),
        ("--threads", "12"),
        ("--ns-exponent", "0.5"),
        ("--seed", "0"),
    ] {
        set(flag, v.into());
    }
    let hs = match text("-loss").as_deref() {
        None | Some("ns") => false,
        Some("hs") => true,
        Some(other) => {
            return Err(Error::usage(
                "-loss",
                format!("{other:?}: w2v-gpu trains word vectors with ns (negative sampling) or hs (hierarchical softmax); softmax and one-vs-all are fastText's classifier losses"),
            ));
        }
    };
    for (ft, ours) in VALUED {
        if let Some(v) = get(ft) {
            set(ours, v);
        }
    }
    if hs {
        // fastText's hs trains no noise words, whatever -neg says.
        set("--negative", "0".into());
        if get("-neg").is_some() {
            notes.push(
                "-neg has no effect with -loss hs (hierarchical softmax alone, as in fastText)"
                    .into(),
            );
        }
    }
    // fastText uses no buckets when there are no n-grams (its Args::parseArgs).
    if text("-maxn").as_deref() == Some("0") {
        set("--bucket", "0".into());
    }
    let mut out: Vec<OsString> = vec!["w2v-gpu".into(), "train".into(), "--subwords".into()];
    if hs {
        out.push("--hs".into());
    }
    match text("-verbose").as_deref() {
        Some("0") => out.push("--quiet".into()),
        Some(v) if v.parse::<i64>().is_err() => {
            return Err(Error::usage("-verbose", format!("{v:?} is not an integer")));
        }
        _ => {}
    }
    for (f, v) in flags {
        out.push(f.into());
        out.push(v);
    }
    if let Some(v) = text("-wordNgrams").filter(|v| v != "1") {
        notes.push(format!(
            "-wordNgrams {v} has no effect: fastText uses word n-grams in supervised mode only, and its {command} ignores them too"
        ));
    }
    if let Some(v) = text("-lrUpdateRate") {
        notes.push(format!(
            "-lrUpdateRate {v} has no effect: the rate falls linearly to 0 as fastText's does, recomputed by w2v-gpu at least every 4,096 words"
        ));
    }
    Ok(Translation::Args(out, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn joined(v: &[&str]) -> (String, Vec<String>) {
        let Translation::Args(a, notes) = translate(&os(v)).unwrap() else {
            panic!("{v:?} is not a w2v-gpu command line");
        };
        let s: Vec<String> = a.iter().map(|x| x.to_string_lossy().into_owned()).collect();
        (s.join(" "), notes)
    }

    #[test]
    fn supervised_and_classify_take_fasttexts_flags_and_defaults() {
        use crate::classifier::{Loss, SupConfig};
        let Translation::Supervised {
            config,
            output,
            save_output,
            verbose,
            autotune: None,
        } = translate(&os(&[
            "supervised",
            "-input",
            "t.txt",
            "-output",
            "m",
            "-wordNgrams",
            "2",
            "-loss",
            "one-vs-all",
            "-lr",
            "0.5",
            "-saveOutput",
            "-verbose",
            "0",
        ]))
        .unwrap()
        else {
            panic!("not a classifier");
        };
        let want = SupConfig {
            input: "t.txt".into(),
            word_ngrams: 2,
            loss: Loss::Ova,
            lr: 0.5,
            ..SupConfig::default()
        };
        assert_eq!(*config, want);
        assert_eq!((output.as_str(), save_output, verbose), ("m", true, 0));
        // fastText's supervised defaults.
        let d = SupConfig::default();
        assert_eq!((d.lr, d.dim, d.epoch, d.min_count), (0.1, 100, 5, 1));
        assert_eq!(
            (d.loss, d.minn, d.maxn, d.buckets()),
            (Loss::Softmax, 0, 0, 0)
        );
        assert_eq!(
            translate(&os(&["predict-prob", "m.bin", "-", "-1", "0.5"])).unwrap(),
            Translation::Classify {
                model: "m.bin".into(),
                input: "-".into(),
                k: None,
                threshold: 0.5,
                test: false,
                detail: true,
            }
        );
        assert_eq!(
            translate(&os(&["test", "m.bin", "t.txt"])).unwrap(),
            Translation::Classify {
                model: "m.bin".into(),
                input: "t.txt".into(),
                k: Some(1),
                threshold: 0.0,
                test: true,
                detail: false,
            }
        );
    }

    #[test]
    fn fasttext_defaults_fill_absent_flags() {
        let a = ["skipgram", "-input", "c.txt", "-output", "m"];
        assert!(is_fasttext(&os(&a)));
        let (j, notes) = joined(&a);
        for want in [
            "train --subwords --model skipgram --output m.vec --format text --fasttext-bin m.bin",
            "--input c.txt",
            "--alpha 0.05 --min-alpha 0 --sample 1e-4 --threads 12 --ns-exponent 0.5 --seed 0",
        ] {
            assert!(j.contains(want), "{want} missing in {j}");
        }
        assert!(notes.is_empty());
        assert!(!j.contains("--hs") && !j.contains("--bucket"), "{j}");
    }

    #[test]
    fn every_flag_maps_and_the_last_value_wins() {
        let (j, notes) = joined(&[
            "cbow",
            "-input",
            "c",
            "-output",
            "m",
            "-lr",
            "0.1",
            "-dim",
            "300",
            "-ws",
            "8",
            "-epoch",
            "2",
            "-minCount",
            "3",
            "-neg",
            "10",
            "-bucket",
            "1000",
            "-minn",
            "2",
            "-maxn",
            "4",
            "-thread",
            "2",
            "-t",
            "1e-3",
            "-seed",
            "7",
            "-verbose",
            "0",
            "-wordNgrams",
            "2",
            "-lrUpdateRate",
            "50",
            "-saveOutput",
            "-dim",
            "64",
        ]);
        for want in [
            "--model cbow",
            "--alpha 0.1",
            "--dim 64",
            "--window 8",
            "--epochs 2",
            "--min-count 3",
            "--negative 10",
            "--bucket 1000",
            "--minn 2",
            "--maxn 4",
            "--threads 2",
            "--sample 1e-3",
            "--seed 7",
            "--quiet",
            "--save-context m.output",
        ] {
            assert!(j.contains(want), "{want} missing in {j}");
        }
        assert!(!j.contains("--dim 300"), "{j}");
        assert_eq!(notes.len(), 2, "{notes:?}");
        let (hs, _) = joined(&["skipgram", "-input", "c", "-output", "m", "-loss", "hs"]);
        assert!(hs.contains("--hs") && hs.contains("--negative 0"), "{hs}");
        let (word_only, _) = joined(&["skipgram", "-input", "c", "-output", "m", "-maxn", "0"]);
        assert!(
            word_only.contains("--maxn 0") && word_only.contains("--bucket 0"),
            "{word_only}"
        );
        let (pwv, _) = joined(&["print-word-vectors", "m.bin"]);
        assert_eq!(
            pwv,
            "w2v-gpu vector --zero-unknown --fasttext-format --vectors m.bin"
        );
        let (psv, _) = joined(&["print-sentence-vectors", "m.bin"]);
        assert_eq!(
            psv,
            "w2v-gpu vector --sentences --fasttext-format --vectors m.bin"
        );
        let (png, _) = joined(&["print-ngrams", "m.bin", "-x-"]);
        assert_eq!(
            png,
            "w2v-gpu vector --ngrams --fasttext-format --vectors m.bin -- -x-"
        );
    }

    #[test]
    fn what_fasttext_has_and_this_cannot_honour_is_refused() {
        for bad in [
            &["skipgram", "-input", "c"][..],
            &[
                "skipgram", "-input", "c", "-output", "m", "-loss", "softmax",
            ],
            &["skipgram", "-input", "c", "-output", "m", "-label", "__l__"],
            &[
                "skipgram",
                "-input",
                "c",
                "-output",
                "m",
                "-pretrainedVectors",
                "v.vec",
            ],
            &["skipgram", "-input", "c", "-output", "m", "-qnorm"],
            &["skipgram", "-input", "c", "-output", "m", "-size", "100"],
            &["skipgram", "-input", "c", "-output", "m", "-dim"],
            &["skipgram", "-input", "c", "-output", "m", "-verbose", "x"],
            &["supervised", "-input", "c"],
            &["supervised", "-input", "c", "-output", "m", "-loss", "x"],
            &[
                "supervised",
                "-input",
                "c",
                "-output",
                "m",
                "-autotune-duration",
                "5",
            ],
            &["supervised", "-input", "c", "-output", "m", "-qnorm"],
            &[
                "supervised",
                "-input",
                "c",
                "-output",
                "m",
                "-minn",
                "5",
                "-maxn",
                "3",
            ],
            &["supervised", "-input", "c", "-output", "m", "-dim", "-3"],
            &["predict", "m.bin"],
            &["predict", "m.bin", "t.txt", "0"],
            &["test", "m.bin", "t.txt", "1", "x"],
            &["nn"],
            &["nn", "m.bin", "0"],
            &["analogies", "m.bin", "x"],
            &["print-word-vectors"],
            &["print-word-vectors", "m.bin", "word"],
            &["print-sentence-vectors"],
            &["print-ngrams", "m.bin"],
            &["print-ngrams", "m.bin", "a", "b"],
            &["dump", "m.bin"],
            &["dump", "m.bin", "everything"],
        ] {
            let e = translate(&os(bad)).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
        for (cmd, k, analogies) in [
            (&["nn", "m.bin"][..], 10, false),
            (&["analogies", "m.bin", "3"], 3, true),
        ] {
            assert_eq!(
                translate(&os(cmd)).unwrap(),
                Translation::Queries {
                    model: "m.bin".into(),
                    k,
                    analogies
                }
            );
        }
        assert_eq!(
            translate(&os(&["dump", "m.bin", "dict"])).unwrap(),
            Translation::Dump {
                model: "m.bin".into(),
                part: "dict"
            }
        );
        assert!(!is_fasttext(&os(&["train", "--input", "x"])));
        assert!(!is_fasttext(&os(&["-train", "x"])));
    }
}
