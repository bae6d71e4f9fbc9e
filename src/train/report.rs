//! What a run did: the summary and the `--json` report.

/// What a run did; printed as the summary and as `--json`.
#[derive(Debug, Clone, Default)]
pub struct TrainReport {
    /// In-vocabulary corpus words processed, all epochs.
    pub words: u64,
    /// Seconds of training, excluding reading the corpus and building the vocabulary.
    pub train_seconds: f64,
    pub words_per_second: f64,
    pub vocab_size: usize,
    /// Mean loss per term over the last 10% of training words.
    pub final_loss: Option<f64>,
    pub backend: String,
    pub adapter: Option<String>,
    /// The GPU kernel variant that ran (GPU SGD only).
    pub kernel: Option<String>,
    /// `native` or `cas`: how the GPU kernel made its atomic float adds.
    pub atomics: Option<String>,
    /// How the GPU kernel sums dot products: `subgroup` or `serial`.
    pub reduce: Option<String>,
    /// GPU: invocations per workgroup of the SGD kernels (`--gpu-workgroup`).
    pub workgroup: Option<u32>,
    /// GPU: where the window kernel kept skip-gram's context rows (`workgroup` or
    /// `device`, `--gpu-context-rows`); None where the kernel keeps none of its own.
    pub context_rows: Option<String>,
    /// GPU: how the weight matrices are stored (`--precision`: f32 or f16).
    pub precision: Option<String>,
    /// GPU: bytes of device memory the weight matrices take.
    pub device_matrix_bytes: Option<u64>,
    /// Why that kernel and those atomics: a flag, or the adapter's features.
    pub kernel_reason: Option<String>,
    pub corpus_seconds: f64,
    pub tokens_read: u64,
    /// Bytes of the memory-mapped id cache file (0: ids held in memory).
    pub cache_bytes: u64,
    /// Times the counting table was pruned (`--max-vocab-size`).
    pub vocab_prunes: u32,
    /// Most distinct words the counting table held.
    pub vocab_table_peak: usize,
    /// Skip-gram pairs or CBOW centre predictions (CPU trainer only).
    pub pairs: Option<u64>,
    /// Bytes written to the device per corpus word (GPU only).
    pub upload_bytes_per_word: Option<f64>,
    /// Mean positions (kept words and sentence ends) per step of the GPU SGD engine: at
    /// least one sentence chunk of each stream, so above `--gpu-batch` on corpora with
    /// long sentences.
    pub positions_per_step: Option<f64>,
    /// Fraction of the GPU loop's wall time spent waiting for the batcher (GPU only).
    pub batcher_wait_fraction: Option<f64>,
    /// Seconds the device spent in training kernels (GPU with timestamp queries).
    pub kernel_seconds: Option<f64>,
    /// Atomic float adds into the matrices per corpus word this process trained, as the GPU
    /// kernels counted them (GPU SGD engine with `--gpu-updates atomic`).
    pub atomic_adds_per_word: Option<f64>,
    /// The most workgroups of the GPU SGD kernels seen running at once
    /// (`W2V_GPU_IN_FLIGHT_PEAK=1` only: counting costs atomics).
    pub workgroups_in_flight_peak: Option<u32>,
    pub threads: usize,
    /// Corpus parts read side by side (`--streams`): the stepped engines' count, or every
    /// Hogwild thread's parts together where it reads more than one each.
    pub streams: Option<usize>,
    /// `sgd`, `adagrad`, `adam` or `rmsprop`.
    pub optimizer: String,
    /// Bytes of the two matrices and of the optimizer state.
    pub model_bytes: u64,
    pub state_bytes: u64,
    /// (words done, mean loss per term since the previous point), about every 1% of the run.
    pub loss_curve: Vec<(u64, f64)>,
    /// Stopped early by SIGINT/SIGTERM.
    pub interrupted: bool,
    /// Words already done by the checkpoint this run resumed from.
    pub resumed_from: Option<u64>,
    /// Ranks of a distributed run (1 without MPI).
    pub ranks: usize,
    /// Words of the whole run, all epochs, all ranks (0: not set).
    pub run_words: u64,
    /// What the syncs of a distributed run did (rank 0's view).
    pub sync: Option<crate::dist::sync::SyncStats>,
    /// Each rank's checksum of its final matrices (all equal; empty without syncs).
    pub model_checksums: Vec<u64>,
}

impl TrainReport {
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "words": self.words,
            "train_seconds": self.train_seconds,
            "words_per_second": self.words_per_second,
            "vocab_size": self.vocab_size,
            "final_loss": self.final_loss,
            "backend": self.backend,
            "adapter": self.adapter,
            "kernel": self.kernel,
            "atomics": self.atomics,
            "kernel_reason": self.kernel_reason,
            "reduce": self.reduce,
            "corpus_seconds": self.corpus_seconds,
            "tokens_read": self.tokens_read,
            "pairs": self.pairs,
            "upload_bytes_per_word": self.upload_bytes_per_word,
            "batcher_wait_fraction": self.batcher_wait_fraction,
            "kernel_seconds": self.kernel_seconds,
            "gpu_busy_fraction": self.kernel_seconds.map(|k| k / self.train_seconds.max(1e-9)),
            "threads": self.threads,
            "optimizer": self.optimizer,
            "model_bytes": self.model_bytes,
            "state_bytes": self.state_bytes,
            "loss_curve": self.loss_curve,
            "interrupted": self.interrupted,
            "resumed_from": self.resumed_from,
            "ranks": self.ranks.max(1),
            "run_words": self.run_words,
            "sync": self.sync.map(|s| serde_json::json!({
                "syncs": s.syncs,
                "full_syncs": s.full_syncs,
                "bytes": s.bytes,
                // This rank's bytes per word it trained (every rank trains about
                // words / ranks and sends about as much).
                "bytes_per_rank_word": s.bytes as f64 * self.ranks.max(1) as f64 / self.words.max(1) as f64,
                "bytes_per_sync": s.bytes as f64 / s.syncs.max(1) as f64,
                "rows": s.rows,
                "seconds": s.seconds,
                "blocking_seconds": s.blocking_seconds,
                "fraction_of_wall": s.seconds / self.train_seconds.max(1e-9),
                "row_lists": s.lists,
                "row_bitmaps": s.bitmaps,
                "model_checksums": self.model_checksums.iter().map(|c| format!("{c:016x}")).collect::<Vec<_>>(),
            })),
            "peak_rss_bytes": peak_rss_bytes(),
            "peak_anon_rss_bytes": MEMORY.peak(),
            "cache_bytes": self.cache_bytes,
            "vocab_prunes": self.vocab_prunes,
            "vocab_table_peak": self.vocab_table_peak,
        });
        if let Some(s) = self.sync {
            v["sync"]["input_tail"] = s.input_tail.into();
        }
        v["streams"] = self.streams.into();
        v["precision"] = self.precision.clone().into();
        v["workgroup"] = self.workgroup.into();
        v["context_rows"] = self.context_rows.clone().into();
        v["device_matrix_bytes"] = self.device_matrix_bytes.into();
        v["atomic_adds_per_word"] = self.atomic_adds_per_word.into();
        v["workgroups_in_flight_peak"] = self.workgroups_in_flight_peak.into();
        v["positions_per_step"] = self.positions_per_step.into();
        v
    }
}

/// The process's peak resident memory so far (`VmHWM` on Linux; `None` elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resident anonymous memory (`RssAnon`: heap and stacks, not file pages such as the
/// memory-mapped corpus and id cache, which the kernel can drop and re-read), Linux only.
pub fn anon_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The peak of [`anon_rss_bytes`], sampled every 50 ms by a thread that starts with the
/// first call of [`MemorySampler::start`] (the kernel keeps no peak of it).
pub struct MemorySampler {
    peak: std::sync::atomic::AtomicU64,
    started: std::sync::Once,
}

pub static MEMORY: MemorySampler = MemorySampler {
    peak: std::sync::atomic::AtomicU64::new(0),
    started: std::sync::Once::new(),
};

impl MemorySampler {
    pub fn start(&'static self) {
        if anon_rss_bytes().is_none() {
            return;
        }
        self.started.call_once(|| {
            std::thread::spawn(move || loop {
                if let Some(b) = anon_rss_bytes() {
                    self.peak.fetch_max(b, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            });
        });
    }

    /// The peak so far (`None` where not sampled).
    pub fn peak(&self) -> Option<u64> {
        if let Some(b) = anon_rss_bytes() {
            self.peak.fetch_max(b, std::sync::atomic::Ordering::Relaxed);
        }
        match self.peak.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            b => Some(b),
        }
    }
}
