//! Every training hyper-parameter, with word2vec.c's defaults, validated once.

use crate::error::{Error, Result};
use crate::optim::{OptimParams, OptimizerKind};
use std::path::PathBuf;

/// Skip-gram predicts the context from the centre word; CBOW predicts the centre word
/// from the mean of its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    SkipGram,
    Cbow,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::SkipGram => "skipgram",
            ModelKind::Cbow => "cbow",
        }
    }
}

/// Which engine trains: the CPU trainer or a `wgpu` backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Vulkan,
    Metal,
    Dx12,
    Gl,
    /// The best GPU adapter found; the CPU trainer when only software adapters exist.
    Auto,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Vulkan => "vulkan",
            BackendKind::Metal => "metal",
            BackendKind::Dx12 => "dx12",
            BackendKind::Gl => "gl",
            BackendKind::Auto => "auto",
        }
    }
    /// Why this backend cannot exist on the platform the binary was built for, if so.
    pub fn unavailable_here(self) -> Option<String> {
        let apple = cfg!(any(target_os = "macos", target_os = "ios"));
        let windows = cfg!(windows);
        match self {
            BackendKind::Metal if !apple => Some(
                "metal exists only on macOS and iOS; on this platform use vulkan, gl, auto or cpu"
                    .into(),
            ),
            BackendKind::Dx12 if !windows => Some(
                "dx12 exists only on Windows; on this platform use vulkan, gl, auto or cpu".into(),
            ),
            _ => None,
        }
    }
}

// The GPU kernel choices are flags of a run, so their types live here (the GPU engine,
// `backend::gpu::shaders`, builds the shaders from them).

/// How concurrent workgroups add into shared matrix rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updates {
    /// An atomic add per element (native or compare-and-swap, see [`Atomics`]): no update
    /// is lost.
    Atomic,
    /// Atomic adds for the `HOT_ROWS` (8192) most frequent words (ids are sorted by
    /// frequency), plain relaxed load/store for the rest, which are rarely contended.
    Hybrid,
    /// Plain read-add-write (Hogwild as on the CPU): simultaneous writers lose updates.
    Racy,
}

/// How the GPU engine stores the two weight matrices (and the hierarchical-softmax tree's)
/// in device memory. Arithmetic is f32 either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// One f32 per weight.
    #[default]
    F32,
    /// One IEEE half per weight (half the device memory): dimensions `d` and `d + dim/2` of
    /// a row share a 32-bit word, every add rounds its result to a half *stochastically*
    /// (up with probability equal to the discarded fraction), so adds smaller than half a
    /// half-precision ulp are kept in expectation instead of being lost. Adds go through a
    /// compare-and-swap loop on the word (no adapter has a 16-bit float atomic add).
    F16,
}

impl Precision {
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::F16];

    /// The name `--precision` and `--json` use.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }

    /// Bytes of device memory per weight.
    pub fn bytes(self) -> u64 {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }
}

/// How an atomic float add is carried out on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Atomics {
    /// `atomicAdd` on `atomic<f32>`: one hardware instruction (a fire-and-forget reduction
    /// on NVIDIA and AMD). Needs `wgpu::Features::SHADER_FLOAT32_ATOMIC` (Vulkan with
    /// VK_EXT_shader_atomic_float, Metal 3); naga 30 cannot write it for DX12 or GL.
    Native,
    /// A compare-and-swap loop on the element's bit pattern (`atomic<u32>`): every backend.
    CompareAndSwap,
}

/// A kernel choice between a variant that needs an optional adapter feature and a portable
/// fallback that every adapter runs (`Atomics`, `Reduce`): `auto` takes the first where the
/// adapter has the feature, a flag forces either.
pub trait FeatureVariant: Copy + PartialEq + 'static {
    /// The flag that forces a variant.
    const FLAG: &'static str;
    /// The variant that needs [`FeatureVariant::FEATURE`], and the one every adapter runs.
    const FAST: Self;
    const PORTABLE: Self;
    const FEATURE: wgpu::Features;
    /// The feature as messages and `--json` name it.
    const FEATURE_NAME: &'static str;

    /// The name `devices` and `--json` report.
    fn name(self) -> &'static str;

    /// The adapter feature the variant needs.
    fn required_features(self) -> wgpu::Features {
        if self == Self::FAST {
            Self::FEATURE
        } else {
            wgpu::Features::empty()
        }
    }

    /// The variant the engine runs on an adapter with `features`, unless forced.
    fn best_for(features: wgpu::Features) -> Self {
        if features.contains(Self::FEATURE) {
            Self::FAST
        } else {
            Self::PORTABLE
        }
    }
}

impl FeatureVariant for Atomics {
    const FLAG: &'static str = "--gpu-atomics";
    const FAST: Atomics = Atomics::Native;
    const PORTABLE: Atomics = Atomics::CompareAndSwap;
    const FEATURE: wgpu::Features = wgpu::Features::SHADER_FLOAT32_ATOMIC;
    const FEATURE_NAME: &'static str = "SHADER_FLOAT32_ATOMIC";

    fn name(self) -> &'static str {
        match self {
            Atomics::Native => "native",
            Atomics::CompareAndSwap => "cas",
        }
    }
}

/// How a kernel sums a dot product over the dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// One invocation per (context, output) cell loops over every dimension.
    Serial,
    /// A segment of a subgroup's lanes per cell, each lane summing a strided part of the
    /// dimensions, the segment's partial sums combined with `subgroupShuffleXor`: windows
    /// with fewer cells than lanes (CBOW, short skip-gram windows) keep every lane busy.
    /// Needs `wgpu::Features::SUBGROUP` (Vulkan, Metal, DX12 with SM 6.0).
    Subgroup,
}

impl Reduce {
    pub const ALL: [Reduce; 2] = [Reduce::Serial, Reduce::Subgroup];
}

impl FeatureVariant for Reduce {
    const FLAG: &'static str = "--gpu-reduce";
    const FAST: Reduce = Reduce::Subgroup;
    const PORTABLE: Reduce = Reduce::Serial;
    const FEATURE: wgpu::Features = wgpu::Features::SUBGROUP;
    const FEATURE_NAME: &'static str = "SUBGROUP";

    fn name(self) -> &'static str {
        match self {
            Reduce::Serial => "serial",
            Reduce::Subgroup => "subgroup",
        }
    }
}

impl Updates {
    /// Every mode (see `backend::gpu::shaders::variants`; the match below fails to compile when one is added
    /// without being listed).
    pub const ALL: [Updates; 3] = [Updates::Atomic, Updates::Hybrid, Updates::Racy];
}

impl Atomics {
    pub const ALL: [Atomics; 2] = [Atomics::Native, Atomics::CompareAndSwap];
}

impl Kernel {
    pub const ALL: [Kernel; 3] = [Kernel::Window, Kernel::Chunk, Kernel::Tile];
}

// Exhaustiveness guards for the ALL lists above.
const _: fn(Updates, Atomics, Kernel, Reduce) = |u, a, k, r| {
    match r {
        Reduce::Serial | Reduce::Subgroup => {}
    }
    match u {
        Updates::Atomic | Updates::Hybrid | Updates::Racy => {}
    }
    match a {
        Atomics::Native | Atomics::CompareAndSwap => {}
    }
    match k {
        Kernel::Window | Kernel::Chunk | Kernel::Tile => {}
    }
};

/// Which SGD training kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// One workgroup per centre position (train.wgsl): every window gathers its rows from
    /// and adds them back to global memory.
    Window,
    /// One workgroup per chunk of consecutive positions walked in order, the context rows
    /// in a sliding ring in workgroup memory (chunk.wgsl): a row is loaded and flushed once
    /// per chunk.
    Chunk,
    /// One workgroup per tile of consecutive positions whose windows run together (tile.wgsl):
    /// the tile's context rows are loaded once into workgroup memory and every touched row
    /// gets one add per tile, merged over the windows that used it.
    Tile,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Window => "window",
            Kernel::Chunk => "chunk",
            Kernel::Tile => "tile",
        }
    }
}

/// The order a step's windows run in on the GPU (`--gpu-order`): the window-per-position
/// kernels' (window, subword, hierarchical softmax) positions, and the tile kernel's tiles.
/// The chunk kernel walks consecutive positions by design and keeps its order (chunks
/// running together walk windows a chunk apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Workgroup g trains position (g mod ⌈n/S⌉)·S + ⌊g / ⌈n/S⌉⌋ of a step of n: positions
    /// 0, S, 2S, ..., then 1, 1 + S, ..., with S = [`Order::stride`]. The workgroups that
    /// run at one time train windows S positions apart, which share no context position,
    /// and consecutive windows (which share most of their rows) run far apart in time.
    Strided,
    /// Workgroup g trains position g (the order before `--gpu-order`).
    Sequential,
}

impl Order {
    /// The stride S for `window`: 1 for sequential; strided, the smallest power of two above
    /// 2·window and at least 16 (windows S apart share no context position).
    pub fn stride(self, window: usize) -> usize {
        match self {
            Order::Sequential => 1,
            Order::Strided => (2 * window + 1).next_power_of_two().max(16),
        }
    }

    /// The tile kernel's stride in tiles of `tile` positions: 1 for sequential; strided,
    /// 64, or where tiles 64 apart would share a position of their windows the smallest
    /// power of two k with k·tile > tile − 1 + 2·window. On the kernels' CPU reference with
    /// 256–924 tiles of 8 in flight, strides 16 and 64 score as the tiles one after
    /// another, a stride of 4 (the smallest that shares no position at window 5) 2–3
    /// analogy points lower: the tiles running together must be spread over the step, not
    /// only apart (BENCHMARKS.md "Window order").
    pub fn tile_stride(self, window: usize, tile: usize) -> usize {
        let tile = tile.max(1);
        match self {
            Order::Sequential => 1,
            Order::Strided => ((2 * window).div_ceil(tile) + 1)
                .next_power_of_two()
                .max(64),
        }
    }
}

/// Centre positions per workgroup of the chunk kernel (the tile kernel's most) unless
/// `--gpu-chunk` says otherwise.
pub const DEFAULT_GPU_CHUNK: u32 = 32;
/// The most workgroups `--gpu-in-flight` takes: a split dispatch is one row of workgroups
/// (the engine's dispatches are at most 32,768 wide).
pub const MAX_GPU_IN_FLIGHT: u32 = 32_768;
/// `--gpu-in-flight n` (train and doc2vec): within 1..=[`MAX_GPU_IN_FLIGHT`].
pub fn check_gpu_in_flight(n: Option<u32>) -> Result<()> {
    match n.filter(|n| !(1..=MAX_GPU_IN_FLIGHT).contains(n)) {
        Some(n) => Err(Error::usage(
            "--gpu-in-flight",
            format!("{n} is outside 1..={MAX_GPU_IN_FLIGHT} (workgroups per dispatch)"),
        )),
        None => Ok(()),
    }
}

/// Invocations per workgroup of the GPU's minibatch, doc2vec and classifier kernels unless
/// a flag says otherwise; the SGD kernels of `train` take [`default_gpu_workgroup`].
pub const DEFAULT_GPU_WORKGROUP: u32 = 64;

/// The workgroup sizes `--gpu-workgroup` takes.
pub const GPU_WORKGROUPS: [u32; 6] = [32, 64, 128, 256, 512, 1024];

/// Invocations per workgroup of `train`'s SGD kernels at `dim` unless `--gpu-workgroup`
/// says otherwise: the smallest power of two at or above `dim`, at least 64 and at most 512
/// (measured on an H200, BENCHMARKS.md: 128 lanes fastest at dim 100, 512 at dim 300; a
/// window's dot products and row copies split over more lanes, and workgroup memory, not
/// lanes, limits how many workgroups a compute unit holds); 64 with half-precision storage
/// (`--precision f16` at dim 100: 22.0M words/s with 64 lanes, 7.9M with 128; likely
/// because two lanes add the two halves of one 32-bit word with compare-and-swap loops on
/// that word, and more lanes run more such pairs at once). The engine halves it where the
/// kernel would not fit the adapter's workgroup memory or invocations.
pub fn default_gpu_workgroup(dim: usize, precision: Precision) -> u32 {
    match precision {
        Precision::F16 => 64,
        Precision::F32 => (dim.max(1).next_power_of_two() as u32).clamp(64, 512),
    }
}

/// Bytes of skip-gram's context rows (2·`window` rows of `dim` floats) up to which the
/// window kernel keeps them in workgroup memory unless `--gpu-context-rows` says otherwise;
/// above, it reads them from the matrix (measured on an H200, BENCHMARKS.md: at window 5
/// no faster at dim 100 (4,000 bytes), 1.1–1.4× at dim 200 and 300).
pub const CONTEXT_ROWS_LOCAL_BYTES: usize = 4096;

/// Where the window kernel keeps skip-gram's context rows unless `--gpu-context-rows` says
/// otherwise (see [`CONTEXT_ROWS_LOCAL_BYTES`]).
pub fn default_context_rows(dim: usize, window: usize) -> ContextRows {
    if 2 * window * dim * 4 <= CONTEXT_ROWS_LOCAL_BYTES {
        ContextRows::Workgroup
    } else {
        ContextRows::Device
    }
}

/// Where the window kernel keeps skip-gram's context rows while it trains a window
/// (`--gpu-context-rows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextRows {
    /// Copied into workgroup memory once per window (2·--window rows of --dim floats).
    Workgroup,
    /// Read from the matrix at each use, through the cache: the workgroup keeps only the
    /// output rows, so more workgroups fit on a compute unit.
    Device,
}

impl ContextRows {
    pub fn name(self) -> &'static str {
        match self {
            ContextRows::Workgroup => "workgroup",
            ContextRows::Device => "device",
        }
    }
}

/// Output file format for vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `V D` header, then one `word v1 v2 ...` line per word.
    Text,
    /// `V D` header, then `word` + space + D little-endian f32 + newline per word.
    Binary,
}

impl Format {
    /// word2vec.c's convention: `.bin` means binary, anything else text.
    pub fn from_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("bin") => Format::Binary,
            _ => Format::Text,
        }
    }
}

/// All settings of one training run.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub input: PathBuf,
    /// More corpus files (or directories), read after `input` as one corpus.
    pub more_inputs: Vec<PathBuf>,
    pub output: PathBuf,
    /// `None`: from the output's extension.
    pub format: Option<Format>,
    pub model: ModelKind,
    pub dim: usize,
    pub window: usize,
    pub negative: usize,
    /// Hierarchical softmax (word2vec.c's `-hs 1`).
    pub hs: bool,
    /// Subword units (`--subwords --minn --maxn --bucket`).
    pub subwords: Option<crate::subword::SubwordParams>,
    /// Where to write the fastText `.bin` model (`--fasttext-bin`, with `--subwords`).
    pub fasttext_bin: Option<PathBuf>,
    pub min_count: u64,
    pub max_vocab: Option<usize>,
    /// Distinct words held while counting before pruning (`--max-vocab-size`).
    pub max_vocab_size: usize,
    /// Where the encoded corpus is cached (`None`: the checkpoint directory, else the
    /// system's temporary directory).
    pub cache_dir: Option<PathBuf>,
    pub sample: f64,
    pub epochs: usize,
    /// `None`: 0.025 for skip-gram, 0.05 for CBOW (word2vec.c).
    pub alpha: Option<f32>,
    pub threads: usize,
    pub backend: BackendKind,
    /// Index into the adapters of the chosen backend (`w2v-gpu devices` lists them).
    pub adapter: Option<usize>,
    pub seed: u64,
    pub save_vocab: Option<PathBuf>,
    pub read_vocab: Option<PathBuf>,
    /// Centre positions per GPU step.
    pub gpu_batch: usize,
    /// `--streams`: corpus parts read side by side (see [`crate::batch::Streams`]); `None`:
    /// [`DEFAULT_STREAMS`] for the stepped engines (GPU, minibatch), one part per thread for
    /// the Hogwild trainer (word2vec.c's order). See [`TrainConfig::stepped_streams`] and
    /// [`TrainConfig::parts_per_thread`].
    pub streams: Option<usize>,
    /// GPU conflict strategy for rows updated by several workgroups at once.
    pub gpu_updates: Updates,
    /// How the GPU's atomic float add is done; `None`: native where the adapter has it.
    pub gpu_atomics: Option<Atomics>,
    /// Which SGD kernel; `None`: [`crate::backend::gpu::shaders::auto_kernel`]'s choice.
    pub gpu_kernel: Option<Kernel>,
    /// How the SGD kernels sum dot products; `None`: subgroups where the adapter has them.
    pub gpu_reduce: Option<Reduce>,
    /// Centre positions per workgroup of the chunk kernel; the most per workgroup of the
    /// tile kernel (halved until it fits the adapter's workgroup memory).
    pub gpu_chunk: u32,
    /// The tile kernel draws its noise words once per tile and shares them among the tile's
    /// windows (one add per noise row per tile).
    pub gpu_tile_noise: bool,
    /// Invocations per workgroup of the SGD kernels; `None`: [`default_gpu_workgroup`].
    pub gpu_workgroup: Option<u32>,
    /// Where the window kernel keeps skip-gram's context rows; `None`:
    /// [`default_context_rows`], and read from the matrix where they do not fit.
    pub gpu_context_rows: Option<ContextRows>,
    /// The order of a step's windows on the window-per-position kernels (`--gpu-order`).
    pub gpu_order: Order,
    /// At most this many workgroups of a step's kernel run at once: its dispatch split into
    /// dispatches of this many, one after another (`--gpu-in-flight`; None: one dispatch).
    pub gpu_in_flight: Option<u32>,
    /// How the GPU engine stores its weight matrices (`--precision`).
    pub precision: Precision,
    /// CPU skip-gram: noise words drawn once per centre word and shared by its window.
    pub shared_negatives: bool,
    /// Count the GPU's (context, centre) pairs on the host (benchmarks).
    pub count_pairs: bool,
    /// Distributed runs: the sync schedule and how rows are averaged.
    pub dist: crate::dist::DistOptions,
    /// Test hook: pretend the device's storage binding limit is this many bytes, to force
    /// the row-range split of the matrices on small models.
    pub max_binding_bytes: Option<u64>,
    /// `sgd` (word2vec's) or a sparse adaptive optimizer trained on minibatches.
    pub optimizer: OptimizerKind,
    /// Centre words per minibatch (adaptive optimizers); `None`: 512.
    pub batch_size: Option<usize>,
    pub beta1: Option<f32>,
    pub beta2: Option<f32>,
    pub eps: Option<f32>,
    /// Update every row each step instead of only the used ones (measuring; CPU and GPU).
    pub dense_optimizer: bool,
    /// Train with the minibatch engine (fixed work partition, fixed summation order), so a
    /// seed gives the same vectors for any `--threads` (CPU) and on a given adapter (GPU).
    pub deterministic: bool,
    /// Noise words are drawn from unigram^ns_exponent (word2vec: 0.75).
    pub ns_exponent: f64,
    /// `None`: word2vec.c's decay (to alpha·1e-4); `Some(m)`: linear from alpha to `m`
    /// (gensim's `min_alpha`; `m = alpha` is a constant rate).
    pub min_alpha: Option<f32>,
    /// `false`: word2vec.c's initialisation (input uniform ±0.5/D, output 0); `true`: both
    /// matrices uniform ±1/D (finalfrontier's).
    pub uniform_init: bool,
    /// Write checkpoints here.
    pub checkpoint_dir: Option<PathBuf>,
    pub checkpoint_every: CheckpointEvery,
    /// Continue from the newest checkpoint in this directory.
    pub resume: Option<PathBuf>,
    /// Write k-means word classes (`word class` lines) instead of vectors, as word2vec.c's
    /// `-classes K`; 0: vectors.
    pub classes: usize,
    /// How raw words become vocabulary words (`--lowercase`, `--strip-punctuation`).
    pub normalize: crate::corpus::Normalize,
    /// Start the input vectors of the words this file has from it (word2vec format).
    pub init_vectors: Option<PathBuf>,
    /// Start the output (context) vectors of the words this file has from it.
    pub init_context: Option<PathBuf>,
    /// Also write the output (context) matrix here, in the output format.
    pub save_context: Option<PathBuf>,
    /// The `train` command-line arguments (stored in checkpoints for `--resume DIR`).
    pub command_line: Vec<String>,
}

/// How often checkpoints are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointEvery {
    Seconds(u64),
    Words(u64),
}

impl CheckpointEvery {
    /// `10m`, `30s`, `2h` (time) or a plain number of corpus words (`5000000`).
    pub fn parse(s: &str) -> Result<CheckpointEvery> {
        let bad = || {
            Error::usage(
                "--checkpoint-every",
                format!("{s:?} is neither a time (30s, 10m, 2h) nor a number of words (5000000)"),
            )
        };
        let t = s.trim();
        let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
        let n: u64 = num.parse().map_err(|_| bad())?;
        let every = match unit {
            "" => CheckpointEvery::Words(n),
            "s" => CheckpointEvery::Seconds(n),
            "m" => CheckpointEvery::Seconds(n * 60),
            "h" => CheckpointEvery::Seconds(n * 3600),
            _ => return Err(bad()),
        };
        if n == 0 {
            return Err(Error::usage("--checkpoint-every", "must be more than 0"));
        }
        Ok(every)
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            input: PathBuf::new(),
            more_inputs: Vec::new(),
            output: PathBuf::new(),
            format: None,
            model: ModelKind::SkipGram,
            dim: 100,
            window: 5,
            negative: 5,
            hs: false,
            subwords: None,
            fasttext_bin: None,
            min_count: 5,
            max_vocab: None,
            max_vocab_size: crate::corpus::DEFAULT_TABLE_LIMIT,
            cache_dir: None,
            sample: 1e-3,
            epochs: 5,
            alpha: None,
            threads: all_threads(),
            backend: BackendKind::Cpu,
            adapter: None,
            seed: 1,
            save_vocab: None,
            read_vocab: None,
            gpu_batch: 1 << 16,
            streams: None,
            gpu_updates: Updates::Atomic,
            gpu_atomics: None,
            gpu_kernel: None,
            gpu_reduce: None,
            gpu_chunk: DEFAULT_GPU_CHUNK,
            gpu_tile_noise: false,
            gpu_workgroup: None,
            gpu_context_rows: None,
            gpu_order: Order::Strided,
            gpu_in_flight: None,
            precision: Precision::F32,
            max_binding_bytes: None,
            count_pairs: false,
            dist: crate::dist::DistOptions::default(),
            shared_negatives: false,
            optimizer: OptimizerKind::Sgd,
            batch_size: None,
            beta1: None,
            beta2: None,
            eps: None,
            dense_optimizer: false,
            deterministic: false,
            ns_exponent: 0.75,
            min_alpha: None,
            uniform_init: false,
            checkpoint_dir: None,
            checkpoint_every: CheckpointEvery::Seconds(600),
            resume: None,
            classes: 0,
            normalize: crate::corpus::Normalize::default(),
            init_vectors: None,
            init_context: None,
            save_context: None,
            command_line: Vec::new(),
        }
    }
}

/// Default `--batch-size` (the d2l SGNS recipe's).
pub const DEFAULT_BATCH_SIZE: usize = 512;
/// Largest `--batch-size`: device buffers are sized for it.
pub const MAX_BATCH_SIZE: usize = 1 << 16;

/// Largest window the GPU kernels are built for (shared-memory sizing) and a sanity bound
/// for the CPU.
/// Most corpus streams (`--streams`): a GPU step of 65,536 positions then still takes 64
/// kept words from each.
pub const MAX_STREAMS: usize = 1024;
/// Corpus streams the stepped engines read side by side unless `--streams` says otherwise:
/// on enwiki the one-epoch analogy accuracy rises with the stream count up to about this
/// many (BENCHMARKS.md "Corpus order: 256 streams").
pub const DEFAULT_STREAMS: usize = 256;
pub const MAX_WINDOW: usize = 64;
/// The kernels draw 2 random lanes per noise word out of 64 per position (lane 0 is the
/// window shrink), so at most 31 noise words.
pub const MAX_NEGATIVE: usize = 31;
pub const MAX_DIM: usize = 4096;

impl TrainConfig {
    /// The corpus parts the stepped engines (GPU, minibatch) read side by side.
    pub fn stepped_streams(&self) -> usize {
        self.streams.unwrap_or(DEFAULT_STREAMS)
    }

    /// The corpus parts each Hogwild thread reads side by side: `--streams` shared among
    /// the `--threads` threads (at least one each); one without `--streams`, as in
    /// word2vec.c.
    pub fn parts_per_thread(&self) -> usize {
        self.streams.map_or(1, |s| (s / self.threads.max(1)).max(1))
    }

    /// The starting learning rate: `--alpha`, or word2vec.c's default for the model.
    /// The adaptive optimizers' default learning rate otherwise.
    pub fn start_alpha(&self) -> f32 {
        self.alpha
            .or(self.optimizer.default_lr())
            .unwrap_or(match self.model {
                ModelKind::SkipGram => 0.025,
                ModelKind::Cbow => 0.05,
            })
    }

    /// Where the encoded corpus is cached: `--cache-dir`, else the checkpoint directory,
    /// else the system's temporary directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .or_else(|| self.checkpoint_dir.clone().filter(|d| d.is_dir()))
            .unwrap_or_else(std::env::temp_dir)
    }

    /// The subword settings when n-grams are trained (`--subwords` with `--maxn` > 0).
    pub fn active_subwords(&self) -> Option<crate::subword::SubwordParams> {
        self.subwords.filter(|p| p.maxn > 0 && p.bucket > 0)
    }

    /// Whether the minibatch engine trains (adaptive optimizers, or `--deterministic`).
    pub fn minibatches(&self) -> bool {
        self.optimizer != OptimizerKind::Sgd || self.deterministic
    }

    /// SGD learning rate after `done` of `total` words: word2vec.c's linear decay, or
    /// linear from alpha to `--min-alpha` (gensim's schedule).
    pub fn lr_at(&self, done: u64, total: u64) -> f32 {
        let start = self.start_alpha();
        match self.min_alpha {
            None => crate::sampling::learning_rate(start, done, total),
            Some(m) => crate::sampling::linear_rate(start, m, done, total),
        }
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE)
    }

    /// The adaptive optimizer's settings with their defaults (β₁ 0.9, β₂ 0.999 for Adam
    /// and 0.99 for RMSprop, ε 1e-8).
    pub fn optim_params(&self) -> OptimParams {
        OptimParams {
            kind: self.optimizer,
            beta1: self.beta1.unwrap_or(0.9),
            beta2: self.beta2.unwrap_or(self.optimizer.default_beta2()),
            eps: self.eps.unwrap_or(1e-8),
            dense: self.dense_optimizer,
        }
    }

    pub fn output_format(&self) -> Format {
        self.format
            .unwrap_or_else(|| Format::from_path(&self.output))
    }

    /// Checks every value once, so the trainers can trust them.
    pub fn validate(&self) -> Result<()> {
        if self.dist.schedule.period_words == 0 {
            return Err(Error::usage(
                "--sync-words",
                "must be at least 1 (words each rank trains between syncs)",
            ));
        }
        if self
            .dist
            .lr_scale
            .is_some_and(|s| !(s.is_finite() && s > 0.0))
        {
            return Err(Error::usage(
                "--sync-lr-scale",
                "must be a positive number (the factor on each rank's learning rate)",
            ));
        }
        if self.dist.input_tail == Some(true)
            && (self.minibatches() || !matches!(self.backend, BackendKind::Cpu | BackendKind::Auto))
        {
            return Err(Error::usage(
                "--sync-input-tail",
                "applies to the CPU's Hogwild trainer only: the GPU engine and the minibatch engines (--optimizer adagrad/adam/rmsprop, --deterministic) cannot name the rows they changed beyond a sync's prefix; leave it out (their rows beyond the prefix move at full syncs)",
            ));
        }
        if self.dist.schedule.base_rows == 0 {
            return Err(Error::usage(
                "--sync-rows",
                "must be at least 1 (rows of the smallest sync tier)",
            ));
        }
        if self.input.as_os_str().is_empty() {
            return Err(Error::usage("--input", "a corpus file is required"));
        }
        if self.output.as_os_str().is_empty() {
            return Err(Error::usage("--output", "an output file is required"));
        }
        if self.dim == 0 || self.dim > MAX_DIM {
            return Err(Error::usage(
                "--dim",
                format!(
                    "{} is out of range; use 1..={MAX_DIM} (typical: 100-300)",
                    self.dim
                ),
            ));
        }
        if self.window == 0 || self.window > MAX_WINDOW {
            return Err(Error::usage(
                "--window",
                format!(
                    "{} is out of range; use 1..={MAX_WINDOW} (typical: 5)",
                    self.window
                ),
            ));
        }
        if (self.negative == 0 && !self.hs) || self.negative > MAX_NEGATIVE {
            return Err(Error::usage(
                "--negative",
                format!(
                    "{} is out of range; use 1..={MAX_NEGATIVE} (typical: 5-15), or 0 together with --hs",
                    self.negative
                ),
            ));
        }
        if let Some(p) = self.subwords {
            if p.maxn > 0 && p.minn > p.maxn {
                return Err(Error::usage(
                    "--minn",
                    format!(
                        "--minn {} is above --maxn {}; n-grams run from --minn to --maxn characters (fastText: 3 and 6)",
                        p.minn, p.maxn
                    ),
                ));
            }
            if p.bucket == 0 && p.maxn > 0 {
                return Err(Error::usage(
                    "--bucket",
                    "must be at least 1 with --subwords (fastText: 2000000), or use --maxn 0 for word-only training",
                ));
            }
            if p.bucket > u32::MAX as usize / 2 {
                return Err(Error::usage("--bucket", "is too large (at most 2^31)"));
            }
            if let Some(k @ (Kernel::Chunk | Kernel::Tile)) = self.gpu_kernel.filter(|_| p.maxn > 0)
            {
                return Err(Error::usage(
                    "--gpu-kernel",
                    format!("{} has no subword variant; with --subwords the GPU runs the subword kernel (leave --gpu-kernel at auto)", k.name()),
                ));
            }
        } else if self.fasttext_bin.is_some() {
            return Err(Error::usage(
                "--fasttext-bin",
                "writes a subword model; add --subwords",
            ));
        }
        if self.hs {
            if self.minibatches() {
                return Err(Error::usage(
                    "--hs",
                    "hierarchical softmax trains word2vec-style (--optimizer sgd without --deterministic)",
                ));
            }
            if let Some(k @ (Kernel::Chunk | Kernel::Tile)) =
                self.gpu_kernel.filter(|_| self.negative == 0)
            {
                return Err(Error::usage(
                    "--gpu-kernel",
                    format!("{} is a negative-sampling kernel; with --hs --negative 0 the GPU runs the hierarchical-softmax kernel alone (leave --gpu-kernel at auto)", k.name()),
                ));
            }
            if self.save_context.is_some() && self.negative == 0 {
                return Err(Error::usage(
                    "--save-context",
                    "writes the negative-sampling output matrix, which --negative 0 does not train; drop it or use --negative N",
                ));
            }
        }
        if self.epochs == 0 {
            return Err(Error::usage("--epochs", "must be at least 1"));
        }
        if !(self.sample >= 0.0 && self.sample.is_finite()) {
            return Err(Error::usage(
                "--sample",
                format!(
                    "{} must be >= 0 (0 disables subsampling; typical 1e-3..1e-5)",
                    self.sample
                ),
            ));
        }
        if let Some(a) = self.alpha {
            if !(a > 0.0 && a.is_finite()) {
                return Err(Error::usage("--alpha", format!("{a} must be > 0")));
            }
        }
        if self.threads == 0 {
            return Err(Error::usage("--threads", "must be at least 1"));
        }
        if self.adapter.is_some() && self.backend == BackendKind::Cpu {
            return Err(Error::usage(
                "--adapter",
                "selects a GPU adapter and has no effect with --backend cpu; add --backend vulkan|metal|dx12|gl|auto, or drop --adapter",
            ));
        }
        if let Some(msg) = self.backend.unavailable_here() {
            return Err(Error::usage("--backend", msg));
        }
        self.validate_precision()?;
        if self.max_vocab == Some(0) {
            return Err(Error::usage("--max-vocab", "must be at least 1"));
        }
        if self.max_vocab_size == 0 {
            return Err(Error::usage(
                "--max-vocab-size",
                "must be at least 1 (typical: millions; word2vec.c uses 21000000)",
            ));
        }
        if let Some(d) = &self.cache_dir {
            if !d.is_dir() {
                return Err(Error::usage(
                    "--cache-dir",
                    format!(
                        "{} is not a directory; create it or give another",
                        d.display()
                    ),
                ));
            }
        }
        if self.gpu_tile_noise && self.gpu_kernel != Some(Kernel::Tile) {
            return Err(Error::usage(
                "--gpu-tile-noise",
                "shares noise words among the windows of a tile: it needs --gpu-kernel tile",
            ));
        }
        if self.gpu_batch < 1024 {
            return Err(Error::usage("--gpu-batch", "must be at least 1024"));
        }
        check_gpu_in_flight(self.gpu_in_flight)?;
        if let Some(w) = self.gpu_workgroup.filter(|w| !GPU_WORKGROUPS.contains(w)) {
            return Err(Error::usage(
                "--gpu-workgroup",
                format!(
                    "{w} is not one of {}",
                    GPU_WORKGROUPS.map(|w| w.to_string()).join(", ")
                ),
            ));
        }
        if let Some(s) = self.streams.filter(|s| !(1..=MAX_STREAMS).contains(s)) {
            return Err(Error::usage(
                "--streams",
                format!("{s} is outside 1..={MAX_STREAMS}"),
            ));
        }
        self.validate_optimizer()?;
        if let Some(m) = self.min_alpha {
            if !(m >= 0.0 && m.is_finite()) {
                return Err(Error::usage("--min-alpha", format!("{m} must be >= 0")));
            }
            let a = self.start_alpha();
            if m > a {
                return Err(Error::usage(
                    "--min-alpha",
                    format!("{m} is above the starting rate --alpha {a}; the rate would rise during training. Use a value <= {a}"),
                ));
            }
        }
        if !(self.ns_exponent.is_finite() && (-1.0..=2.0).contains(&self.ns_exponent)) {
            return Err(Error::usage(
                "--ns-exponent",
                format!(
                    "{} is out of range; use -1..=2 (word2vec: 0.75)",
                    self.ns_exponent
                ),
            ));
        }
        for (flag, dir) in [
            ("--checkpoint-dir", &self.checkpoint_dir),
            ("--resume", &self.resume),
        ] {
            if let Some(d) = dir {
                if d.exists() && !d.is_dir() {
                    return Err(Error::usage(
                        flag,
                        format!("{} is a file; give a directory", d.display()),
                    ));
                }
            }
        }
        if let Some(r) = &self.resume {
            if !r.is_dir() {
                return Err(Error::usage(
                    "--resume",
                    format!(
                        "{} does not exist; give the --checkpoint-dir of the run to continue",
                        r.display()
                    ),
                ));
            }
        }
        // An output written over the corpus (or the vocabulary read) would destroy it.
        let corpus: Vec<(&str, &std::path::Path)> = std::iter::once(&self.input)
            .chain(&self.more_inputs)
            .map(|p| ("--input", p.as_path()))
            .collect();
        let vocab = self.read_vocab.as_deref().map(|p| ("--read-vocab", p));
        let outputs = [
            ("--output", Some(self.output.as_path()), vocab),
            ("--save-vocab", self.save_vocab.as_deref(), None),
            ("--fasttext-bin", self.fasttext_bin.as_deref(), vocab),
            ("--save-context", self.save_context.as_deref(), vocab),
        ];
        for (flag, out, read) in outputs {
            if let Some(out) = out {
                let inputs: Vec<_> = corpus.iter().copied().chain(read).collect();
                crate::files::refuse_overwriting_input(flag, out, &inputs)?;
            }
        }
        Ok(())
    }
}

impl TrainConfig {
    /// `--precision f16` is the GPU SGD engine's storage.
    fn validate_precision(&self) -> Result<()> {
        if self.precision == Precision::F32 {
            return Ok(());
        }
        let refuse = |why: &str| Err(Error::usage("--precision", why.to_string()));
        if self.backend == BackendKind::Cpu {
            return refuse(
                "f16 is the GPU engine's storage (the CPU trainer keeps f32 rows); pick a GPU backend (--backend vulkan|metal|dx12|gl|auto) or drop --precision",
            );
        }
        if self.minibatches() {
            return refuse(
                "f16 applies to word2vec-style --optimizer sgd (the minibatch engines, --optimizer adagrad/adam/rmsprop and --deterministic, keep f32 rows and optimizer state); drop --precision or use --optimizer sgd",
            );
        }
        if self.dim % 2 == 1 {
            return refuse(&format!(
                "f16 stores dimensions d and d + dim/2 of a row in one 32-bit word, so --dim must be even (got {}); use --dim {}",
                self.dim,
                self.dim + 1
            ));
        }
        if self.gpu_atomics == Some(Atomics::Native) {
            return refuse(
                "f16 adds with a compare-and-swap loop (no adapter has a 16-bit float atomic add); drop --gpu-atomics native",
            );
        }
        Ok(())
    }

    fn validate_optimizer(&self) -> Result<()> {
        let kind = self.optimizer;
        let name = kind.name();
        let only = |flag: &str, set: bool, ok: bool, which: &str| -> Result<()> {
            if set && !ok {
                return Err(Error::usage(
                    flag,
                    format!("does not apply to --optimizer {name}; it is used by {which}"),
                ));
            }
            Ok(())
        };
        let adaptive = kind != OptimizerKind::Sgd;
        only(
            "--batch-size",
            self.batch_size.is_some(),
            self.minibatches(),
            "adagrad, adam, rmsprop and --deterministic (sgd otherwise trains word2vec-style, window by window)",
        )?;
        only(
            "--beta1",
            self.beta1.is_some(),
            kind == OptimizerKind::Adam,
            "adam",
        )?;
        only(
            "--beta2",
            self.beta2.is_some(),
            matches!(kind, OptimizerKind::Adam | OptimizerKind::Rmsprop),
            "adam and rmsprop (as rmsprop's decay rate)",
        )?;
        only(
            "--eps",
            self.eps.is_some(),
            adaptive,
            "adagrad, adam and rmsprop",
        )?;
        only(
            "--dense-optimizer",
            self.dense_optimizer,
            adaptive,
            "adagrad, adam and rmsprop",
        )?;
        if self.minibatches() && self.shared_negatives {
            return Err(Error::usage(
                "--shared-negatives",
                "applies to word2vec-style --optimizer sgd only (not with adaptive optimizers or --deterministic)",
            ));
        }
        let b = self.batch_size();
        if b == 0 || b > MAX_BATCH_SIZE {
            return Err(Error::usage(
                "--batch-size",
                format!("{b} is out of range; use 1..={MAX_BATCH_SIZE} (typical 512)"),
            ));
        }
        if adaptive {
            self.optim_params().validate()?;
        }
        Ok(())
    }
}

/// Every hardware thread: the default of every `--threads`.
pub fn all_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_tiles_running_together_share_no_position() {
        for window in 1..=10 {
            assert_eq!(Order::Sequential.tile_stride(window, 8), 1);
            for tile in 1..=32 {
                let k = Order::Strided.tile_stride(window, tile);
                assert!(k.is_power_of_two() && k >= 64);
                // Tile u's windows span u·tile − window ..= u·tile + tile − 1 + window;
                // tile u + k's begin past that.
                assert!(
                    k * tile > tile - 1 + 2 * window,
                    "window {window} tile {tile}"
                );
            }
        }
        assert_eq!(Order::Strided.tile_stride(5, 8), 64);
        // Tiles of one position at window 40: 81 positions apart at least.
        assert_eq!(Order::Strided.tile_stride(40, 1), 128);
    }

    #[test]
    fn gpu_launch_defaults_follow_dim_window_and_precision() {
        let wg = |d| default_gpu_workgroup(d, Precision::F32);
        assert_eq!(
            [wg(1), wg(64), wg(65), wg(100), wg(200), wg(256)],
            [64, 64, 128, 128, 256, 256]
        );
        assert_eq!([wg(257), wg(300), wg(1000)], [512, 512, 512]);
        assert_eq!(default_gpu_workgroup(300, Precision::F16), 64);
        assert!(GPU_WORKGROUPS.contains(&wg(300)));
        // 2·window·dim floats up to 4 KiB stay in workgroup memory: dim 100 at window 5
        // (4,000 bytes), not dim 103 (4,120) or dim 100 at window 6 (4,800).
        assert_eq!(default_context_rows(100, 5), ContextRows::Workgroup);
        assert_eq!(default_context_rows(103, 5), ContextRows::Device);
        assert_eq!(default_context_rows(100, 6), ContextRows::Device);
        assert_eq!(default_context_rows(300, 5), ContextRows::Device);
    }

    #[test]
    fn min_alpha_schedule_is_linear_between_the_rates() {
        let mut c = TrainConfig {
            alpha: Some(0.02),
            ..TrainConfig::default()
        };
        // word2vec.c's decay by default.
        assert_eq!(
            c.lr_at(500, 999),
            crate::sampling::learning_rate(0.02, 500, 999)
        );
        c.min_alpha = Some(0.01);
        assert_eq!(c.lr_at(0, 1000), 0.02);
        assert!((c.lr_at(500, 1000) - 0.015).abs() < 1e-7);
        assert!((c.lr_at(5000, 1000) - 0.01).abs() < 1e-7);
        c.min_alpha = Some(0.02);
        assert_eq!(c.lr_at(700, 1000), 0.02);
    }

    #[test]
    fn checkpoint_every_parses_times_and_words() {
        assert_eq!(
            CheckpointEvery::parse("10m").unwrap(),
            CheckpointEvery::Seconds(600)
        );
        assert_eq!(
            CheckpointEvery::parse("2h").unwrap(),
            CheckpointEvery::Seconds(7200)
        );
        assert_eq!(
            CheckpointEvery::parse("5000").unwrap(),
            CheckpointEvery::Words(5000)
        );
        for bad in ["", "0", "m", "10x", "-5", "1.5h"] {
            assert!(CheckpointEvery::parse(bad).is_err(), "{bad}");
        }
    }
}
