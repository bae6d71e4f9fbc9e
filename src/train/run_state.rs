//! The state of one run that every engine shares: the learning-rate schedule, words done,
//! steps, the loss log, progress display, stop requests and divergence checks.

use crate::backend::{Rate, StepLoss};
use crate::batch::Cursor;
use crate::checkpoint::Checkpoint;
use crate::config::{BackendKind, TrainConfig};
use crate::error::{readable, Error, Result};
use crate::model::Model;
use crate::progress::Reporter;
use crate::train::TrainReport;
use indicatif::ProgressBar;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Mean loss per term above which a run counts as diverged. A fresh model starts at ln 2 ≈
/// 0.69 per term and healthy runs fall below it; 20 per term means logits of ±20, vectors
/// that have blown up (measured: `--alpha 0.5` reaches millions, `--alpha 1` NaN).
pub const DIVERGED_LOSS: f64 = 20.0;

/// Whether one batch's loss (`loss` summed over `terms`) shows divergence: not a number,
/// infinite, or above [`DIVERGED_LOSS`] per term. The trainers' workers check each batch.
pub fn batch_diverged(loss: f64, terms: u64) -> bool {
    !loss.is_finite() || (terms > 0 && loss / terms as f64 > DIVERGED_LOSS)
}

/// Fails when the loss says training has diverged: not a number, infinite, or above
/// [`DIVERGED_LOSS`] per term.
pub fn check_divergence(mean_loss: f64, done: u64, cfg: &TrainConfig) -> Result<()> {
    if mean_loss.is_finite() && mean_loss <= DIVERGED_LOSS {
        return Ok(());
    }
    Err(diverged(
        &format!(
            "the loss per term reached {} after {done} words",
            readable(mean_loss)
        ),
        cfg,
    ))
}

/// The divergence error: names the cause, the way out, and what was kept.
fn diverged(cause: &str, cfg: &TrainConfig) -> Error {
    let kept = match &cfg.checkpoint_dir {
        Some(d) => format!("the newest checkpoint in {} is from before; ", d.display()),
        None => String::new(),
    };
    // The GPU SGD engine runs thousands of windows at once, each computing its update from
    // rows the others have not added to yet; too many diverge where one after another
    // would not (BENCHMARKS.md "The tile kernel's tiles").
    let gpu = match (cfg.backend, cfg.minibatches(), cfg.gpu_in_flight) {
        (BackendKind::Cpu, _, _) | (_, true, _) => String::new(),
        (_, false, None) => {
            ", or on a GPU bound the workgroups running at once with --gpu-in-flight (e.g. 2048)"
                .to_string()
        }
        (_, false, Some(n)) => format!(", or on a GPU a smaller --gpu-in-flight than {n}"),
    };
    Error::Diverged(format!(
        "training diverged: {cause} (learning rate --alpha {} with --optimizer {}). Nothing was written to {}; {kept}use a smaller --alpha (e.g. {}){gpu}",
        readable(cfg.start_alpha()),
        cfg.optimizer.name(),
        cfg.output.display(),
        readable(cfg.start_alpha() / 4.0)
    ))
}

/// Fails when either matrix holds a non-finite value (checked before writing vectors).
pub fn check_model_finite(model: &Model, cfg: &TrainConfig) -> Result<()> {
    for (name, m) in [("input", &model.input), ("output", &model.output)] {
        if let Some(i) = m.iter().position(|x| !x.is_finite()) {
            return Err(diverged(
                &format!(
                    "the {name} vector of word {} holds {}",
                    i / model.dim.max(1),
                    m[i]
                ),
                cfg,
            ));
        }
    }
    Ok(())
}

/// Loss bookkeeping: everything, and the tail (last 10% of words) for `final_loss`.
#[derive(Default)]
pub struct LossLog {
    /// Everything added so far.
    pub total: StepLoss,
    pub tail: StepLoss,
    pub curve: Vec<(u64, f64)>,
    pending: StepLoss,
}

impl LossLog {
    /// Whether 1% of the run has passed since the last curve point.
    pub fn due(&self, done: u64, total: u64) -> bool {
        let last = self.curve.last().map_or(0, |p| p.0);
        done.saturating_sub(last) * 100 >= total
    }

    pub fn add(&mut self, l: StepLoss, done: u64, total: u64) {
        self.total.sum += l.sum;
        self.total.terms += l.terms;
        self.pending.sum += l.sum;
        self.pending.terms += l.terms;
        let last = self.curve.last().map_or(0, |p| p.0);
        if done.saturating_sub(last) * 100 >= total || done >= total {
            if let Some(m) = self.pending.mean() {
                self.curve.push((done, m));
            }
            self.pending = StepLoss::default();
        }
        if done * 10 >= total * 9 {
            self.tail.sum += l.sum;
            self.tail.terms += l.terms;
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks every running trainer to stop after its current step (what SIGINT/SIGTERM do).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether a stop was requested.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// SIGINT/SIGTERM: the first asks the trainer to finish its step, checkpoint, write the
/// vectors and exit; a second exits at once (130). Every file is written to a temporary
/// name and renamed, so exiting at any moment leaves earlier outputs and checkpoints whole.
pub fn install_signal_handlers() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!(
                "\nsecond interrupt: exiting now; earlier outputs and checkpoints are intact"
            );
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing the current step, then saving (interrupt again to exit at once)");
    });
}

pub(crate) fn progress_message(
    bar: &ProgressBar,
    done: u64,
    start: Instant,
    loss: Option<f64>,
    alpha: f32,
) {
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let loss = loss.map_or("-".to_string(), |l| format!("{l:.4}"));
    bar.set_position(done);
    bar.set_message(format!(
        "{:.0}k words/s  loss {loss}  lr {alpha:.5}",
        done as f64 / secs / 1e3
    ));
}

/// One run's progress through its schedule, shared by every stepped engine.
pub struct RunState<'a> {
    pub cfg: &'a TrainConfig,
    /// Corpus words of the whole run (all epochs).
    pub total: u64,
    /// Words done, including those of the checkpoint resumed from.
    pub done: u64,
    /// Words done when this process started (the checkpoint's).
    pub start_done: u64,
    /// Engine steps taken, including the resumed checkpoint's.
    pub steps: u64,
    /// Where the producer's streams stood after the last item applied.
    pub cursors: Vec<Cursor>,
    /// The streams' positions to resume from, if resuming.
    pub start_cursors: Option<Vec<Cursor>>,
    /// Time the engine waited for the producer.
    pub wait: Duration,
    pub interrupted: bool,
    pub log: LossLog,
    lr: Box<dyn Fn(u64) -> f32 + 'a>,
    bar: ProgressBar,
    start: Instant,
    last_report: Instant,
    recent: Option<f64>,
}

impl<'a> RunState<'a> {
    /// A run of `total` words with learning rate `lr(words done)`, continuing `resume`.
    pub fn new(
        cfg: &'a TrainConfig,
        total: u64,
        resume: Option<&Checkpoint>,
        reporter: &Reporter,
        lr: Box<dyn Fn(u64) -> f32 + 'a>,
    ) -> RunState<'a> {
        let done = resume.map_or(0, |c| c.words_done);
        let start_cursors = resume.map(|c| c.cursors.clone());
        RunState {
            cfg,
            total,
            done,
            start_done: done,
            steps: resume.map_or(0, |c| c.steps),
            cursors: start_cursors.clone().unwrap_or_default(),
            start_cursors,
            wait: Duration::ZERO,
            interrupted: false,
            log: LossLog::default(),
            lr,
            bar: reporter.bar(total),
            start: Instant::now(),
            last_report: Instant::now(),
            recent: None,
        }
    }

    /// The rate across the next item of `words` words: the schedule at its first word and
    /// after its last.
    pub fn rate(&self, words: u64) -> Rate {
        Rate {
            start: (self.lr)(self.done),
            end: (self.lr)(self.done + words),
        }
    }

    /// Whether to read the loss and refresh the progress display now: twice a second, and
    /// at every 1% of the run for the loss curve.
    pub fn report_due(&self) -> bool {
        self.last_report.elapsed() > Duration::from_millis(500)
            || self.log.due(self.done, self.total)
    }

    /// Logs a loss reading, fails if it shows divergence, refreshes the progress display.
    pub fn record_loss(&mut self, l: Option<StepLoss>) -> Result<()> {
        if let Some(l) = l {
            self.log.add(l, self.done, self.total);
            self.recent = l.mean().or(self.recent);
            if let Some(m) = l.mean() {
                check_divergence(m, self.done, self.cfg)?;
            }
        }
        progress_message(
            &self.bar,
            self.done,
            self.start,
            self.recent,
            (self.lr)(self.done),
        );
        self.last_report = Instant::now();
        Ok(())
    }

    /// Ends the progress display; the report of what the run did, with the fields every
    /// stepped engine shares (the engine adds its own).
    pub fn finish(&mut self) -> TrainReport {
        let secs = self.start.elapsed().as_secs_f64();
        self.bar.finish_and_clear();
        TrainReport {
            words: self.words(),
            train_seconds: secs,
            words_per_second: self.words() as f64 / secs.max(1e-9),
            final_loss: self.log.tail.mean(),
            loss_curve: std::mem::take(&mut self.log.curve),
            batcher_wait_fraction: Some(self.wait.as_secs_f64() / secs.max(1e-9)),
            threads: 1,
            interrupted: self.interrupted,
            ..TrainReport::default()
        }
    }

    /// Words trained by this process.
    pub fn words(&self) -> u64 {
        self.done - self.start_done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TrainConfig {
        TrainConfig {
            alpha: Some(0.1),
            ..TrainConfig::default()
        }
    }

    #[test]
    fn rate_follows_the_schedule_across_an_item() {
        let c = cfg();
        let total = 1000;
        let run = RunState::new(
            &c,
            total,
            None,
            &Reporter::quiet(),
            Box::new(|d| c.lr_at(d, total)),
        );
        let r = run.rate(250);
        assert_eq!(r.start, c.lr_at(0, total));
        assert_eq!(r.end, c.lr_at(250, total));
        assert!(r.start > r.end, "word2vec's rate decays");
        assert!((r.at(1, 2) - (r.start + r.end) / 2.0).abs() < 1e-7);
    }

    #[test]
    fn a_resumed_run_starts_where_its_checkpoint_stopped() {
        let c = cfg();
        let ck = Checkpoint {
            fingerprint: serde_json::json!({}),
            words_done: 600,
            steps: 7,
            cursors: vec![Cursor {
                pos: 42,
                ..Cursor::default()
            }],
            words: vec![],
            counts: vec![],
            model: Model::new(0, 1, 0),
            state: None,
        };
        let run = RunState::new(&c, 1000, Some(&ck), &Reporter::quiet(), Box::new(|_| 0.1));
        assert_eq!(
            (run.done, run.start_done, run.steps, run.words()),
            (600, 600, 7, 0)
        );
        assert_eq!(
            run.start_cursors.map(|c| c.iter().map(|c| c.pos).collect()),
            Some(vec![42])
        );
    }

    #[test]
    fn divergence_stops_the_run_and_normal_losses_do_not() {
        let c = cfg();
        let mut run = RunState::new(&c, 1000, None, &Reporter::quiet(), Box::new(|_| 0.1));
        run.done = 100;
        run.record_loss(Some(StepLoss {
            sum: 6.9,
            terms: 10,
        }))
        .unwrap();
        assert_eq!(run.log.curve.len(), 1);
        for bad in [f64::NAN, f64::INFINITY, 1e6] {
            let e = run
                .record_loss(Some(StepLoss {
                    sum: bad,
                    terms: 10,
                }))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("training diverged") && e.contains("--alpha"),
                "{e}"
            );
        }
    }

    #[test]
    fn loss_curve_points_every_percent_and_the_tail_is_the_last_tenth() {
        let mut log = LossLog::default();
        for k in 1..=100u64 {
            log.add(
                StepLoss {
                    sum: k as f64,
                    terms: 1,
                },
                k * 10,
                1000,
            );
        }
        assert_eq!(log.curve.len(), 100);
        // The tail holds the words from 90% on: k = 90..=100.
        assert_eq!(log.tail.terms, 11);
        assert!(!log.due(1000, 1000) || log.curve.last().unwrap().0 < 1000);
    }

    #[test]
    fn a_stop_request_is_seen() {
        // The flag is process-wide; this test only sets it in a child-free way and resets
        // it, so other tests in this binary never see it.
        assert!(!stop_requested() || STOP.load(Ordering::SeqCst));
        STOP.store(true, Ordering::SeqCst);
        assert!(stop_requested());
        STOP.store(false, Ordering::SeqCst);
    }
}
