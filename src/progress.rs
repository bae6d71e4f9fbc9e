//! Where a run's progress, notes and warnings go (stderr), kept apart from the trainers so
//! that every layer (the GPU context too) can report without depending on them.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Where progress goes: a bar on stderr when it is a terminal and not `--quiet`.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    /// Progress bar and notes (a terminal, not `--quiet`).
    pub show: bool,
    /// Warnings (not `--quiet`, terminal or not).
    pub warn: bool,
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        Reporter {
            show: !quiet && std::io::stderr().is_terminal(),
            warn: !quiet,
        }
    }

    pub fn quiet() -> Reporter {
        Reporter {
            show: false,
            warn: false,
        }
    }

    /// A warning on stderr, shown unless `--quiet` (also when stderr is not a terminal).
    pub fn warning(&self, msg: &str) {
        if self.warn {
            eprintln!("warning: {msg}");
        }
    }

    pub(crate) fn bar(&self, total: u64) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(total),
            if self.show {
                ProgressDrawTarget::stderr_with_hz(4)
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} ETA {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar
    }

    /// A line of information on stderr (hidden with `--quiet` or when not a terminal).
    pub fn note(&self, msg: &str) {
        if self.show {
            eprintln!("{msg}");
        }
    }
}
