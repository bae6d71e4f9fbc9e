//! fastText's autotune (`supervised -autotune-validation valid.txt`): for a time budget,
//! classifiers are trained with settings drawn around the best so far and scored on a
//! validation text; the best settings then train the model that is written. The search is
//! fastText's (`AutotuneStrategy`): the first trial uses the settings given, each later one
//! moves every setting the user did not give by a Gaussian step — multiplicative for
//! `-epoch -lr -dim -bucket`, additive for `-wordNgrams`, the character n-gram choice and
//! the quantization's `-dsub` — whose width shrinks over the budget, within fastText's
//! bounds; the loss is softmax unless given. With `-autotune-modelsize` every trial is also
//! quantized (`-qnorm -retrain`, `-qout` from 256 labels) with the `-cutoff` that fits the
//! size, as fastText does.

use crate::classifier::{quantize, test, Classifier, Loss, Meter, QuantArgs, SupConfig};
use crate::error::{Error, Result};
use crate::sampling::{splitmix64, Rng};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What autotune optimizes.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// F1 over all labels (fastText's default, `f1`).
    F1,
    /// F1 of one label (`f1:__label__x`).
    F1Label(String),
    /// The best precision at a recall of at least `recall` (a fraction), over all labels
    /// or one (`precisionAtRecall:30`, `precisionAtRecall:30:__label__x`).
    PrecisionAtRecall { recall: f64, label: Option<String> },
    /// The best recall at a precision of at least `precision` (`recallAtPrecision:30`,
    /// `recallAtPrecision:30:__label__x`).
    RecallAtPrecision {
        precision: f64,
        label: Option<String>,
    },
}

impl Metric {
    /// fastText's `-autotune-metric` values: `f1`, `f1:LABEL`, `precisionAtRecall:P[:LABEL]`
    /// and `recallAtPrecision:P[:LABEL]`, P a percentage from 0 to 100 (read as a C
    /// `float` and divided by 100, as fastText's `getAutotuneMetricValue`).
    pub fn parse(s: &str) -> Option<Metric> {
        if s == "f1" {
            return Some(Metric::F1);
        }
        let (kind, rest) = s.split_once(':')?;
        if kind == "f1" {
            return (!rest.is_empty()).then(|| Metric::F1Label(rest.into()));
        }
        let (value, label) = match rest.split_once(':') {
            Some((_, "")) => return None,
            Some((v, l)) => (v, Some(l.to_string())),
            None => (rest, None),
        };
        let percent: f32 = value.trim().parse().ok()?;
        if !(0.0..=100.0).contains(&percent) {
            return None;
        }
        let value = f64::from(percent) / 100.0;
        match kind {
            "precisionAtRecall" => Some(Metric::PrecisionAtRecall {
                recall: value,
                label,
            }),
            "recallAtPrecision" => Some(Metric::RecallAtPrecision {
                precision: value,
                label,
            }),
            _ => None,
        }
    }

    /// The label the metric is about, if one.
    pub fn label(&self) -> Option<&str> {
        match self {
            Metric::F1 => None,
            Metric::F1Label(l) => Some(l),
            Metric::PrecisionAtRecall { label, .. } | Metric::RecallAtPrecision { label, .. } => {
                label.as_deref()
            }
        }
    }

    /// The metric on a validation meter, `label` the index of `self.label()`'s label.
    fn score(&self, meter: &Meter, label: Option<usize>) -> f64 {
        match (self, label) {
            (Metric::F1, _) => {
                let (p, r) = (meter.precision(), meter.recall());
                2.0 * p * r / (p + r)
            }
            (Metric::F1Label(_), l) => l.map_or(f64::NAN, |l| meter.label_f1(l)),
            (Metric::PrecisionAtRecall { recall, .. }, l) => meter.precision_at_recall(l, *recall),
            (Metric::RecallAtPrecision { precision, .. }, l) => {
                meter.recall_at_precision(l, *precision)
            }
        }
    }
}

/// fastText's `-autotune-*` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct AutotuneArgs {
    pub validation: PathBuf,
    pub metric: Metric,
    /// Labels predicted per validation line (`-autotune-predictions`).
    pub predictions: usize,
    /// The budget in seconds (`-autotune-duration`, default 300).
    pub duration: f64,
    /// The largest model file wanted (`-autotune-modelsize`, e.g. `2M`): quantized.
    pub model_size: Option<u64>,
    /// The quantization's sub-vector width to start from (`-dsub`, default 2).
    pub dsub: usize,
}

/// fastText's `-autotune-modelsize`: a number with an optional `K`, `M` or `G` (×1000ⁿ).
pub fn parse_model_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1_000),
        'm' | 'M' => (&s[..s.len() - 1], 1_000_000),
        'g' | 'G' => (&s[..s.len() - 1], 1_000_000_000),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()?
        .checked_mul(mult)
        .filter(|&n| n > 0)
}

/// The smallest `-cutoff` fastText allows (256 centroids need as many rows).
const CUTOFF_LIMIT: usize = 256;

/// fastText's `getCutoffForFileSize`: the input rows a `.ftz` of `size` bytes holds.
fn cutoff_for_size(c: &Classifier, q: &QuantArgs, size: u64) -> usize {
    let (out_m, dim) = (c.model.labels.len() as i64, c.model.dim as i64);
    let out_size = if q.qout {
        21 + out_m * ((dim + 1) / 2) + 16 + 4 * dim * 256 + if q.qnorm { out_m } else { 0 }
    } else {
        16 + 4 * out_m * dim
    };
    let dsub = q.dsub as i64;
    let target = size as i64 - 107 - 4 * 256 * dim - out_size;
    let cutoff = target / ((dim + dsub - 1) / dsub + q.qnorm as i64 + 10);
    cutoff.max(CUTOFF_LIMIT as i64) as usize
}

/// A normal draw (Box–Muller) with standard deviation `sd`.
fn normal(rng: &mut Rng, sd: f64) -> f64 {
    let u1 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    sd * (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// fastText's `updateArgGauss`: `val` moved by a Gaussian step whose width falls from
/// `start` to `end` over the middle half of the budget (`t` in 0..1), then clamped.
#[allow(clippy::too_many_arguments)]
fn gauss(
    val: f64,
    min: f64,
    max: f64,
    start: f64,
    end: f64,
    t: f64,
    linear: bool,
    rng: &mut Rng,
) -> f64 {
    let sd = start - ((start - end) / 0.5) * (t - 0.25).clamp(0.0, 0.5);
    let c = normal(rng, sd);
    let v = if linear { val + c } else { 2f64.powf(c) * val };
    v.clamp(min, max)
}

/// fastText's `AutotuneStrategy`.
struct Strategy {
    best: SupConfig,
    /// The best trial's `-dsub` (the one given while `dsub` is not tuned).
    dsub: usize,
    best_minn: usize,
    best_dsub_exp: i64,
    best_bucket: usize,
    manual: HashSet<String>,
    rng: Rng,
    trials: usize,
}

/// The character n-gram choices (`-minn`; `-maxn` is `minn + 3`).
const MINN: [usize; 3] = [0, 2, 3];

impl Strategy {
    fn ask(&mut self, t: f64) -> (SupConfig, usize) {
        self.trials += 1;
        let mut c = self.best.clone();
        let mut dsub = self.dsub;
        if self.trials == 1 {
            return (c, dsub);
        }
        let free = |f: &str| !self.manual.contains(f);
        let r = &mut self.rng;
        // Integer settings truncate as fastText's `static_cast<int>`.
        if free("epoch") {
            c.epoch = gauss(c.epoch as f64, 1.0, 100.0, 2.8, 2.5, t, false, r) as usize;
        }
        if free("lr") {
            c.lr = gauss(c.lr as f64, 0.01, 5.0, 1.9, 1.0, t, false, r) as f32;
        }
        if free("dim") {
            c.dim = gauss(c.dim as f64, 1.0, 1000.0, 1.4, 0.3, t, false, r) as usize;
        }
        if free("wordNgrams") {
            c.word_ngrams = gauss(c.word_ngrams as f64, 1.0, 5.0, 4.3, 2.4, t, true, r) as usize;
        }
        if free("dsub") {
            let e = gauss(self.best_dsub_exp as f64, 1.0, 4.0, 2.0, 1.0, t, true, r) as i64;
            dsub = 1 << e;
        }
        if free("minn") {
            let i = gauss(self.best_minn as f64, 0.0, 2.0, 4.0, 1.4, t, true, r) as usize;
            c.minn = MINN[i];
        }
        if free("maxn") {
            c.maxn = if c.minn == 0 { 0 } else { c.minn + 3 };
        }
        if free("bucket") {
            c.bucket = gauss(self.best_bucket as f64, 1e4, 1e7, 2.0, 1.5, t, false, r) as usize;
        }
        if free("loss") {
            c.loss = Loss::Softmax;
        }
        (c, dsub)
    }

    fn update_best(&mut self, c: &SupConfig, dsub: usize) {
        self.best = c.clone();
        self.dsub = dsub;
        self.best_minn = MINN.iter().position(|&m| m == c.minn).unwrap_or(0);
        self.best_dsub_exp = dsub.max(1).ilog2() as i64;
        if c.buckets() != 0 {
            self.best_bucket = c.bucket;
        }
    }
}

/// What autotune found.
pub struct Tuned {
    pub classifier: Classifier,
    pub config: SupConfig,
    /// The best validation score, and the trials run.
    pub score: f64,
    pub trials: usize,
}

/// The most memory a trial's bucket rows may take: half the memory available (Linux's
/// `MemAvailable`), else 8 GiB. fastText skips a trial whose allocation fails; this skips it
/// before allocating.
fn memory_cap() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024 / 2)
        })
        .unwrap_or(8 << 30)
}

/// One trial: trains `cfg`, quantizes to the size asked, scores on `valid`. `None`: the
/// size cannot be met.
fn trial(
    cfg: &SupConfig,
    dsub: usize,
    a: &AutotuneArgs,
    valid: &[u8],
    quiet: &crate::progress::Reporter,
) -> Result<Option<(Classifier, f64)>> {
    let (mut c, _) = crate::classifier::train(cfg, quiet)?;
    if let Some(size) = a.model_size {
        let mut q = QuantArgs {
            qnorm: true,
            qout: c.model.labels.len() >= CUTOFF_LIMIT,
            retrain: true,
            dsub,
            epoch: cfg.epoch,
            lr: cfg.lr,
            threads: cfg.threads,
            device: cfg.device.clone(),
            ..QuantArgs::default()
        };
        q.cutoff = cutoff_for_size(&c, &q, size);
        if q.cutoff == CUTOFF_LIMIT {
            return Ok(None);
        }
        let text = crate::files::read_bytes(&cfg.input)?;
        c = quantize(c, &q, Some(&text), quiet)?.0;
    }
    let label = match a.metric.label() {
        None => None,
        Some(l) => Some(c.labels().iter().position(|x| x == l).ok_or_else(|| {
            Error::usage(
                "-autotune-metric",
                format!("{l} is not a label of the training text"),
            )
        })?),
    };
    let meter = test(&c, valid, Some(a.predictions), 0.0);
    let score = a.metric.score(&meter, label);
    Ok(Some((c, if score.is_nan() { 0.0 } else { score })))
}

/// fastText's `Autotune::train`: trials until the budget is spent, then the best settings
/// trained again (and quantized to the size asked). `manual`: the flags the user gave
/// (fastText's `isManual`), which are never changed.
pub fn autotune(
    base: &SupConfig,
    manual: &HashSet<String>,
    a: &AutotuneArgs,
    progress: &crate::progress::Reporter,
) -> Result<Tuned> {
    base.validate()?;
    let valid = crate::files::read_bytes(&a.validation)?;
    crate::files::check_text(&a.validation, &valid)?;
    let started = Instant::now();
    let budget = Duration::from_secs_f64(a.duration.max(0.0));
    let deadline = started + budget;
    let mut s = Strategy {
        best: base.clone(),
        dsub: a.dsub,
        best_minn: MINN.iter().position(|&m| m == base.minn).unwrap_or(0),
        best_dsub_exp: a.dsub.max(1).ilog2() as i64,
        best_bucket: 2_000_000,
        manual: manual.clone(),
        rng: Rng::new(splitmix64(base.seed ^ 0xa070_0000_0000_0001)),
        trials: 0,
    };
    let quiet = crate::progress::Reporter::quiet();
    let cap = memory_cap();
    let mut best: Option<(f64, SupConfig, usize)> = None;
    let mut size_failures = 0;
    while Instant::now() < deadline {
        let t = started.elapsed().as_secs_f64() / a.duration.max(1e-9);
        let (mut cfg, dsub) = s.ask(t.min(1.0));
        cfg.deadline = Some(deadline);
        let began = Instant::now();
        let rows_bytes = cfg.buckets() as u64 * cfg.dim as u64 * 4;
        let outcome = if rows_bytes > cap {
            // Too large to allocate: skipped, as fastText skips a failed allocation.
            Err(Error::Diverged("too large".into()))
        } else {
            trial(&cfg, dsub, a, &valid, &quiet)
        };
        let took = began.elapsed().as_secs_f64();
        let score = match outcome {
            Ok(Some((_, score))) => Some(score),
            Ok(None) => {
                size_failures += 1;
                None
            }
            // A diverging or too large trial is skipped, as fastText skips one; the
            // budget's end stops.
            Err(Error::Diverged(_)) => None,
            // A trial whose buckets the GPU's bindings cannot hold (-backend on a GPU):
            // skipped as one too large for memory.
            Err(Error::Usage { flag, .. })
                if flag == "-bucket" && base.device.backend != crate::config::BackendKind::Cpu =>
            {
                None
            }
            Err(Error::Interrupted(_)) => break,
            Err(e) => return Err(e),
        };
        if progress.warn {
            eprintln!(
            "autotune trial {}: -epoch {} -lr {} -dim {} -wordNgrams {} -minn {} -maxn {} -bucket {}{} → {} ({took:.1} s)",
            s.trials,
            cfg.epoch,
            cfg.lr,
            cfg.dim,
            cfg.word_ngrams,
            cfg.minn,
            cfg.maxn,
            cfg.buckets(),
            if a.model_size.is_some() { format!(" -dsub {dsub}") } else { String::new() },
            score.map_or("no score".into(), |x| format!("score {x:.6}"))
        );
        }
        if let Some(score) = score {
            if best.as_ref().is_none_or(|b| score > b.0) {
                s.update_best(&cfg, dsub);
                best = Some((score, cfg, dsub));
            }
        }
    }
    let Some((score, mut cfg, dsub)) = best else {
        return Err(Error::usage(
            if size_failures > 0 {
                "-autotune-modelsize"
            } else {
                "-autotune-duration"
            },
            if size_failures > 0 {
                "no trial fitted the model size asked; raise -autotune-modelsize"
            } else {
                "the time ran out before one trial finished; raise -autotune-duration"
            },
        ));
    };
    cfg.deadline = None;
    let classifier = match trial(&cfg, dsub, a, &valid, progress)? {
        Some((c, _)) => c,
        None => unreachable!("the best trial fitted the size"),
    };
    Ok(Tuned {
        classifier,
        config: cfg,
        score,
        trials: s.trials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_metrics_and_steps_follow_fasttext() {
        assert_eq!(parse_model_size("2M"), Some(2_000_000));
        assert_eq!(parse_model_size("500k"), Some(500_000));
        assert_eq!(parse_model_size("123"), Some(123));
        assert_eq!(parse_model_size("M"), None);
        assert_eq!(parse_model_size("x"), None);
        assert_eq!(Metric::parse("f1"), Some(Metric::F1));
        assert_eq!(
            Metric::parse("f1:__label__a"),
            Some(Metric::F1Label("__label__a".into()))
        );
        assert_eq!(
            Metric::parse("precisionAtRecall:30"),
            Some(Metric::PrecisionAtRecall {
                recall: f64::from(30f32) / 100.0,
                label: None
            })
        );
        assert_eq!(
            Metric::parse("recallAtPrecision:33.3:__label__b"),
            Some(Metric::RecallAtPrecision {
                precision: f64::from(33.3f32) / 100.0,
                label: Some("__label__b".into())
            })
        );
        for bad in [
            "f1:",
            "f2",
            "precisionAtRecall",
            "precisionAtRecall:",
            "precisionAtRecall:x",
            "precisionAtRecall:130",
            "precisionAtRecall:-5",
            "recallAtPrecision:30:",
            "recallatprecision:30",
        ] {
            assert_eq!(Metric::parse(bad), None, "{bad}");
        }
        // Steps stay within fastText's bounds, and given flags never move.
        let mut s = Strategy {
            best: SupConfig::default(),
            dsub: 2,
            best_minn: 0,
            best_dsub_exp: 1,
            best_bucket: 2_000_000,
            manual: ["dim".to_string()].into_iter().collect(),
            rng: Rng::new(5),
            trials: 0,
        };
        assert_eq!(s.ask(0.0).0, SupConfig::default());
        for i in 0..500 {
            let (c, dsub) = s.ask(i as f64 / 500.0);
            assert!((1..=100).contains(&c.epoch) && (0.01..=5.0).contains(&c.lr));
            assert!((1..=5).contains(&c.word_ngrams) && [2, 4, 8, 16].contains(&dsub));
            assert!([0, 2, 3].contains(&c.minn) && (c.minn == 0) == (c.maxn == 0));
            assert!((10_000..=10_000_000).contains(&c.bucket));
            assert_eq!(c.dim, 100);
        }
    }
}
