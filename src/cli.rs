//! Command-line interface: one clap struct per subcommand; `run` maps errors to exit codes
//! (0 ok, 1 runtime error, 2 usage error).

use crate::config::all_threads;
use crate::config::{BackendKind, FeatureVariant, Format, ModelKind, TrainConfig};
use crate::error::Error;
use crate::eval::{evaluate_analogies, evaluate_similarity, Space};
use crate::train::Reporter;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "w2v-gpu",
    version,
    about = "word2vec (skip-gram / CBOW, negative sampling) on any GPU through wgpu, or on the CPU",
    after_help = "word2vec.c's and fastText's command lines also run as they are, with their defaults:\n  w2v-gpu -train corpus.txt -output vectors.bin -cbow 0 -size 300 ...\n  w2v-gpu skipgram -input corpus.txt -output model -minn 3 -maxn 6 ...   (writes model.bin and model.vec)\n  w2v-gpu print-word-vectors model.bin < words      (and fastText's print-sentence-vectors, print-ngrams, nn, analogies, dump)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train word vectors on a text corpus.
    Train(Box<TrainArgs>),
    /// Nearest neighbours of words by cosine similarity.
    Similar(SimilarArgs),
    /// Solve "A is to B as C is to ?".
    Analogy(AnalogyArgs),
    /// Cosine similarity of two words, or of two sets of words (gensim's wv.similarity and
    /// wv.n_similarity).
    Similarity(SimilarityArgs),
    /// The word that goes least with the others (gensim's wv.doesnt_match); `--rank` lists
    /// every word by closeness to their centre (wv.rank_by_centrality).
    DoesntMatch(DoesntMatchArgs),
    /// Print the vectors of words (fastText's print-word-vectors): from a subword model
    /// (`--fasttext-bin`, or a fastText .bin) also for words never seen in training; with
    /// `--sentences` a vector per line (print-sentence-vectors), with `--ngrams` a word's
    /// n-gram rows (print-ngrams).
    Vector(VectorArgs),
    /// Analogy accuracy and word-similarity correlation of a vectors file.
    Eval(EvalArgs),
    /// List the GPU adapters wgpu can see, with the limits that matter here.
    Devices(DevicesArgs),
    /// A labelled 2-D map (PCA or t-SNE) of the space as an SVG or PNG image, and/or
    /// TensorBoard projector files.
    Map(MapArgs),
    /// Training throughput of each engine on one corpus (a synthetic Zipf corpus by default).
    Bench(BenchArgs),
    /// Join frequent word pairs into phrases (`new york` → `new_york`), as word2vec.c's
    /// word2phrase; run it again on its output for longer phrases.
    Phrases(PhrasesArgs),
    /// word2vec.c's compute-accuracy: analogy questions on standard input (`: section` lines,
    /// then `a b c d`), answered and printed as word2vec.c does (upper-cased words, the first
    /// THRESHOLD rows); `eval` is gensim's version of the same test.
    ComputeAccuracy(ComputeAccuracyArgs),
    /// word2vec.c's distance: for each line of standard input (a word, or words whose sum is
    /// the query), the 40 nearest words, printed as word2vec.c prints them.
    Distance(W2vcQueryArgs),
    /// word2vec.c's word-analogy: for each line `a b c` of standard input, the 40 words
    /// nearest b − a + c, printed as word2vec.c prints them.
    WordAnalogy(W2vcQueryArgs),
    /// Paragraph vectors (gensim's Doc2Vec, on the CPU or a GPU): a vector per document (one per
    /// line of the input), with word vectors; `--save-model` keeps what `infer` needs.
    Doc2vec(Doc2vecArgs),
    /// Vectors for new documents (one per line) from a `doc2vec --save-model` model, as
    /// gensim's infer_vector.
    Infer(InferArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum DocModelArg {
    /// Distributed memory (PV-DM, gensim's dm=1): the document's vector joins each word's
    /// context (mean) to predict the word.
    Dm,
    /// Distributed bag of words (PV-DBOW, gensim's dm=0): the document's vector predicts
    /// each of its words; fast, and strong on retrieval.
    Dbow,
}

#[derive(Args, Debug)]
pub struct Doc2vecArgs {
    /// Documents, one per line (a text file, .gz, or - for standard input); words split on
    /// white space.
    #[arg(long, alias = "train")]
    pub input: PathBuf,
    /// Where to write the document vectors (word2vec text, or binary for a .bin name), each
    /// named by its tag.
    #[arg(long)]
    pub output: PathBuf,
    /// The first word of each line is its document's tag (e.g. `_*17`, word2vec.c's
    /// sentence-vectors convention); otherwise documents are tagged by line number from 0.
    #[arg(long)]
    pub tagged: bool,
    /// How document vectors are trained.
    #[arg(long, value_enum, default_value = "dm")]
    pub model: DocModelArg,
    /// PV-DBOW: also train word vectors by skip-gram on the same text (gensim's dbow_words=1;
    /// slower).
    #[arg(long)]
    pub dbow_words: bool,
    /// PV-DM over the concatenation of the document's vector and the vectors of --window
    /// words on each side instead of their mean (gensim's dm_concat=1; a layer of
    /// (1 + 2·window)·dim floats, so much slower and a larger model).
    #[arg(long)]
    pub dm_concat: bool,
    /// Vector size (gensim's vector_size).
    #[arg(long, alias = "size", default_value_t = 100)]
    pub dim: usize,
    /// Maximum distance between a word and its context words (PV-DM, --dbow-words).
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Noise words per prediction (0 with --hs: hierarchical softmax alone, gensim's
    /// hs=1, negative=0).
    #[arg(long, default_value_t = 5)]
    pub negative: usize,
    /// Hierarchical softmax over a Huffman tree of the words (gensim's hs=1), before the
    /// noise words if --negative is not 0.
    #[arg(long)]
    pub hs: bool,
    /// Passes over the documents.
    #[arg(long, alias = "iter", default_value_t = 10)]
    pub epochs: usize,
    /// Start learning rate, falling linearly to --min-alpha.
    #[arg(long, default_value_t = 0.025)]
    pub alpha: f32,
    /// Final learning rate.
    #[arg(long, default_value_t = 0.0001)]
    pub min_alpha: f32,
    /// Words seen fewer times are dropped from the documents.
    #[arg(long, default_value_t = 5)]
    pub min_count: u64,
    /// Subsampling threshold for frequent words (0 = off).
    #[arg(long, default_value_t = 1e-3)]
    pub sample: f64,
    /// CPU threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Random seed (with one thread, the same seed gives the same vectors).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where training runs: `cpu` (Hogwild threads), or a GPU API (`vulkan`, `metal`,
    /// `dx12`, `gl`) for PV-DBOW and PV-DM (not --dm-concat);
    /// `auto` trains on the CPU.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendArg,
    /// Which adapter of the GPU backend (the index `w2v-gpu devices` lists).
    #[arg(long)]
    pub adapter: Option<usize>,
    /// GPU backends: positions per step (whole documents, or pieces of 10,000 words of
    /// longer ones; at least 10001).
    #[arg(long, default_value_t = 1 << 16)]
    pub gpu_batch: usize,
    /// GPU backends: how a float is added atomically (as `train --gpu-atomics`).
    #[arg(long, value_enum, default_value = "auto")]
    pub gpu_atomics: AtomicsArg,
    /// GPU backends: how dot products are summed (as `train --gpu-reduce`).
    #[arg(long, value_enum, default_value = "auto")]
    pub gpu_reduce: ReduceArg,
    /// GPU backends: invocations per workgroup, 32, 64, 128 or 256.
    #[arg(long, default_value_t = 64)]
    pub gpu_workgroup: u32,
    /// GPU backends: the order of a step's positions on the bag and word kernels (as
    /// `train --gpu-order`).
    #[arg(long, value_enum, default_value = "strided")]
    pub gpu_order: OrderArg,
    /// GPU backends: at most N workgroups of a step's kernel at once (as `train
    /// --gpu-in-flight`).
    #[arg(long, value_name = "N")]
    pub gpu_in_flight: Option<u32>,
    /// Also write the word vectors (word2vec text, or binary for a .bin name).
    #[arg(long)]
    pub save_words: Option<PathBuf>,
    /// Also write the whole model, for `w2v-gpu infer`.
    #[arg(long)]
    pub save_model: Option<PathBuf>,
    /// Print the run's summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct InferArgs {
    /// A model written by `w2v-gpu doc2vec --save-model`.
    #[arg(long)]
    pub model: PathBuf,
    /// Documents, one per line [default: standard input].
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Write the vectors as a word2vec file (text, or binary for a .bin name) named by line
    /// number (or by the first word with --tagged) instead of printing one line of numbers
    /// per document.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// The first word of each line is its tag (not part of the text).
    #[arg(long)]
    pub tagged: bool,
    /// Passes over each document [default: the model's --epochs].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Start learning rate [default: the model's].
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Final learning rate [default: the model's].
    #[arg(long)]
    pub min_alpha: Option<f32>,
    /// The same text and seed always give the same vector.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Instead of vectors, print for each line the N trained documents nearest its vector
    /// (cosine; gensim's `dv.most_similar([inferred])`), as `similar` prints.
    #[arg(long, value_name = "N", conflicts_with = "output")]
    pub similar: Option<usize>,
    /// CPU threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where inference runs: `cpu`, or a GPU API (`vulkan`, `metal`, `dx12`, `gl`): every
    /// document of a group of 65,536 learns side by side, the model's matrices fixed on the
    /// device; `auto` infers on the CPU.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendArg,
    /// Which adapter of the GPU backend (the index `w2v-gpu devices` lists).
    #[arg(long)]
    pub adapter: Option<usize>,
}

#[derive(Args, Debug)]
pub struct W2vcQueryArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model.
    pub vectors: PathBuf,
}

#[derive(Args, Debug)]
pub struct ComputeAccuracyArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model.
    pub vectors: PathBuf,
    /// Use only the first N rows (the most frequent words); 0 = all (word2vec.c's
    /// threshold, typically 30000).
    #[arg(default_value_t = 0)]
    pub threshold: usize,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoringArg {
    /// word2phrase's (count(ab) − min_count) / count(a) / count(b) · N.
    Word2phrase,
    /// gensim's normalised pointwise mutual information, in -1..1.
    Npmi,
}

#[derive(Args, Debug)]
pub struct PhrasesArgs {
    /// Corpus: text files, a directory of them, or - for standard input.
    #[arg(long, alias = "train", num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    /// Where to write the corpus with phrases joined by `_`.
    #[arg(long)]
    pub output: PathBuf,
    /// Words and pairs seen fewer times never join.
    #[arg(long, default_value_t = 5)]
    pub min_count: u64,
    /// Join a pair whose score is above this [default: 100 for word2phrase, 0.5 for npmi].
    #[arg(long)]
    pub threshold: Option<f64>,
    /// How pairs are scored.
    #[arg(long, value_enum, default_value = "word2phrase")]
    pub scoring: ScoringArg,
    /// Words and pairs the count table holds before the rarest are pruned (word2vec.c's
    /// ReduceVocab; counts of pruned entries become approximate).
    #[arg(long, default_value_t = 100_000_000)]
    pub max_table: usize,
    /// Print the counts as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ModelArg {
    Skipgram,
    Cbow,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum BackendArg {
    Cpu,
    Vulkan,
    Metal,
    Dx12,
    Gl,
    Auto,
}

impl From<BackendArg> for BackendKind {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Cpu => BackendKind::Cpu,
            BackendArg::Vulkan => BackendKind::Vulkan,
            BackendArg::Metal => BackendKind::Metal,
            BackendArg::Dx12 => BackendKind::Dx12,
            BackendArg::Gl => BackendKind::Gl,
            BackendArg::Auto => BackendKind::Auto,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum UpdatesArg {
    Atomic,
    Hybrid,
    Racy,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum PrecisionArg {
    F32,
    F16,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum OptimizerArg {
    Sgd,
    Adagrad,
    Adam,
    Rmsprop,
}

impl From<OptimizerArg> for crate::optim::OptimizerKind {
    fn from(o: OptimizerArg) -> Self {
        match o {
            OptimizerArg::Sgd => crate::optim::OptimizerKind::Sgd,
            OptimizerArg::Adagrad => crate::optim::OptimizerKind::Adagrad,
            OptimizerArg::Adam => crate::optim::OptimizerKind::Adam,
            OptimizerArg::Rmsprop => crate::optim::OptimizerKind::Rmsprop,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitArg {
    Word2vec,
    Uniform,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnalogyMethodArg {
    Add,
    Cosmul,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionArg {
    Pca,
    Tsne,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsneMethodArg {
    Auto,
    Exact,
    BarnesHut,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchBackendArg {
    All,
    Cpu,
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum KernelArg {
    Auto,
    Chunk,
    Window,
    Tile,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum OrderArg {
    Strided,
    Sequential,
}

impl From<OrderArg> for crate::config::Order {
    fn from(o: OrderArg) -> Self {
        match o {
            OrderArg::Strided => crate::config::Order::Strided,
            OrderArg::Sequential => crate::config::Order::Sequential,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AtomicsArg {
    Auto,
    Native,
    Cas,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ContextRowsArg {
    Workgroup,
    Device,
}

impl From<ContextRowsArg> for crate::config::ContextRows {
    fn from(a: ContextRowsArg) -> Self {
        match a {
            ContextRowsArg::Workgroup => crate::config::ContextRows::Workgroup,
            ContextRowsArg::Device => crate::config::ContextRows::Device,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ReduceArg {
    Auto,
    Serial,
    Subgroup,
}

impl AtomicsArg {
    /// The atomics asked for; `None` for auto.
    fn choice(self) -> Option<crate::backend::gpu::shaders::Atomics> {
        match self {
            AtomicsArg::Auto => None,
            AtomicsArg::Native => Some(crate::backend::gpu::shaders::Atomics::Native),
            AtomicsArg::Cas => Some(crate::backend::gpu::shaders::Atomics::CompareAndSwap),
        }
    }
}

impl ReduceArg {
    /// The reduction asked for; `None` for auto.
    fn choice(self) -> Option<crate::config::Reduce> {
        match self {
            ReduceArg::Auto => None,
            ReduceArg::Serial => Some(crate::config::Reduce::Serial),
            ReduceArg::Subgroup => Some(crate::config::Reduce::Subgroup),
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    Text,
    Binary,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Corpus: plain text (or .gz), words separated by whitespace, one sentence per line.
    /// Several files (`--input a.txt b.txt` or repeated), a directory (its files, sorted),
    /// or `-` for standard input; pipes and fifos are read as streams.
    #[arg(long, alias = "train", num_args = 1.., required_unless_present = "resume")]
    pub input: Vec<PathBuf>,
    /// Where to write the vectors (written to a temporary file, then renamed); `-` writes
    /// them to standard output (text unless --format binary; the summary goes to stderr).
    #[arg(long, required_unless_present = "resume")]
    pub output: Option<PathBuf>,
    /// Output format; default: binary for `.bin`, text otherwise.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// `skipgram` (predict the context from each word) or `cbow` (predict each word from
    /// the mean of its context; faster, better for frequent words).
    #[arg(long, value_enum, default_value = "skipgram")]
    pub model: ModelArg,
    /// Vector dimension (word2vec.c's -size).
    #[arg(long, visible_alias = "size", default_value_t = 100)]
    pub dim: usize,
    /// Maximum distance between centre and context word (the effective window is uniform in 1..=window).
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Noise words per positive example (0 with --hs: hierarchical softmax alone).
    #[arg(long, default_value_t = 5)]
    pub negative: usize,
    /// Subword units (fastText): a word's input vector is the mean of its own row and its
    /// character n-gram rows (`--minn`..`--maxn` characters, hashed into `--bucket` rows), so
    /// unseen words get vectors too. The CPU trainers and the GPU engine (`--backend auto`
    /// keeps it on the CPU).
    #[arg(long)]
    pub subwords: bool,
    /// Shortest character n-gram with --subwords (fastText's -minn).
    #[arg(long, default_value_t = 3)]
    pub minn: usize,
    /// Longest character n-gram with --subwords (fastText's -maxn; 0: no n-grams, word-only
    /// training).
    #[arg(long, default_value_t = 6)]
    pub maxn: usize,
    /// Hash buckets for the n-grams with --subwords (fastText's -bucket).
    #[arg(long, default_value_t = 2_000_000)]
    pub bucket: usize,
    /// With --subwords: also write the model in fastText's .bin format (loads in fastText
    /// and in gensim's load_facebook_model; vectors for unseen words from its n-grams).
    #[arg(long)]
    pub fasttext_bin: Option<PathBuf>,
    /// Hierarchical softmax over word2vec.c's Huffman tree (word2vec.c's `-hs 1`), alone
    /// with `--negative 0` or together with negative sampling. The CPU trainer, or the GPU
    /// with a named GPU backend (`--backend auto` keeps it on the CPU).
    #[arg(long)]
    pub hs: bool,
    /// Ignore words with fewer occurrences.
    #[arg(long, default_value_t = 5)]
    pub min_count: u64,
    /// Keep only the N most frequent words.
    #[arg(long)]
    pub max_vocab: Option<usize>,
    /// Most distinct words held while counting the corpus (gensim's `max_vocab_size`);
    /// beyond it the rarest are pruned as word2vec.c does, and the log says so (counts
    /// then become approximate) [default: 21000000, word2vec.c's].
    #[arg(long)]
    pub max_vocab_size: Option<usize>,
    /// Directory for the encoded corpus (4 bytes per word, memory-mapped, deleted at the
    /// end) [default: --checkpoint-dir if given, else the system's temporary directory].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Subsampling threshold for frequent words (0 disables).
    #[arg(long, default_value_t = 1e-3)]
    pub sample: f64,
    /// Passes over the corpus (word2vec.c's -iter).
    #[arg(long, visible_alias = "iter", default_value_t = 5)]
    pub epochs: usize,
    /// Starting learning rate [default: 0.025 for skip-gram, 0.05 for CBOW].
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Final learning rate: the rate falls linearly from --alpha to this (gensim's
    /// min_alpha; equal to --alpha: constant) [default: word2vec.c's decay to alpha·1e-4].
    #[arg(long)]
    pub min_alpha: Option<f32>,
    /// CPU threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where training runs: `cpu` (word2vec.c's algorithm on CPU threads), a GPU API
    /// (`vulkan`, `metal` on macOS, `dx12` on Windows, `gl`), or `auto` (a hardware GPU if
    /// there is one, else the CPU).
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendArg,
    /// Which adapter of the GPU backend (the index `w2v-gpu devices` lists); GPU backends only.
    #[arg(long)]
    pub adapter: Option<usize>,
    /// Random seed: initial vectors, subsampling, window sizes and noise words.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the vocabulary (`word count` per line) here.
    #[arg(long)]
    pub save_vocab: Option<PathBuf>,
    /// Use this vocabulary instead of counting the corpus.
    #[arg(long)]
    pub read_vocab: Option<PathBuf>,
    /// CPU skip-gram: draw the noise words once per centre word and share them across its
    /// window (faster: fewer random rows; changes word2vec.c's math, see BENCHMARKS.md).
    #[arg(long)]
    pub shared_negatives: bool,
    /// Distributed runs (`mpirun`, `--features mpi`): words each rank trains between two
    /// syncs of its model with the others' (docs/distributed.md).
    #[arg(long, default_value_t = 65_536)]
    pub sync_words: u64,
    /// Distributed runs: rows of the smallest frequency tier, averaged every sync (twice
    /// as many every second sync, four times every fourth, ...).
    #[arg(long, default_value_t = 1024)]
    pub sync_rows: usize,
    /// Distributed runs: every this many syncs is a full one (every row some rank changed);
    /// 0: only at epoch ends, checkpoints and the end.
    #[arg(long, default_value_t = 64)]
    pub full_sync_every: u64,
    /// Distributed runs: how the ranks' changes to a row combine: `touched` (divided by the
    /// number of ranks that changed it), `sum`, or `mean` (over all ranks, with the
    /// learning rate scaled by the number of ranks: see --sync-lr-scale).
    #[arg(long, default_value = "mean", value_parser = ["mean", "touched", "sum"])]
    pub sync_average: String,
    /// Distributed runs: each rank's learning rate is the schedule's times this [default:
    /// the number of ranks with `--sync-average mean` or `touched`, 1 with `sum`].
    #[arg(long)]
    pub sync_lr_scale: Option<f32>,
    /// Distributed runs of the CPU trainer: every tier sync also exchanges the word vectors
    /// (input rows) beyond its prefix that some rank changed, as an index list or bitmap plus
    /// those rows [default: on with up to 4 ranks, off above; docs/distributed.md]
    #[arg(long, overrides_with = "no_sync_input_tail")]
    pub sync_input_tail: bool,
    /// Distributed runs: tier syncs send their prefix only (the default above 4 ranks)
    #[arg(long, overrides_with = "sync_input_tail")]
    pub no_sync_input_tail: bool,
    /// Distributed runs of the GPU engine and the minibatch engine: every sync writes the
    /// agreed rows before the next step (the device or the CPU idle meanwhile), instead of
    /// training the next step while the ranks exchange and adding the result after it.
    #[arg(long)]
    pub sync_gpu_blocking: bool,
    /// Centre positions per GPU step, at least: each of the --streams parts adds whole
    /// sentence chunks (to a sentence end, or 1,000 words), so a step holds at least one
    /// chunk per stream (on a corpus without sentence ends, such as text8, 256,256
    /// positions at the default 256 streams, whatever a smaller --gpu-batch says).
    #[arg(long, default_value_t = 1 << 16)]
    pub gpu_batch: usize,
    /// Corpus parts read side by side, each step taking the next sentences of every part,
    /// as word2vec.c's threads each read their own part of the file; 1 reads the corpus
    /// front to back, as one word2vec.c thread does. Default: 256 for the GPU engine and
    /// the minibatch engines; the Hogwild CPU trainer reads one part per --threads thread
    /// unless given, and then --streams / --threads parts per thread.
    #[arg(long)]
    pub streams: Option<usize>,
    /// How the GPU adds into rows that several workgroups update at once: `atomic` (an
    /// atomic float add, native or compare-and-swap as --gpu-atomics says; no update lost)
    /// or `racy` (plain read-add-write, word2vec.c-style Hogwild; loses updates of frequent
    /// rows on real GPUs). `hybrid` adds atomically into the 8192 most frequent words only.
    #[arg(long, value_enum, default_value = "atomic")]
    pub gpu_updates: UpdatesArg,
    /// How the GPU adds a float atomically: `native` (`atomicAdd` on `atomic<f32>`, one
    /// instruction; needs SHADER_FLOAT32_ATOMIC: Vulkan with VK_EXT_shader_atomic_float,
    /// Metal 3), `cas` (a compare-and-swap loop, every backend), or `auto` (native where
    /// the adapter has it). `w2v-gpu devices` shows what each adapter supports.
    #[arg(long, value_enum, default_value = "auto")]
    pub gpu_atomics: AtomicsArg,
    /// The SGD kernel: `chunk` (a workgroup walks a chunk of consecutive positions in order,
    /// the context rows cached in workgroup memory), `window` (a workgroup per centre
    /// position, rows read from and added to device memory per window), `tile` (a workgroup
    /// runs the windows of a tile of consecutive positions together, each context row loaded
    /// once and every touched row added to once per tile), or `auto` (the
    /// window kernel, faster on hardware; the chunk kernel for CBOW with serial sums, whose
    /// quality needs its in-order windows, where its workgroup memory fits the adapter).
    #[arg(long, value_enum, default_value = "auto")]
    pub gpu_kernel: KernelArg,
    /// How the SGD kernels sum dot products: `subgroup` (a segment of a subgroup's lanes per
    /// dot product, combined with subgroup shuffles; needs SUBGROUP: Vulkan, Metal, DX12),
    /// `serial` (one invocation per dot product), or `auto` (subgroup where the adapter has
    /// it).
    #[arg(long, value_enum, default_value = "auto")]
    pub gpu_reduce: ReduceArg,
    /// Centre positions per workgroup of the chunk kernel; the tile kernel's most per
    /// workgroup (halved until its workgroup memory fits the adapter); with --hs the most
    /// Huffman-path nodes the hierarchical-softmax kernel holds at once (likewise halved).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub gpu_chunk: u32,
    /// With --gpu-kernel tile: draw the noise words once per tile and share them among its
    /// windows (as pSGNScc shares them over a sentence), so a noise row gets one add per
    /// tile instead of one per window; each window still trains against --negative noise
    /// words. At equal --negative this lowers quality; its use is more noise words for fewer
    /// adds (--negative 15 with tiles of 8: 61% fewer adds than the default window kernel at
    /// 5, and higher analogy scores; BENCHMARKS.md).
    #[arg(long)]
    pub gpu_tile_noise: bool,
    /// Invocations per workgroup of the SGD kernels: 32, 64, 128, 256, 512 or 1024 (larger
    /// workgroups share one workgroup's memory among more lanes, which matters at large
    /// --dim). Default by --dim: the smallest power of two at or above it, 64 to 512
    /// (fastest on an H200, BENCHMARKS.md); 64 with --precision f16; at most 256 for the
    /// subword, hierarchical-softmax, chunk and tile kernels; halved where the kernel does
    /// not fit the adapter.
    #[arg(long, value_name = "N")]
    pub gpu_workgroup: Option<u32>,
    /// Where the window kernel keeps skip-gram's context rows while it trains a window:
    /// `workgroup` (copied into workgroup memory once) or `device` (read from the matrix at
    /// each use, through the cache: a workgroup declares 2·--window fewer rows, so more of
    /// them fit on a compute unit at large --dim). Default: workgroup memory up to 4 KiB of
    /// rows (2·--window·--dim floats: --dim 100 at --window 5), device above (1.1–1.4×
    /// faster on an H200 at --dim 200 and 300).
    #[arg(long, value_enum, value_name = "WHERE")]
    pub gpu_context_rows: Option<ContextRowsArg>,
    /// The order a step's windows run in on the window, subword and hierarchical-softmax
    /// kernels, and its tiles on the tile kernel: `strided` (positions 0, S, 2S, ..., then
    /// 1, 1 + S, ..., S the smallest power of two above 2·--window and at least 16; tiles
    /// 64 apart likewise: the workgroups running at one time train windows that share no
    /// context position, spread over the step, and neighbouring windows run far apart in
    /// time; higher analogy scores on the kernels' CPU reference, BENCHMARKS.md "Window
    /// order") or `sequential` (position after position, tile after tile). The chunk
    /// kernel keeps its consecutive positions.
    #[arg(long, value_enum, default_value = "strided")]
    pub gpu_order: OrderArg,
    /// At most N workgroups of a step's SGD kernel at once (1..=32768): the step's dispatch
    /// is split into dispatches of N workgroups, each starting when the one before has
    /// ended, so no window computes its update from rows older than the N workgroups
    /// around it (a bound on the staleness the GPU's parallelism adds; the default runs
    /// the step as one dispatch, as many at once as the device holds). Each split costs
    /// the device a drain.
    #[arg(long, value_name = "N")]
    pub gpu_in_flight: Option<u32>,
    /// How the GPU engine stores its weight matrices: `f32`, or `f16` (half the device
    /// memory, so twice the vocabulary × --dim (or subword buckets) fits; dimensions d and
    /// d + dim/2 share a 32-bit word, every add rounds stochastically so small updates are
    /// kept on average, adds by compare-and-swap; --dim must be even). Arithmetic is f32 either
    /// way; the vectors written are f32. GPU SGD engine only.
    #[arg(long, value_enum, default_value = "f32")]
    pub precision: PrecisionArg,
    /// `sgd`: word2vec's per-window SGD with linearly decaying --alpha. `adagrad`, `adam`,
    /// `rmsprop`: minibatches of --batch-size centre words, sparse (lazy) updates of only the
    /// rows each step uses, constant --alpha [default lr, chosen by a sweep (BENCHMARKS.md): adam 0.01, rmsprop 0.005, adagrad 0.2].
    #[arg(long, value_enum, default_value = "sgd")]
    pub optimizer: OptimizerArg,
    /// Centre words per minibatch for adagrad/adam/rmsprop [default: 512].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam's first-moment decay [default: 0.9].
    #[arg(long)]
    pub beta1: Option<f32>,
    /// Adam's second-moment decay, RMSprop's decay [default: 0.999 adam, 0.99 rmsprop].
    #[arg(long)]
    pub beta2: Option<f32>,
    /// Added to the denominator of adaptive updates [default: 1e-8].
    #[arg(long)]
    pub eps: Option<f32>,
    /// Update every row of both matrices each step (what a dense optimizer costs, for
    /// measuring; on the CPU and the GPU).
    #[arg(long)]
    pub dense_optimizer: bool,
    /// Noise words are drawn with probability ∝ count^E (gensim's ns_exponent; word2vec.c
    /// uses 0.75; 0.5 is finalfrontier's default, see BENCHMARKS.md).
    #[arg(long, default_value_t = 0.75, allow_negative_numbers = true)]
    pub ns_exponent: f64,
    /// Initialisation: `word2vec` (input uniform ±0.5/dim, output zero; word2vec.c's) or
    /// `uniform` (both matrices uniform ±1/dim; finalfrontier's: +1.6 analogy points at one
    /// epoch, see BENCHMARKS.md).
    #[arg(long, value_enum, default_value = "word2vec")]
    pub init: InitArg,
    /// Same seed, same vectors, bit for bit, for any --threads on the CPU and on a given GPU
    /// adapter: trains with the minibatch engine (fixed partition and summation order; for
    /// sgd: minibatch SGD with the same linearly decaying --alpha). See BENCHMARKS.md for its
    /// speed and quality against the default Hogwild trainer.
    #[arg(long)]
    pub deterministic: bool,
    /// Write checkpoints (model, optimizer state, corpus position, RNG states) into this
    /// directory, keeping the newest 2; Ctrl-C or SIGTERM also writes one before exiting.
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Checkpoint interval: a time (30s, 10m, 2h) or a number of corpus words.
    #[arg(long, default_value = "10m")]
    pub checkpoint_every: String,
    /// Continue the run whose --checkpoint-dir is DIR from its newest checkpoint (same
    /// corpus and settings; refused otherwise). Keeps checkpointing into DIR. Alone (no
    /// --input), it continues with the settings stored in the checkpoint.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Write K word classes (k-means on the vectors, word2vec.c's -classes) to --output
    /// instead of the vectors: one `word class` line per word.
    #[arg(long, default_value_t = 0)]
    pub classes: usize,
    /// Lower-case every word (Unicode-aware), when counting the vocabulary and when
    /// training alike; recorded in checkpoints.
    #[arg(long)]
    pub lowercase: bool,
    /// Strip leading and trailing punctuation from words (any character that is not a
    /// Unicode letter or digit), so `man,` and `man` are one word; words of punctuation only
    /// are dropped.
    #[arg(long)]
    pub strip_punctuation: bool,
    /// Start from existing word2vec vectors (text or binary, or GloVe text): the words they
    /// have start from their rows, new words are initialised as usual; the dimension must
    /// equal --dim (fastText's -pretrainedVectors, gensim's continued training).
    #[arg(long, value_name = "FILE")]
    pub init_vectors: Option<PathBuf>,
    /// Start the output (context) vectors from a file written by --save-context: with
    /// --init-vectors, training continues where the earlier run stopped (gensim's continued
    /// training keeps both matrices).
    #[arg(long, value_name = "FILE")]
    pub init_context: Option<PathBuf>,
    /// Also write the output (context) vectors, word2vec's syn1neg, in the --format of
    /// --output.
    #[arg(long, value_name = "FILE")]
    pub save_context: Option<PathBuf>,
    /// Pretend storage bindings hold at most this many bytes (testing the matrix split).
    #[arg(long, hide = true)]
    pub max_binding_bytes: Option<u64>,
    /// No progress bar or notes on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Print one JSON object with the run's numbers on stdout.
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    pub fn to_config(&self) -> Result<TrainConfig, Error> {
        let d = TrainConfig::default();
        Ok(TrainConfig {
            input: self.input.first().cloned().unwrap_or_default(),
            more_inputs: self.input.iter().skip(1).cloned().collect(),
            output: self.output.clone().unwrap_or_default(),
            format: self.format.map(|f| match f {
                FormatArg::Text => Format::Text,
                FormatArg::Binary => Format::Binary,
            }),
            model: match self.model {
                ModelArg::Skipgram => ModelKind::SkipGram,
                ModelArg::Cbow => ModelKind::Cbow,
            },
            dim: self.dim,
            window: self.window,
            negative: self.negative,
            hs: self.hs,
            subwords: self.subwords.then_some(crate::subword::SubwordParams {
                minn: self.minn,
                maxn: self.maxn,
                bucket: self.bucket,
            }),
            fasttext_bin: self.fasttext_bin.clone(),
            min_count: self.min_count,
            max_vocab: self.max_vocab,
            max_vocab_size: self
                .max_vocab_size
                .unwrap_or(crate::corpus::DEFAULT_TABLE_LIMIT),
            cache_dir: self.cache_dir.clone(),
            sample: self.sample,
            epochs: self.epochs,
            alpha: self.alpha,
            threads: self.threads.unwrap_or(d.threads),
            backend: self.backend.into(),
            adapter: self.adapter,
            seed: self.seed,
            save_vocab: self.save_vocab.clone(),
            read_vocab: self.read_vocab.clone(),
            gpu_batch: self.gpu_batch,
            streams: self.streams,
            gpu_updates: match self.gpu_updates {
                UpdatesArg::Racy => crate::config::Updates::Racy,
                UpdatesArg::Hybrid => crate::config::Updates::Hybrid,
                UpdatesArg::Atomic => crate::config::Updates::Atomic,
            },
            gpu_atomics: self.gpu_atomics.choice(),
            gpu_kernel: match self.gpu_kernel {
                KernelArg::Auto => None,
                KernelArg::Chunk => Some(crate::backend::gpu::shaders::Kernel::Chunk),
                KernelArg::Window => Some(crate::backend::gpu::shaders::Kernel::Window),
                KernelArg::Tile => Some(crate::backend::gpu::shaders::Kernel::Tile),
            },
            gpu_reduce: self.gpu_reduce.choice(),
            gpu_chunk: self.gpu_chunk,
            gpu_tile_noise: self.gpu_tile_noise,
            gpu_workgroup: self.gpu_workgroup,
            gpu_context_rows: self.gpu_context_rows.map(Into::into),
            gpu_order: self.gpu_order.into(),
            gpu_in_flight: self.gpu_in_flight,
            precision: match self.precision {
                PrecisionArg::F32 => crate::config::Precision::F32,
                PrecisionArg::F16 => crate::config::Precision::F16,
            },
            max_binding_bytes: self.max_binding_bytes,
            count_pairs: false,
            shared_negatives: self.shared_negatives,
            dist: crate::dist::DistOptions {
                schedule: crate::dist::tiers::Schedule {
                    period_words: self.sync_words,
                    base_rows: self.sync_rows,
                    full_every: self.full_sync_every,
                },
                average: crate::dist::Average::parse(&self.sync_average).unwrap_or_default(),
                lr_scale: self.sync_lr_scale,
                input_tail: match (self.sync_input_tail, self.no_sync_input_tail) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                gpu_blocking: self.sync_gpu_blocking,
            },
            optimizer: self.optimizer.into(),
            batch_size: self.batch_size,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            dense_optimizer: self.dense_optimizer,
            deterministic: self.deterministic,
            ns_exponent: self.ns_exponent,
            min_alpha: self.min_alpha,
            uniform_init: self.init == InitArg::Uniform,
            checkpoint_every: crate::config::CheckpointEvery::parse(&self.checkpoint_every)?,
            checkpoint_dir: self.checkpoint_dir.clone().or_else(|| self.resume.clone()),
            resume: self.resume.clone(),
            classes: self.classes,
            normalize: crate::corpus::Normalize {
                lowercase: self.lowercase,
                strip_punctuation: self.strip_punctuation,
            },
            init_vectors: self.init_vectors.clone(),
            init_context: self.init_context.clone(),
            save_context: self.save_context.clone(),
            command_line: Vec::new(),
        })
    }
}

#[derive(Args, Debug)]
pub struct SimilarArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model.
    #[arg(long)]
    pub vectors: PathBuf,
    /// Words to look up (the exact spelling wins; otherwise a case-insensitive match).
    #[arg(required = true)]
    pub words: Vec<String>,
    /// Neighbours to print per word.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Load only the first N rows (the most frequent words).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Words to subtract (repeatable): the words are then one query, the sum of their unit
    /// vectors minus these words' (gensim's `most_similar(positive=WORDS, negative=...)`).
    #[arg(long, value_name = "WORD")]
    pub negative: Vec<String>,
    /// The words as one query, the sum of their unit vectors (gensim's
    /// `most_similar(positive=WORDS)`), instead of a list per word.
    #[arg(long)]
    pub sum: bool,
    /// Print the neighbours as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct VectorArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model.
    #[arg(long)]
    pub vectors: PathBuf,
    /// Words to print; none: the words of standard input (whitespace-separated), as
    /// fastText's `print-word-vectors model.bin < words`.
    #[arg(conflicts_with = "sentences")]
    pub words: Vec<String>,
    /// One vector per line of standard input, as fastText's `print-sentence-vectors
    /// model.bin < lines`: the mean of the line's word vectors, each first divided by its
    /// norm (words without a vector are left out; a line without any gets a zero vector).
    /// Only the vector is printed, one line per input line.
    #[arg(long, conflicts_with_all = ["ngrams", "zero_unknown"])]
    pub sentences: bool,
    /// For each word, its own row (if in the vocabulary) and each of its character n-grams
    /// with its bucket row, one per line (`ngram v1 v2 ...`), as fastText's `print-ngrams
    /// model.bin word`; needs a subword model (a fastText `.bin`).
    #[arg(long, conflicts_with = "zero_unknown")]
    pub ngrams: bool,
    /// Print a zero vector for a word the file has no row for (and, in a subword model, no
    /// n-gram of), as fastText's print-word-vectors does; without it such a word is an
    /// error naming it.
    #[arg(long)]
    pub zero_unknown: bool,
    /// Print as fastText's print-word-vectors does: each value with 5 significant digits
    /// (C++'s default float output) followed by a space. Without it: the shortest decimal
    /// that reads back as the same f32, values separated by spaces.
    #[arg(long)]
    pub fasttext_format: bool,
}

#[derive(Args, Debug)]
pub struct SimilarityArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model (which also gives vectors to words never seen in training).
    #[arg(long)]
    pub vectors: PathBuf,
    /// Two words (`similarity man woman`), or with --to the first set of words.
    #[arg(required = true)]
    pub words: Vec<String>,
    /// The second set of words: the cosine between the means of the two sets' vectors
    /// (gensim's n_similarity; words without a vector are left out with a warning, as
    /// gensim leaves them out).
    #[arg(long, num_args = 1.., value_name = "WORD")]
    pub to: Vec<String>,
    /// Print the similarity as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DoesntMatchArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model.
    #[arg(long)]
    pub vectors: PathBuf,
    /// The words (e.g. breakfast cereal dinner lunch); words without a vector are left out
    /// with a warning, as gensim leaves them out.
    #[arg(required = true)]
    pub words: Vec<String>,
    /// Print every word with its similarity to the words' centre, most central first.
    #[arg(long)]
    pub rank: bool,
    /// Print the answer as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AnalogyArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model.
    #[arg(long)]
    pub vectors: PathBuf,
    /// A in "A is to B as C is to ?" (e.g. man).
    pub a: String,
    /// B in "A is to B as C is to ?" (e.g. king).
    pub b: String,
    /// C in "A is to B as C is to ?" (e.g. woman).
    pub c: String,
    /// Answers to print.
    #[arg(short, default_value_t = 5)]
    pub k: usize,
    /// 3CosAdd (`add`, gensim's most_similar) or 3CosMul (`cosmul`).
    #[arg(long, value_enum, default_value = "add")]
    pub method: AnalogyMethodArg,
    /// Load only the first N rows (the most frequent words).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the answers as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model.
    #[arg(long)]
    pub vectors: PathBuf,
    /// Analogy files (questions-words.txt format or 4 words per line).
    #[arg(long)]
    pub analogies: Vec<PathBuf>,
    /// Word-pair similarity files (`word1 word2 score`).
    #[arg(long)]
    pub similarity: Vec<PathBuf>,
    /// Answer analogies among the N most frequent words only (gensim's restrict_vocab).
    #[arg(long, default_value_t = 30000)]
    pub restrict: usize,
    /// Compare words with their case (default: case-insensitive, as gensim).
    #[arg(long)]
    pub case_sensitive: bool,
    /// Load only the first N rows (the most frequent words).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the scores as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MapArgs {
    /// word2vec text or binary vectors (or GloVe text, without a header), or a fastText .bin
    /// model.
    #[arg(long)]
    pub vectors: PathBuf,
    /// Image to write: `.svg` or `.png`.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Comma-separated words to plot.
    #[arg(long, value_delimiter = ',')]
    pub words: Option<Vec<String>>,
    /// Plot the N most frequent words (when --words is not given). Labels that would
    /// overlap are left out (their dots stay).
    #[arg(long, default_value_t = 100)]
    pub top: usize,
    /// With --top: skip the N most frequent words first (mostly function words: the, of,
    /// and, ...), e.g. `--top 200 --skip 100`.
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// Projection: `pca` (the first two principal components) or `tsne` (t-SNE:
    /// neighbourhoods kept, distances between groups not).
    #[arg(long, value_enum, default_value = "pca")]
    pub method: ProjectionArg,
    /// t-SNE's algorithm (scikit-learn's `method`): `exact` (every pair of words, up to
    /// 5,000), `barnes-hut` (nearest neighbours and a quadtree, θ = 0.5, up to 250,000), or
    /// `auto`: exact up to 1,000 words, Barnes-Hut above.
    #[arg(long, value_enum, default_value = "auto")]
    pub tsne_method: TsneMethodArg,
    /// t-SNE's perplexity, the number of neighbours each word's affinities effectively
    /// spread over (scikit-learn's default 30; at most a third of the words).
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f64,
    /// Also write vectors.tsv and metadata.tsv for projector.tensorflow.org into this directory.
    #[arg(long)]
    pub projector: Option<PathBuf>,
    /// Load only the first N rows (the most frequent words).
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Engines to measure: cpu, vulkan, metal, dx12, gl, or all (cpu and every GPU backend
    /// with an adapter).
    #[arg(long, value_enum, default_value = "all")]
    pub backend: BenchBackendArg,
    /// `skipgram` or `cbow`, as for `train`.
    #[arg(long, value_enum, default_value = "skipgram")]
    pub model: ModelArg,
    /// Vector dimension.
    #[arg(long, default_value_t = 100)]
    pub dim: usize,
    /// Maximum distance between centre and context word.
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Noise words per positive example.
    #[arg(long, default_value_t = 5)]
    pub negative: usize,
    /// Subsampling threshold for frequent words (0 disables).
    #[arg(long, default_value_t = 1e-4)]
    pub sample: f64,
    /// Corpus to train on (one epoch); default: a synthetic Zipf corpus.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Words of the synthetic corpus.
    #[arg(long, default_value_t = 5_000_000)]
    pub words: usize,
    /// Vocabulary of the synthetic corpus.
    #[arg(long, default_value_t = 100_000)]
    pub vocab: usize,
    /// CPU threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Centre positions per GPU step.
    #[arg(long, default_value_t = 1 << 16)]
    pub gpu_batch: usize,
    /// Optimizer, as for `train`: sgd, or adagrad/adam/rmsprop on minibatches.
    #[arg(long, value_enum, default_value = "sgd")]
    pub optimizer: OptimizerArg,
    /// Centre words per minibatch (adaptive optimizers) [default: 512].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adaptive optimizers: also run each engine with dense updates (every row, every step)
    /// and report its lazy/dense words-per-second ratio.
    #[arg(long)]
    pub compare_dense: bool,
    /// Ignore words with fewer occurrences (with --input).
    #[arg(long, default_value_t = 5)]
    pub min_count: u64,
    /// Print one JSON row per engine on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DevicesArgs {
    /// Print the adapters (with --check, the check's cases) as a JSON array on stdout.
    #[arg(long)]
    pub json: bool,
    /// Check that each adapter computes the CPU reference's math and adds every update,
    /// with each kernel (word2vec, hierarchical softmax, subwords, doc2vec), way of adding
    /// and dot-product sum it has, skip-gram and CBOW: a batch in which no two windows share
    /// a row (every element within 2e-6 + 1e-5·|x|), and a Zipf batch whose 40 rows are all
    /// hot (every row within a quarter of one update; a lost add moves it by one). Exits
    /// non-zero if a check fails.
    #[arg(long)]
    pub check: bool,
    /// With --check: only this GPU API's adapters (vulkan, metal, dx12, gl).
    #[arg(long, value_enum, requires = "check")]
    pub backend: Option<BackendArg>,
    /// With --check and --backend: only this adapter (the index `w2v-gpu devices` lists).
    #[arg(long, requires = "backend")]
    pub adapter: Option<usize>,
}

/// Parses arguments, runs the command, returns the process exit code.
/// `println!` that returns an error instead of panicking when standard output is gone
/// (`w2v-gpu similar ... | head` closes the pipe early).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(StdoutError)?
    }};
}

/// [`outln!`] without the newline, flushed (a prompt).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut o = std::io::stdout().lock();
        write!(o, $($arg)*).and_then(|()| o.flush()).map_err(StdoutError)?
    }};
}

/// A failed write to standard output.
#[derive(Debug)]
struct StdoutError(std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

/// On a headless Linux machine (no `XDG_RUNTIME_DIR`), probing the GL backend makes Mesa's
/// Wayland client library print `error: XDG_RUNTIME_DIR is invalid or not set` twice per
/// run — a message about a desktop session, not about w2v-gpu. Point the variable at a
/// private empty directory so the probe finds no Wayland socket and stays quiet. Called first
/// thing in [`run`], while the process has one thread.
fn quiet_headless_gl_probe() {
    if cfg!(target_os = "linux") && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            let dir = std::env::temp_dir().join(format!("w2v-gpu-runtime-{}", std::process::id()));
            if std::fs::DirBuilder::new().mode(0o700).create(&dir).is_ok() {
                std::env::set_var("XDG_RUNTIME_DIR", &dir);
                // The directory is only looked into, never written: remove it at exit.
                RUNTIME_DIR.set(dir).ok();
            }
        }
    }
}

static RUNTIME_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

pub fn run() -> i32 {
    quiet_headless_gl_probe();
    let code = run_command();
    if let Some(d) = RUNTIME_DIR.get() {
        let _ = std::fs::remove_dir(d);
    }
    code
}

fn run_command() -> i32 {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if crate::w2vc_args::is_word2vec_c(&argv[1.min(argv.len())..]) {
        match crate::w2vc_args::translate(&argv[1..]) {
            Ok(a) => argv = a,
            Err(e) => {
                eprintln!("error: {e}");
                return e.exit_code();
            }
        }
    }
    // fastText's nn, analogies and dump run here; their result ends as every command's does.
    type Direct = Box<dyn FnOnce() -> anyhow::Result<()>>;
    let mut direct: Option<Direct> = None;
    if crate::fasttext_args::is_fasttext(&argv[1.min(argv.len())..]) {
        use crate::fasttext_args::Translation;
        match crate::fasttext_args::translate(&argv[1..]) {
            Ok(Translation::Args(a, notes)) => {
                for n in notes {
                    eprintln!("note: {n}");
                }
                argv = a;
            }
            Ok(Translation::Queries {
                model,
                k,
                analogies,
            }) => direct = Some(Box::new(move || fasttext_queries(&model, k, analogies))),
            Ok(Translation::Dump { model, part }) => {
                direct = Some(Box::new(move || fasttext_dump(&model, part)))
            }
            Ok(Translation::Supervised {
                config,
                output,
                save_output,
                verbose,
                autotune,
            }) => {
                direct = Some(Box::new(move || {
                    supervised_command(&config, &output, save_output, verbose, autotune)
                }))
            }
            Ok(Translation::Quantize {
                args,
                input,
                output,
                verbose,
            }) => {
                direct = Some(Box::new(move || {
                    quantize_command(&args, input.as_deref(), &output, verbose)
                }))
            }
            Ok(Translation::Classify {
                model,
                input,
                k,
                threshold,
                test,
                detail,
            }) => {
                direct = Some(Box::new(move || {
                    classify_command(&model, &input, k, threshold, test, detail)
                }))
            }
            Err(e) => {
                eprintln!("error: {e}");
                return e.exit_code();
            }
        }
    }
    let result = match direct {
        Some(run) => run(),
        None => {
            let parsed = Cli::command()
                .try_get_matches_from(argv)
                .and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m)));
            let (cli, matches) = match parsed {
                Ok(c) => c,
                Err(e) => {
                    let _ = e.print();
                    return e.exit_code();
                }
            };
            dispatch(cli, &matches)
        }
    };
    let mut printed = false;
    if let Some(c) = crate::dist::initialized().filter(|c| c.size() > 1) {
        if let Err(e) = &result {
            // An error the ranks did not agree on leaves the others waiting in a
            // collective: end the whole job (mpirun reports it) rather than let it hang.
            let agreed = matches!(
                e.downcast_ref::<Error>(),
                Some(Error::Ranks { .. } | Error::Interrupted(_))
            );
            if !agreed {
                let code = e.downcast_ref::<Error>().map_or(1, Error::exit_code);
                eprintln!("error: rank {}: {e:#}", c.rank());
                c.abort(code);
            }
            // Every rank reports the agreed error before any of them exits: once one rank
            // exits non-zero mpirun signals the others, which could cut one off before
            // its message.
            print_error(e);
            printed = true;
        }
        // Every rank that got here (all of them: the other outcomes aborted) meets here.
        c.sum_u64(&mut [0]);
    }
    crate::dist::finalize();
    match result {
        Ok(()) => 0,
        Err(e) => {
            let pipe_closed = match e.downcast_ref::<StdoutError>() {
                Some(StdoutError(io)) => io.kind() == std::io::ErrorKind::BrokenPipe,
                // `--output -` read by a reader that stopped early.
                None => matches!(
                    e.downcast_ref::<Error>(),
                    Some(Error::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::BrokenPipe
                ),
            };
            {
                if pipe_closed {
                    // The reader stopped listening (`| head`): exit as Unix tools killed by
                    // SIGPIPE do, without a message; every file was written before printing.
                    return 141;
                }
            }
            if !printed {
                print_error(&e);
            }
            e.downcast_ref::<Error>().map_or(1, Error::exit_code)
        }
    }
}

/// The library's errors already name their cause (an I/O error's source is part of its
/// message); other errors print their whole chain.
fn print_error(e: &anyhow::Error) {
    match e.downcast_ref::<Error>() {
        Some(err) => eprintln!("error: {err}"),
        None => eprintln!("error: {e:#}"),
    }
}

/// The `train` arguments given on the command line, as `--flag value` tokens (every
/// argument whose id `keep` accepts).
fn explicit_train_args(m: &clap::ArgMatches, keep: &dyn Fn(&str) -> bool) -> Vec<String> {
    let cmd = Cli::command();
    let train = cmd.find_subcommand("train").expect("train subcommand");
    let mut out = Vec::new();
    for arg in train.get_arguments() {
        let id = arg.get_id().as_str();
        if m.value_source(id) != Some(clap::parser::ValueSource::CommandLine) || !keep(id) {
            continue;
        }
        let Some(long) = arg.get_long() else { continue };
        if arg.get_action().takes_values() {
            for v in m.get_raw(id).into_iter().flatten() {
                out.push(format!("--{long}"));
                out.push(v.to_string_lossy().into_owned());
            }
        } else {
            out.push(format!("--{long}"));
        }
    }
    out
}

/// The GPU engine's flags of `train` (clap id, flag), which the CPU trainers do not read.
const GPU_ONLY_TRAIN_FLAGS: [(&str, &str); 11] = [
    ("gpu_batch", "--gpu-batch"),
    ("gpu_updates", "--gpu-updates"),
    ("gpu_atomics", "--gpu-atomics"),
    ("gpu_kernel", "--gpu-kernel"),
    ("gpu_reduce", "--gpu-reduce"),
    ("gpu_chunk", "--gpu-chunk"),
    ("gpu_tile_noise", "--gpu-tile-noise"),
    ("gpu_workgroup", "--gpu-workgroup"),
    ("gpu_context_rows", "--gpu-context-rows"),
    ("gpu_order", "--gpu-order"),
    ("gpu_in_flight", "--gpu-in-flight"),
];

/// The error of a GPU engine's `flag` given to a run on the CPU.
fn gpu_only(flag: &str) -> Error {
    Error::usage(
        flag,
        "applies to a GPU --backend only (vulkan, metal, dx12 or gl); this run trains on the CPU: add --backend vulkan (or another GPU API), or drop the flag",
    )
}

/// Refuses a GPU engine's flag given on this command line (`m`) to a run on the CPU, where
/// it would change nothing and a CPU run could be read as the GPU's. (`auto` keeps them: it
/// trains on a GPU where there is one.)
fn refuse_gpu_flags_on_cpu(m: Option<&clap::ArgMatches>, cfg: &TrainConfig) -> Result<(), Error> {
    let Some(m) = m.filter(|_| cfg.backend == BackendKind::Cpu) else {
        return Ok(());
    };
    match GPU_ONLY_TRAIN_FLAGS
        .iter()
        .find(|(id, _)| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
    {
        Some((_, flag)) => Err(gpu_only(flag)),
        None => Ok(()),
    }
}

/// `train --resume DIR` without `--input`: the run's own arguments come from its newest
/// checkpoint; flags given now replace the stored ones (and a flag that changes what is
/// trained is then refused by the fingerprint check, as with a full command line).
fn resolve_train_args(
    a: Box<TrainArgs>,
    m: Option<&clap::ArgMatches>,
) -> anyhow::Result<(Box<TrainArgs>, Vec<String>)> {
    let Some(m) = m else {
        return Ok((a, Vec::new()));
    };
    let given = |id: &str| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let (Some(dir), false) = (&a.resume, given("input")) else {
        return Ok((a, explicit_train_args(m, &|_| true)));
    };
    let stored = crate::train::stored_args(dir)?;
    let mut argv = vec!["w2v-gpu".to_string(), "train".to_string()];
    argv.extend(stored.iter().cloned());
    let stored_m = Cli::command()
        .try_get_matches_from(&argv)
        .map_err(|e| anyhow::anyhow!("the arguments stored in {}: {e}", dir.display()))?;
    let stored_m = stored_m
        .subcommand_matches("train")
        .expect("train subcommand")
        .clone();
    let mut tokens = explicit_train_args(&stored_m, &|id| !given(id));
    tokens.extend(explicit_train_args(m, &|_| true));
    let mut argv = vec!["w2v-gpu".to_string(), "train".to_string()];
    argv.extend(tokens.iter().cloned());
    let cli = Cli::try_parse_from(&argv)?;
    match cli.command {
        Command::Train(merged) => Ok((merged, tokens)),
        _ => unreachable!("parsed as train"),
    }
}

fn dispatch(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(a) => {
            let given = matches.subcommand_matches("train");
            let (a, command_line) = resolve_train_args(a, given)?;
            let mut cfg = a.to_config()?;
            refuse_gpu_flags_on_cpu(given, &cfg)?;
            cfg.command_line = command_line;
            let to_stdout = cfg.output.as_os_str() == "-";
            if to_stdout && a.json {
                return Err(Error::usage(
                    "--json",
                    "cannot share standard output with --output -; write the vectors to a file or drop --json",
                )
                .into());
            }
            crate::train::install_signal_handlers();
            let rank = match crate::dist::world() {
                Some(c) => {
                    let args: Vec<String> = std::env::args().skip(1).collect();
                    crate::dist::agree(c, crate::dist::check_same_args(c, &args))?;
                    c.rank()
                }
                None if crate::dist::launcher_ranks().is_some_and(|n| n > 1) => {
                    return Err(Error::usage(
                        "mpirun",
                        "this w2v-gpu was built without MPI, so every rank would train the whole corpus alone; build with `cargo build --release --features mpi` (docs/distributed.md)",
                    )
                    .into());
                }
                None => 0,
            };
            // Rank 0 speaks for a distributed run.
            let report = crate::train::train(&cfg, &Reporter::new(a.quiet || rank != 0))?;
            if rank != 0 {
                return Ok(());
            }
            if a.json {
                outln!("{}", report.to_json());
            } else {
                let summary = format!(
                    "trained {} on {} ({}): {} words in {:.2}s = {:.0} words/s, vocabulary {}, final loss {}; {} in {}",
                    cfg.model.name(),
                    report.backend,
                    match (report.adapter.clone(), report.ranks) {
                        (Some(a), r) if r > 1 => format!("{r} MPI ranks, each {a}"),
                        (Some(a), _) => a,
                        (None, r) if r > 1 => format!("{r} MPI ranks × {} threads", report.threads),
                        (None, _) if report.threads == 1 => "1 thread".to_string(),
                        (None, _) => format!("{} threads", report.threads),
                    },
                    report.words,
                    report.train_seconds,
                    report.words_per_second,
                    report.vocab_size,
                    report.final_loss.map_or("-".into(), |l| format!("{l:.4}")),
                    match cfg.classes {
                        0 => "vectors".to_string(),
                        k => format!("{k} word classes"),
                    },
                    if to_stdout {
                        "standard output".to_string()
                    } else {
                        cfg.output.display().to_string()
                    }
                );
                if to_stdout {
                    // The vectors are on standard output: keep it clean.
                    if !a.quiet {
                        eprintln!("{summary}");
                    }
                } else {
                    outln!("{summary}");
                }
            }
        }
        Command::Vector(a) if a.sentences => sentence_vectors(&a)?,
        Command::Vector(a) if a.ngrams => ngram_vectors(&a)?,
        Command::Vector(a) => {
            let words = words_or_stdin(&a)?;
            let (_, vectors) = raw_vectors(&a.vectors, &words, a.zero_unknown)?;
            for (w, v) in words.iter().zip(vectors) {
                outln!("{}", vector_line(Some(w), &v, a.fasttext_format));
            }
        }
        Command::Similar(a) => {
            let all_words = [a.words.clone(), a.negative.clone()].concat();
            let space = load_space_for(&a.vectors, a.limit, true, &all_words)?;
            check_words_present(&space, &a.vectors, a.limit, &all_words)?;
            // (query, neighbours): one per word, or the words as one query.
            let answers: Vec<(String, Vec<(String, f32)>)> = if a.sum || !a.negative.is_empty() {
                let minus: String = a.negative.iter().map(|w| format!(" - {w}")).collect();
                let r = space.most_similar(&a.words, &a.negative, a.k)?;
                vec![(a.words.join(" + ") + &minus, r)]
            } else {
                a.words
                    .iter()
                    .map(|w| Ok((w.clone(), space.similar(w, a.k)?)))
                    .collect::<crate::Result<_>>()?
            };
            let mut all = serde_json::Map::new();
            for (w, r) in answers {
                if a.json {
                    all.insert(w, pairs_json(&r));
                } else {
                    outln!("{w}:");
                    for (n, s) in r {
                        outln!("  {s:.4}  {n}");
                    }
                }
            }
            if a.json {
                outln!("{}", serde_json::Value::Object(all));
            }
        }
        Command::Analogy(a) => {
            let space = load_space_for(
                &a.vectors,
                a.limit,
                true,
                &[a.a.clone(), a.b.clone(), a.c.clone()],
            )?;
            check_words_present(
                &space,
                &a.vectors,
                a.limit,
                &[a.a.clone(), a.b.clone(), a.c.clone()],
            )?;
            let r = space.analogy(&a.a, &a.b, &a.c, a.k, a.method == AnalogyMethodArg::Cosmul)?;
            if a.json {
                outln!("{}", pairs_json(&r));
            } else {
                outln!("{} : {} :: {} : ?", a.a, a.b, a.c);
                for (n, s) in r {
                    outln!("  {s:.4}  {n}");
                }
            }
        }
        Command::Similarity(a) => similarity_command(&a)?,
        Command::DoesntMatch(a) => doesnt_match_command(&a)?,
        Command::Eval(a) => eval_command(&a)?,
        Command::Devices(a) if a.check => devices_check(&a)?,
        Command::Devices(a) => devices_command(a.json)?,
        Command::Bench(a) => bench_command(&a)?,
        Command::Map(a) => map_command(&a)?,
        Command::Distance(a) => w2vc_queries(&a.vectors, false)?,
        Command::WordAnalogy(a) => w2vc_queries(&a.vectors, true)?,
        Command::Doc2vec(a) => doc2vec_command(&a)?,
        Command::Infer(a) => infer_command(&a)?,
        Command::ComputeAccuracy(a) => {
            let limit = (a.threshold > 0).then_some(a.threshold);
            let emb = crate::io::read_any_vectors(&a.vectors, limit)?;
            let questions = read_stdin()?;
            out!(
                "{}",
                crate::w2vc_tools::compute_accuracy(&emb, a.threshold, &questions)
            );
        }
        Command::Phrases(a) => {
            let scoring = match a.scoring {
                ScoringArg::Word2phrase => crate::phrases::Scoring::Word2phrase,
                ScoringArg::Npmi => crate::phrases::Scoring::Npmi,
            };
            let cfg = crate::phrases::PhraseConfig {
                min_count: a.min_count,
                threshold: a.threshold.unwrap_or(match scoring {
                    crate::phrases::Scoring::Word2phrase => 100.0,
                    crate::phrases::Scoring::Npmi => 0.5,
                }),
                scoring,
                max_table: a.max_table,
            };
            let r = crate::phrases::phrases(&a.input, &a.output, &cfg)?;
            if a.json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "words": r.words, "joined": r.joined, "phrases": r.phrases,
                        "prunings": r.prunings, "threshold": cfg.threshold,
                    })
                );
            } else {
                outln!(
                    "{} words, {} pairs joined into {} distinct phrases{}; written to {}",
                    r.words,
                    r.joined,
                    r.phrases,
                    if r.prunings > 0 {
                        format!(
                            " (count table pruned {} times: counts of rare pairs are approximate)",
                            r.prunings
                        )
                    } else {
                        String::new()
                    },
                    a.output.display()
                );
            }
        }
    }
    Ok(())
}

/// A word missing from the first `--limit` rows gets a message that says whether the file
/// has it further down (the whole file is read only on this error path).
fn check_words_present(
    space: &Space,
    path: &std::path::Path,
    limit: Option<usize>,
    words: &[String],
) -> crate::Result<()> {
    let Some(missing) = words.iter().find(|w| space.lookup(w).is_none()) else {
        return Ok(());
    };
    if let Some(n) = limit {
        let all = crate::io::read_any_vectors(path, None)?;
        let full = Space::new(&all, true);
        if let Some(row) = full.lookup(missing) {
            return Err(Error::usage(
                "--limit",
                format!(
                    "{missing:?} is row {} of {}, beyond --limit {n}; raise --limit above {row} or leave it out",
                    row + 1,
                    path.display()
                ),
            ));
        }
    }
    Err(not_found(missing, path))
}

fn not_found(word: &str, path: &std::path::Path) -> Error {
    Error::usage(
        "WORD",
        format!(
            "{word:?} is not in {} (looked up by exact spelling, then case-insensitively)",
            path.display()
        ),
    )
}

fn load_space(path: &std::path::Path, limit: Option<usize>, ci: bool) -> crate::Result<Space> {
    let emb = crate::io::read_any_vectors(path, limit)?;
    Ok(Space::new(&emb, ci))
}

/// fastText's `nn MODEL [k]` and `analogies MODEL [k]`: the model loaded once, then every
/// word (`nn`) or `A B C` triple (`analogies`: the words nearest `A - B + C`) of standard
/// input answered as fastText answers, with its prompt before each query and one `word
/// score` line per answer (cosine similarity, exact spelling; from a subword model words
/// never seen in training are answered from their n-grams).
/// fastText's `supervised`: trains, then writes `output.bin`, `output.vec` (each word's
/// vector) and with `-saveOutput` `output.output` (each label's output row).
fn supervised_command(
    cfg: &crate::classifier::SupConfig,
    output: &str,
    save_output: bool,
    verbose: i64,
    autotune: Option<(crate::autotune::AutotuneArgs, Vec<String>)>,
) -> anyhow::Result<()> {
    // fastText writes a model autotuned to a size as `.ftz`.
    let sized = autotune
        .as_ref()
        .is_some_and(|(a, _)| a.model_size.is_some());
    if sized && save_output {
        let why = "a quantized model (-autotune-modelsize) has no plain output rows to save";
        return Err(Error::usage("-saveOutput", why).into());
    }
    let bin = std::path::PathBuf::from(format!("{output}.{}", if sized { "ftz" } else { "bin" }));
    let vec = std::path::PathBuf::from(format!("{output}.vec"));
    let out = std::path::PathBuf::from(format!("{output}.output"));
    for p in [&bin, &vec].into_iter().chain(save_output.then_some(&out)) {
        crate::files::refuse_overwriting_input("-output", p, &[("-input", &cfg.input)])?;
        crate::files::check_writable(p)?;
    }
    let progress = Reporter::new(verbose <= 0);
    let c = match autotune {
        Some((a, manual)) => {
            let t = crate::autotune::autotune(cfg, &manual.into_iter().collect(), &a, &progress)?;
            if verbose > 0 {
                let c = &t.config;
                eprintln!(
                    "autotune: {} trials; best validation score {:.6} with -epoch {} -lr {} -dim {} -wordNgrams {} -minn {} -maxn {} -bucket {} -loss {}",
                    t.trials,
                    t.score,
                    c.epoch,
                    c.lr,
                    c.dim,
                    c.word_ngrams,
                    c.minn,
                    c.maxn,
                    c.buckets(),
                    c.loss.name()
                );
            }
            t.classifier
        }
        None => {
            let (c, r) = crate::classifier::train(cfg, &progress)?;
            if verbose > 0 {
                eprintln!(
                    "supervised ({} loss): {} lines, {} words, {} labels, {} epochs on {} in {:.2} s ({:.0} words/sec{}), avg.loss {:.6}; model written to {}",
                    cfg.loss.name(),
                    r.lines,
                    r.words,
                    r.labels,
                    cfg.epoch,
                    r.engine,
                    r.seconds,
                    r.words_per_second_per_thread,
                    if r.on_gpu { "" } else { "/thread" },
                    r.avg_loss,
                    bin.display()
                );
            }
            c
        }
    };
    let m = &c.model;
    m.write(&bin)?;
    crate::io::write_vectors(&vec, &m.words, m.dim, &c.word_vectors(), Format::Text)?;
    if save_output {
        crate::io::write_vectors(&out, &m.labels, m.dim, &m.output, Format::Text)?;
    }
    Ok(())
}

/// fastText's `quantize`: reads `output.bin`, writes `output.ftz`.
fn quantize_command(
    q: &crate::classifier::QuantArgs,
    input: Option<&std::path::Path>,
    output: &str,
    verbose: i64,
) -> anyhow::Result<()> {
    let bin = std::path::PathBuf::from(format!("{output}.bin"));
    let ftz = std::path::PathBuf::from(format!("{output}.ftz"));
    let c = crate::classifier::Classifier::read(&bin)?;
    if let Some(p) = input.filter(|_| q.retrain) {
        crate::files::refuse_overwriting_input("-output", &ftz, &[("-input", p)])?;
    }
    crate::files::check_writable(&ftz)?;
    let text = match input.filter(|_| q.retrain) {
        Some(p) => {
            let b = crate::files::read_bytes(p)?;
            crate::files::check_text(p, &b)?;
            Some(b)
        }
        None => None,
    };
    let started = std::time::Instant::now();
    let (c, retrained) =
        crate::classifier::quantize(c, q, text.as_deref(), &Reporter::new(verbose <= 0))?;
    c.model.write(&ftz)?;
    if let (Some(r), true) = (retrained, verbose > 0) {
        eprintln!(
            "retrained ({} epochs): {} lines on {} in {:.2} s ({:.0} words/sec{}), avg.loss {:.6}",
            q.epoch,
            r.lines,
            r.engine,
            r.seconds,
            r.words_per_second_per_thread,
            if r.on_gpu { "" } else { "/thread" },
            r.avg_loss
        );
    }
    if verbose > 0 {
        let size = std::fs::metadata(&ftz).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "quantized in {:.2} s: {} words, {} input rows, {:.1} MB written to {}",
            started.elapsed().as_secs_f64(),
            c.model.words.len(),
            c.model.quant.as_ref().map_or(0, |q| q.input.m),
            size as f64 / 1e6,
            ftz.display()
        );
    }
    Ok(())
}

/// fastText's `predict`, `predict-prob`, `test` and `test-label`, printed as fastText
/// prints them; standard input (`-`) is read and answered line by line.
fn classify_command(
    model: &std::path::Path,
    input: &std::path::Path,
    k: Option<usize>,
    threshold: f32,
    test: bool,
    detail: bool,
) -> anyhow::Result<()> {
    use crate::classifier::{Classifier, Features, Meter};
    use std::io::{BufRead as _, Write as _};
    let c = Classifier::read(model)?;
    let mut meter = Meter::new(c.labels().len());
    let mut f = Features::default();
    let mut o = std::io::BufWriter::new(std::io::stdout().lock());
    let mut each = |line: &[u8], eos: bool, o: &mut dyn std::io::Write| -> anyhow::Result<()> {
        c.features(line, eos, &mut f);
        if test {
            if !f.labels.is_empty() && !f.rows.is_empty() {
                meter.log(&f.labels, &c.predict(&f.rows, k, threshold));
            }
            return Ok(());
        }
        let p = c.predict(&f.rows, k, threshold);
        let mut s = String::new();
        for (i, (score, l)) in p.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&c.labels()[*l as usize]);
            if detail {
                s.push(' ');
                s.push_str(&general_format(score.exp() as f64, 6));
            }
        }
        writeln!(o, "{s}").map_err(StdoutError)?;
        Ok(())
    };
    if input.as_os_str() == "-" {
        // Line by line, each answer flushed, as fastText answers an interactive session.
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = stdin
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io(input, e))?;
            if n == 0 {
                break;
            }
            let eos = line.last() == Some(&b'\n');
            let text = if eos { &line[..n - 1] } else { &line[..] };
            each(text, eos, &mut o)?;
            o.flush().map_err(StdoutError)?;
        }
    } else {
        let what = "a text to classify, a line per document, or - for standard input";
        let bytes = crate::files::read_model_bytes(input, what)?;
        crate::files::check_text(input, &bytes)?;
        for (line, eos) in crate::classifier::lines(&bytes) {
            each(line, eos, &mut o)?;
        }
    }
    if test {
        // fastText's Meter: per label with fixed 6 decimals (then 3 for the totals), the
        // totals alone with 3 significant digits.
        let fixed = |x: f64, d: usize| {
            if x.is_finite() {
                format!("{x:.d$}")
            } else {
                "--------".to_string()
            }
        };
        if detail {
            for (l, name) in c.labels().iter().enumerate() {
                writeln!(
                    o,
                    "F1-Score : {}  Precision : {}  Recall : {}   {name}",
                    fixed(meter.label_f1(l), 6),
                    fixed(meter.label_precision(l), 6),
                    fixed(meter.label_recall(l), 6)
                )
                .map_err(StdoutError)?;
            }
        }
        let total = |x: f64| {
            if detail {
                format!("{x:.3}")
            } else {
                general_format(x, 3)
            }
        };
        let k = k.map_or(-1, |k| k as i64);
        writeln!(o, "N\t{}", meter.examples).map_err(StdoutError)?;
        writeln!(o, "P@{k}\t{}", total(meter.precision())).map_err(StdoutError)?;
        writeln!(o, "R@{k}\t{}", total(meter.recall())).map_err(StdoutError)?;
    }
    o.flush().map_err(StdoutError)?;
    Ok(())
}

fn fasttext_queries(model: &std::path::Path, k: usize, analogies: bool) -> anyhow::Result<()> {
    use std::io::BufRead;
    let sub = if crate::fasttext::is_fasttext_bin(model) {
        Some(crate::fasttext::FastTextModel::read(model)?)
    } else {
        None
    };
    let mut space = match &sub {
        Some(m) => space_from_model(m, None, false, &[]),
        None => load_space(model, None, false)?,
    };
    let (prompt, arity) = if analogies {
        ("Query triplet (A - B + C)? ", 3)
    } else {
        ("Query word? ", 1)
    };
    // A fastText model answers with fastText's own arithmetic (the same scores, digit for
    // digit); word2vec files with the vector space's.
    let exact = sub.as_ref().map(|m| m.neighbours());
    if analogies {
        // fastText's analogies announce the model first (nn does not).
        outln!("Loading model {}", model.display());
    }
    out!("{prompt}");
    let mut pending: Vec<String> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(stdin_error)?;
        for w in cpp_words(&line) {
            if let Some(nb) = &exact {
                pending.push(w.to_string());
                if pending.len() < arity {
                    continue;
                }
                let q = std::mem::take(&mut pending);
                let answers = match q.as_slice() {
                    [a, b, c] => nb.analogies(a, b, c, k),
                    [w] => nb.nn(w, k),
                    _ => unreachable!("queries of one or three words"),
                };
                for (word, score) in answers {
                    outln!("{word} {}", general_format(score as f64, 6));
                }
                out!("{prompt}");
                continue;
            }
            if space.lookup(w).is_none() {
                if let Some(v) = sub.as_ref().and_then(|m| m.vector(w, None)) {
                    space.add_query_rows(vec![(w.to_string(), v)]);
                }
            }
            pending.push(w.to_string());
            if pending.len() < arity {
                continue;
            }
            let q = std::mem::take(&mut pending);
            // fastText's A - B + C is "B is to A as C is to ?".
            let answers = match q.as_slice() {
                [a, b, c] => space.analogy(b, a, c, k, false),
                [w] => space.similar(w, k),
                _ => unreachable!("queries of one or three words"),
            };
            match answers {
                Ok(r) => {
                    for (word, score) in r {
                        outln!("{word} {}", general_format(score as f64, 6));
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            }
            out!("{prompt}");
        }
    }
    Ok(())
}

/// A failed read of standard input, as an input error naming it.
fn stdin_error(e: std::io::Error) -> Error {
    Error::input(std::path::Path::new("standard input"), e.to_string())
}

/// `doc2vec`: trains, then writes the document vectors (and the words, and the model).
fn doc2vec_command(a: &Doc2vecArgs) -> anyhow::Result<()> {
    let cfg = crate::doc2vec::DocConfig {
        input: a.input.clone(),
        kind: match (a.model, a.dm_concat) {
            (DocModelArg::Dm, false) => crate::doc2vec::DocKind::Dm,
            (DocModelArg::Dm, true) => crate::doc2vec::DocKind::DmConcat,
            (DocModelArg::Dbow, false) => crate::doc2vec::DocKind::Dbow,
            (DocModelArg::Dbow, true) => {
                let why = "applies to --model dm (PV-DM) only";
                return Err(Error::usage("--dm-concat", why).into());
            }
        },
        dbow_words: a.dbow_words,
        tagged: a.tagged,
        dim: a.dim,
        window: a.window,
        negative: a.negative,
        hs: a.hs,
        epochs: a.epochs,
        alpha: a.alpha,
        min_alpha: a.min_alpha,
        min_count: a.min_count,
        sample: a.sample,
        threads: a.threads.unwrap_or_else(all_threads),
        seed: a.seed,
        backend: a.backend.into(),
        adapter: a.adapter,
        gpu: crate::doc2vec::DocGpu {
            batch: a.gpu_batch,
            atomics: a.gpu_atomics.choice(),
            reduce: a.gpu_reduce.choice(),
            workgroup: a.gpu_workgroup,
            order: a.gpu_order.into(),
            in_flight: a.gpu_in_flight,
        },
    };
    if !cfg.on_gpu() {
        let default = crate::doc2vec::DocGpu::default();
        let given = [
            ("--adapter", a.adapter.is_some()),
            ("--gpu-batch", cfg.gpu.batch != default.batch),
            ("--gpu-atomics", cfg.gpu.atomics.is_some()),
            ("--gpu-reduce", cfg.gpu.reduce.is_some()),
            ("--gpu-workgroup", cfg.gpu.workgroup != default.workgroup),
            ("--gpu-order", cfg.gpu.order != default.order),
            ("--gpu-in-flight", cfg.gpu.in_flight.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
            return Err(gpu_only(flag).into());
        }
    }
    cfg.validate()?;
    // Refuse an output that cannot be written, or would overwrite the input, before
    // training, not after.
    let outputs = [
        ("--output", Some(&a.output)),
        ("--save-words", a.save_words.as_ref()),
        ("--save-model", a.save_model.as_ref()),
    ];
    for (flag, p) in outputs {
        let Some(p) = p else { continue };
        crate::files::refuse_overwriting_input(flag, p, &[("--input", &a.input)])?;
        crate::files::check_writable(p)?;
    }
    let (m, r) = crate::doc2vec::train(&cfg, &Reporter::new(a.quiet || a.json))?;
    let dim = m.dim();
    crate::io::write_vectors(
        &a.output,
        &m.tags,
        dim,
        &m.model.subwords,
        Format::from_path(&a.output),
    )?;
    if let Some(p) = &a.save_words {
        crate::io::write_vectors(
            p,
            m.vocab.words(),
            dim,
            m.word_vectors(),
            Format::from_path(p),
        )?;
    }
    if let Some(p) = &a.save_model {
        m.save(p)?;
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "model": m.kind.name(), "hs": m.hs, "negative": m.negative,
                "documents": r.documents, "vocab": r.vocab,
                "words": r.words, "epochs": cfg.epochs, "threads": cfg.threads,
                "train_seconds": r.seconds, "words_per_second": r.words_per_second,
                "final_loss": r.final_loss, "backend": cfg.backend.name(), "engine": r.engine,
            })
        );
    } else if !a.quiet {
        eprintln!(
            "doc2vec ({}): {} documents, {} words in a vocabulary of {}, {} epochs on {} in {:.2} s ({:.0} words/s), loss {:.4}; document vectors written to {}",
            m.kind.name(),
            r.documents,
            r.words,
            r.vocab,
            cfg.epochs,
            if cfg.on_gpu() {
                r.engine.clone()
            } else {
                format!("{} threads", cfg.threads)
            },
            r.seconds,
            r.words_per_second,
            r.final_loss,
            a.output.display()
        );
    }
    Ok(())
}

/// `infer`: a vector per line of the input, from a saved doc2vec model.
fn infer_command(a: &InferArgs) -> anyhow::Result<()> {
    let backend = BackendKind::from(a.backend);
    let on_gpu = !matches!(backend, BackendKind::Cpu | BackendKind::Auto);
    if a.adapter.is_some() && !on_gpu {
        return Err(gpu_only("--adapter").into());
    }
    let m = crate::doc2vec::Doc2Vec::load(&a.model)?;
    let s = crate::doc2vec::InferSettings {
        epochs: a.epochs,
        alpha: a.alpha,
        min_alpha: a.min_alpha,
        seed: a.seed,
    };
    if s.epochs == Some(0) {
        return Err(Error::usage("--epochs", "must be at least 1").into());
    }
    for (flag, v) in [("--alpha", s.alpha), ("--min-alpha", s.min_alpha)] {
        if v.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
            return Err(Error::usage(flag, "must be a number at least 0").into());
        }
    }
    if let Some(p) = &a.output {
        let mut read = vec![("--model", a.model.as_path())];
        read.extend(a.input.as_deref().map(|i| ("--input", i)));
        crate::files::refuse_overwriting_input("--output", p, &read)?;
        crate::files::check_writable(p)?;
    }
    let text = match &a.input {
        Some(p) => {
            let b = crate::files::read_all(std::slice::from_ref(p))?;
            String::from_utf8_lossy(&b).into_owned()
        }
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!("reading documents from standard input, one per line (end with Ctrl-D)");
            }
            read_stdin()?
        }
    };
    let mut tags = Vec::new();
    let mut texts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut words: Vec<&str> = cpp_words(line).collect();
        if a.tagged {
            if words.is_empty() {
                return Err(Error::input(
                    a.input
                        .as_deref()
                        .unwrap_or(std::path::Path::new("standard input")),
                    format!(
                        "line {} has no tag: with --tagged every line starts with its tag",
                        n + 1
                    ),
                )
                .into());
            }
            tags.push(words.remove(0).to_string());
        } else {
            tags.push(n.to_string());
        }
        texts.push(words);
    }
    let threads = a.threads.unwrap_or_else(all_threads).max(1);
    // Open the GPU after the input is read (standard input may be a pipe), before the work.
    let gpu = match backend {
        BackendKind::Cpu | BackendKind::Auto => None,
        kind => crate::backend::gpu::GpuContext::open(kind, a.adapter, &Reporter::new(true))?,
    };
    let vectors = match gpu {
        Some(ctx) => {
            crate::doc2vec::infer_on_gpu(&m, &texts, &s, ctx, crate::doc2vec::INFER_GROUP)?
        }
        None => crate::doc2vec::infer_many(&m, &texts, &s, threads),
    };
    if let Some(k) = a.similar {
        let docs = crate::io::Embeddings {
            words: m.tags.clone(),
            dim: m.dim(),
            vectors: m.model.subwords.clone(),
        };
        let space = crate::eval::Space::new(&docs, false);
        for (tag, v) in tags.iter().zip(&vectors) {
            outln!("{tag}:");
            for (n, s) in space.nearest(v, k) {
                outln!("  {s:.4}  {n}");
            }
        }
        return Ok(());
    }
    match &a.output {
        Some(p) => {
            let flat: Vec<f32> = vectors.concat();
            crate::io::write_vectors(p, &tags, m.dim(), &flat, Format::from_path(p))?;
        }
        None => {
            for v in &vectors {
                outln!("{}", vector_line(None, v, false));
            }
        }
    }
    Ok(())
}

/// All of standard input.
fn read_stdin() -> Result<String, Error> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text).map_err(stdin_error)?;
    Ok(text)
}

/// fastText's `dump MODEL PART` as fastText 0.9 prints it: `args` (the training arguments,
/// one `name value` line each), `dict` (the word count, then `word count word` lines),
/// `input` or `output` (`rows cols`, then each row's values with 6 significant digits).
fn fasttext_dump(model: &std::path::Path, part: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let m = crate::fasttext::FastTextModel::read(model)?;
    let mut o = std::io::BufWriter::new(std::io::stdout().lock());
    let g = |x: f64| general_format(x, 6);
    let a = &m.args;
    match part {
        "args" => {
            let loss =
                crate::classifier::Loss::from_code(a.loss).map_or("Unknown loss!", |l| l.name());
            let kind = match a.model {
                1 => "cbow",
                2 => "sg",
                3 => "sup",
                _ => "Unknown model name!",
            };
            let p = &m.params;
            let lines: [(&str, String); 13] = [
                ("dim", m.dim.to_string()),
                ("ws", a.ws.to_string()),
                ("epoch", a.epoch.to_string()),
                ("minCount", a.min_count.to_string()),
                ("neg", a.neg.to_string()),
                ("wordNgrams", a.word_ngrams.to_string()),
                ("loss", loss.to_string()),
                ("model", kind.to_string()),
                ("bucket", p.bucket.to_string()),
                ("minn", p.minn.to_string()),
                ("maxn", p.maxn.to_string()),
                ("lrUpdateRate", a.lr_update_rate.to_string()),
                ("t", g(a.t)),
            ];
            for (k, v) in lines {
                writeln!(o, "{k} {v}").map_err(StdoutError)?;
            }
        }
        "dict" => {
            writeln!(o, "{}", m.words.len() + m.labels.len()).map_err(StdoutError)?;
            for (w, c) in m.words.iter().zip(&m.counts) {
                writeln!(o, "{w} {c} word").map_err(StdoutError)?;
            }
            for (w, c) in m.labels.iter().zip(&m.label_counts) {
                writeln!(o, "{w} {c} label").map_err(StdoutError)?;
            }
        }
        _ => {
            let rows = if part == "input" { &m.input } else { &m.output };
            let dim = m.dim.max(1);
            writeln!(o, "{} {}", rows.len() / dim, m.dim).map_err(StdoutError)?;
            let mut line = String::new();
            for row in rows.chunks(dim) {
                line.clear();
                for (j, &x) in row.iter().enumerate() {
                    if j > 0 {
                        line.push(' ');
                    }
                    line.push_str(&g(x as f64));
                }
                writeln!(o, "{line}").map_err(StdoutError)?;
            }
        }
    }
    o.flush().map_err(StdoutError)?;
    Ok(())
}

/// word2vec.c's `distance FILE` and `word-analogy FILE`: the prompt, then an answer per line
/// of standard input, until `EXIT` or the end of the input (where word2vec.c's tools would
/// loop forever).
fn w2vc_queries(vectors: &std::path::Path, analogy: bool) -> anyhow::Result<()> {
    use crate::w2vc_tools::Interactive;
    use std::io::BufRead;
    let emb = crate::io::read_any_vectors(vectors, None)?;
    let tool = Interactive::new(&emb);
    let prompt = if analogy {
        Interactive::ANALOGY_PROMPT
    } else {
        Interactive::DISTANCE_PROMPT
    };
    let mut stdin = std::io::stdin().lock();
    loop {
        out!("{prompt}");
        let mut line = String::new();
        let n = stdin.read_line(&mut line).map_err(stdin_error)?;
        if n == 0 {
            return Ok(());
        }
        let line = line.strip_suffix('\n').unwrap_or(&line);
        if line == "EXIT" {
            return Ok(());
        }
        let answer = if analogy {
            tool.analogy(line)
        } else {
            tool.distance(line)
        };
        out!("{answer}");
    }
}

/// `x` as C++'s default stream output prints it with `digits` significant digits (`%g`:
/// no trailing zeros, an exponent of two digits or more below 1e-4 and from 10^digits on),
/// the form of fastText's scores (6 digits) and vectors (5).
fn general_format(x: f64, digits: usize) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".to_string()
        } else if x > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
    }
    let p = digits.max(1);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    // The exponent after rounding to p significant digits decides the form, as in %g.
    let sci = format!("{x:.*e}", p - 1);
    let (mantissa, exp) = sci.split_once('e').expect("Rust's exponent format");
    let exp: i32 = exp.parse().expect("an integer exponent");
    if exp < -4 || exp >= p as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{x:.*}", (p as i32 - 1 - exp) as usize))
    }
}

/// [`load_space`], and from a subword model (a fastText .bin) a query row for each of
/// `words` that the vocabulary lacks, built from its n-grams.
fn load_space_for(
    path: &std::path::Path,
    limit: Option<usize>,
    ci: bool,
    words: &[String],
) -> crate::Result<Space> {
    if !crate::fasttext::is_fasttext_bin(path) {
        return load_space(path, limit, ci);
    }
    let m = crate::fasttext::FastTextModel::read(path)?;
    Ok(space_from_model(&m, limit, ci, words))
}

/// The space of a subword model's first `limit` words, plus a query row for each of
/// `words` that the vocabulary lacks, built from its n-grams.
fn space_from_model(
    m: &crate::fasttext::FastTextModel,
    limit: Option<usize>,
    ci: bool,
    words: &[String],
) -> Space {
    let mut space = Space::new(&crate::io::fasttext_embeddings(m, limit), ci);
    let extra = words
        .iter()
        .filter(|w| space.lookup(w).is_none())
        .filter_map(|w| m.vector(w, None).map(|v| (w.clone(), v)))
        .collect();
    space.add_query_rows(extra);
    space
}

/// A printed vector: `label v1 v2 ...` (no label: the values alone), each value the shortest
/// decimal that reads back as the same f32, or with `fasttext_format` as fastText prints a
/// vector (5 significant digits, C++'s float format, a space after every value).
fn vector_line(label: Option<&str>, v: &[f32], fasttext_format: bool) -> String {
    let mut line = label.unwrap_or_default().to_string();
    for (i, &x) in v.iter().enumerate() {
        if label.is_some() || i > 0 {
            line.push(' ');
        }
        if fasttext_format {
            line.push_str(&general_format(x as f64, 5));
        } else {
            line.push_str(&x.to_string());
        }
    }
    if fasttext_format {
        line.push(' ');
    }
    line
}

/// Words as C++'s `std::istream >> std::string` splits them (the C locale's white space:
/// space, tab, newline, vertical tab, form feed, carriage return), as fastText reads them.
fn cpp_words(text: &str) -> impl Iterator<Item = &str> {
    text.split([' ', '\t', '\n', '\x0B', '\x0C', '\r'])
        .filter(|w| !w.is_empty())
}

/// `vector`'s words: those given, or else those of standard input.
fn words_or_stdin(a: &VectorArgs) -> Result<Vec<String>, Error> {
    if !a.words.is_empty() {
        return Ok(a.words.clone());
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("reading words from standard input (end with Ctrl-D)");
    }
    Ok(cpp_words(&read_stdin()?).map(str::to_string).collect())
}

/// `vector --sentences`: fastText's `print-sentence-vectors`, a vector per line of standard
/// input (see [`crate::fasttext::sentence_vector`]), the words looked up as `vector` looks
/// them up (a fastText `.bin`: from their n-grams too).
fn sentence_vectors(a: &VectorArgs) -> anyhow::Result<()> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("reading lines from standard input (end with Ctrl-D)");
    }
    if crate::fasttext::is_fasttext_bin(&a.vectors) {
        let m = crate::fasttext::FastTextModel::read(&a.vectors)?;
        if m.args.model == crate::classifier::SUPERVISED {
            // A classifier's sentence vector (fastText's getSentenceVector of a supervised
            // model): the mean of the line's input rows, `</s>` and word n-grams included.
            let c = crate::classifier::Classifier::from_model(m, &a.vectors)?;
            let text = read_stdin()?;
            let mut f = crate::classifier::Features::default();
            for (line, eos) in crate::classifier::lines(text.as_bytes()) {
                c.features(line, eos, &mut f);
                let v = c.sentence_vector(&f.rows);
                outln!("{}", vector_line(None, &v, a.fasttext_format));
            }
            return Ok(());
        }
    }
    // Every line's words in one list (the file is read once for all), and each line's count.
    let mut words = Vec::new();
    let mut counts = Vec::new();
    for l in read_stdin()?.lines() {
        let before = words.len();
        words.extend(cpp_words(l).map(str::to_string));
        counts.push(words.len() - before);
    }
    let (dim, vectors) = raw_vectors(&a.vectors, &words, true)?;
    let mut next = vectors.iter();
    for n in counts {
        let v = crate::fasttext::sentence_vector(dim, next.by_ref().take(n).map(Vec::as_slice));
        outln!("{}", vector_line(None, &v, a.fasttext_format));
    }
    Ok(())
}

/// `vector --ngrams`: fastText's `print-ngrams`, for each word its own row (if in the
/// vocabulary) and its n-grams' bucket rows.
fn ngram_vectors(a: &VectorArgs) -> anyhow::Result<()> {
    if !crate::fasttext::is_fasttext_bin(&a.vectors) {
        return Err(Error::usage(
            "--ngrams",
            format!(
                "{} is not a fastText .bin model: a word2vec vectors file has no n-grams (train with --subwords --fasttext-bin MODEL.bin, or give a fastText .bin)",
                a.vectors.display()
            ),
        )
        .into());
    }
    let m = crate::fasttext::FastTextModel::read(&a.vectors)?;
    let words = words_or_stdin(a)?;
    let ids = m.ids();
    for w in &words {
        for (g, v) in m.ngram_vectors(w, ids.get(w.as_str()).copied()) {
            outln!("{}", vector_line(Some(&g), &v, a.fasttext_format));
        }
    }
    Ok(())
}

/// The raw (not normalised) vectors of `words` for `vector`, the file read once: from a
/// subword model a word's own and n-gram rows (fastText's lookup: exact spelling), from a
/// vectors file its row (exact spelling, then case-insensitively); a word with neither is
/// an error, or zeros with `zero_unknown`. Also returns the file's dimension.
fn raw_vectors(
    path: &std::path::Path,
    words: &[String],
    zero_unknown: bool,
) -> crate::Result<(usize, Vec<Vec<f32>>)> {
    let (dim, found) = word_vectors(path, words)?;
    let vectors = found
        .into_iter()
        .zip(words)
        .map(|(v, w)| match v {
            Some(v) => Ok(v),
            None if zero_unknown => Ok(vec![0.0; dim]),
            None => Err(not_found(w, path)),
        })
        .collect::<crate::Result<_>>()?;
    Ok((dim, vectors))
}

/// The raw vector of each word, where it has one: a vectors file's row (the exact spelling,
/// else a case-insensitive match, as `similar` looks words up), or a fastText `.bin`'s
/// vector (from n-grams for words it never saw).
fn word_vectors(
    path: &std::path::Path,
    words: &[String],
) -> crate::Result<(usize, Vec<Option<Vec<f32>>>)> {
    if crate::fasttext::is_fasttext_bin(path) {
        let m = crate::fasttext::FastTextModel::read(path)?;
        let ids = m.ids();
        let vectors = words
            .iter()
            .map(|w| m.vector(w, ids.get(w.as_str()).copied()))
            .collect();
        return Ok((m.dim, vectors));
    }
    let emb = crate::io::read_vectors(path, None)?;
    let space = Space::new(&emb, true);
    let vectors = words
        .iter()
        .map(|w| space.lookup(w).map(|i| emb.row(i as usize).to_vec()))
        .collect();
    Ok((emb.dim, vectors))
}

/// `similarity`: gensim's `similarity(w1, w2)`, or `n_similarity(WORDS, --to)`.
fn similarity_command(a: &SimilarityArgs) -> anyhow::Result<()> {
    if a.to.is_empty() && a.words.len() != 2 {
        let why = format!(
            "got {} words; give two (similarity man woman), or a set and --to another set",
            a.words.len()
        );
        return Err(Error::usage("WORDS", why).into());
    }
    let (first, second) = if a.to.is_empty() {
        (&a.words[..1], &a.words[1..])
    } else {
        (&a.words[..], &a.to[..])
    };
    let s = if a.to.is_empty() {
        let (_, v) = raw_vectors(&a.vectors, &a.words, false)?;
        crate::eval::n_similarity(&v[..1], &v[1..])
    } else {
        // n_similarity leaves out words without a vector, as gensim's mean does. One read
        // of the file for both sets.
        let (_, mut found) = word_vectors(&a.vectors, &[first, second].concat())?;
        let found_b = found.split_off(first.len());
        let (_, va) = known_vectors(&a.vectors, first, found, "WORDS")?;
        let (_, vb) = known_vectors(&a.vectors, second, found_b, "--to")?;
        crate::eval::n_similarity(&va, &vb)
    };
    let s = s.expect("both sets hold a vector");
    if a.json {
        outln!(
            "{}",
            serde_json::json!({"words": first, "to": second, "similarity": s})
        );
    } else {
        outln!("{s}");
    }
    Ok(())
}

/// The words of `words` that have a vector in `found` (theirs, from [`word_vectors`] on
/// `path`), with their vectors; the others are named on stderr. None at all: an error
/// naming `flag`'s words and the file.
fn known_vectors(
    path: &std::path::Path,
    words: &[String],
    found: Vec<Option<Vec<f32>>>,
    flag: &str,
) -> crate::Result<(Vec<String>, Vec<Vec<f32>>)> {
    let (mut known, mut vectors, mut missing) = (Vec::new(), Vec::new(), Vec::new());
    for (w, v) in words.iter().zip(found) {
        match v {
            Some(v) => {
                known.push(w.clone());
                vectors.push(v);
            }
            None => missing.push(w.as_str()),
        }
    }
    if known.is_empty() {
        let why = format!("none of {} is in {}", words.join(" "), path.display());
        return Err(Error::usage(flag, why));
    }
    if !missing.is_empty() {
        eprintln!(
            "w2v-gpu: left out, not in {}: {}",
            path.display(),
            missing.join(" ")
        );
    }
    Ok((known, vectors))
}

/// `doesnt-match`: gensim's `doesnt_match`, or with `--rank` its `rank_by_centrality`.
fn doesnt_match_command(a: &DoesntMatchArgs) -> anyhow::Result<()> {
    let (_, found) = word_vectors(&a.vectors, &a.words)?;
    let (words, vectors) = known_vectors(&a.vectors, &a.words, found, "WORDS")?;
    let ranked = crate::eval::rank_by_centrality(&words, &vectors);
    let odd = &ranked.last().expect("at least one word").0;
    match (a.json, a.rank) {
        (true, true) => outln!("{}", pairs_json(&ranked)),
        (true, false) => outln!("{}", serde_json::json!({ "doesnt_match": odd })),
        (false, true) => {
            for (w, s) in &ranked {
                outln!("  {s:.4}  {w}");
            }
        }
        (false, false) => outln!("{odd}"),
    }
    Ok(())
}

fn pairs_json(r: &[(String, f32)]) -> serde_json::Value {
    serde_json::Value::Array(
        r.iter()
            .map(|(w, s)| serde_json::json!({"word": w, "score": s}))
            .collect(),
    )
}

fn eval_command(a: &EvalArgs) -> anyhow::Result<()> {
    if a.analogies.is_empty() && a.similarity.is_empty() {
        return Err(Error::usage(
            "--analogies/--similarity",
            "give at least one evaluation file",
        )
        .into());
    }
    let t = std::time::Instant::now();
    let ci = !a.case_sensitive;
    // A subword model (a fastText .bin) is read once: the vocabulary's space here, the
    // n-gram vectors of unseen words below.
    let model = if crate::fasttext::is_fasttext_bin(&a.vectors) {
        Some(crate::fasttext::FastTextModel::read(&a.vectors)?)
    } else {
        None
    };
    let space = match &model {
        Some(m) => space_from_model(m, a.limit, ci, &[]),
        None => load_space(&a.vectors, a.limit, ci)?,
    };
    let load_s = t.elapsed().as_secs_f64();
    // One line (or JSON object) per similarity result; `how` names the variant.
    let similarity = |r: &crate::eval::SimilarityScore, how: &str| -> anyhow::Result<_> {
        if !a.json {
            outln!(
                "similarity {}{how}: spearman {:.4}, pearson {:.4} ({} pairs, {} OOV)",
                r.file,
                r.spearman,
                r.pearson,
                r.pairs,
                r.oov
            );
        }
        Ok(serde_json::json!({
            "file": r.file, "spearman": r.spearman, "pearson": r.pearson, "pairs": r.pairs, "oov": r.oov
        }))
    };
    let mut out_an = Vec::new();
    let mut out_sim = Vec::new();
    for f in &a.analogies {
        let r = evaluate_analogies(&space, f, a.restrict)?;
        if !a.json {
            outln!(
                "analogies {}: {:.2}% ({}/{}), {} questions skipped (OOV)",
                r.file,
                100.0 * r.total.accuracy(),
                r.total.correct,
                r.total.total,
                r.total.oov
            );
            for s in &r.sections {
                outln!(
                    "  {:<32} {:6.2}% ({}/{}, {} OOV)",
                    s.name,
                    100.0 * s.accuracy(),
                    s.correct,
                    s.total,
                    s.oov
                );
            }
        }
        out_an.push(serde_json::json!({
            "file": r.file,
            "accuracy": r.total.accuracy(),
            "correct": r.total.correct,
            "total": r.total.total,
            "oov": r.total.oov,
            "sections": r.sections.iter().map(|s| serde_json::json!({
                "name": s.name, "accuracy": s.accuracy(), "correct": s.correct, "total": s.total, "oov": s.oov
            })).collect::<Vec<_>>(),
        }));
    }
    for f in &a.similarity {
        let r = evaluate_similarity(&space, f, 300_000)?;
        out_sim.push(similarity(&r, "")?);
    }
    // A subword model also covers the pairs' unseen words, from their n-grams.
    let mut out_sub = Vec::new();
    if let (Some(m), false) = (&model, a.similarity.is_empty()) {
        let mut words = Vec::new();
        for f in &a.similarity {
            let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
            words.extend(
                text.split_whitespace()
                    .filter(|t| t.parse::<f64>().is_err())
                    .map(str::to_string),
            );
        }
        words.sort();
        words.dedup();
        let space = space_from_model(m, a.limit, ci, &words);
        for f in &a.similarity {
            let r = evaluate_similarity(&space, f, usize::MAX)?;
            out_sub.push(similarity(&r, " with n-gram vectors for unseen words")?);
        }
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "vectors": a.vectors.display().to_string(),
                "words": space.len(),
                "dim": space.dim,
                "restrict": a.restrict,
                "similarity_with_subwords": out_sub,
                "analogies": out_an,
                "similarity": out_sim,
                "load_seconds": load_s,
                "seconds": t.elapsed().as_secs_f64(),
            })
        );
    }
    Ok(())
}

fn devices_command(json: bool) -> anyhow::Result<()> {
    let adapters = crate::backend::gpu::context::enumerate(BackendKind::Auto);
    let mut rows = Vec::new();
    let mut per_backend: std::collections::HashMap<wgpu::Backend, usize> = Default::default();
    for a in &adapters {
        let i = a.get_info();
        let l = a.limits();
        let f = a.features();
        let idx = per_backend.entry(i.backend).or_insert(0);
        let row = serde_json::json!({
            "backend": format!("{:?}", i.backend).to_lowercase(),
            "index": *idx,
            "name": i.name,
            "type": format!("{:?}", i.device_type),
            "driver": format!("{} {}", i.driver, i.driver_info).trim().to_string(),
            "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
            "max_buffer_size": l.max_buffer_size,
            "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
            "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
            "subgroup_size": [i.subgroup_min_size, i.subgroup_max_size],
            "subgroup_ops": f.contains(wgpu::Features::SUBGROUP),
            "shader_f16": f.contains(wgpu::Features::SHADER_F16),
            "timestamp_query": f.contains(wgpu::Features::TIMESTAMP_QUERY),
            "float32_atomics": f.contains(wgpu::Features::SHADER_FLOAT32_ATOMIC),
            "atomics": crate::backend::gpu::shaders::Atomics::best_for(f).name(),
        });
        *idx += 1;
        rows.push(row);
    }
    if json {
        outln!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if rows.is_empty() {
        outln!("no GPU adapter found; `--backend cpu` trains on the CPU");
    }
    let adapters = rows.len();
    for r in rows {
        outln!(
            "{} #{}: {} ({}), driver {}\n    storage binding {} MiB, buffer {} MiB, {} storage buffers/stage, workgroup memory {} KiB, {}, f16 {}, timestamps {}\n    training kernel atomics: {} (float32 atomic add {})",
            r["backend"].as_str().unwrap_or(""),
            r["index"],
            r["name"].as_str().unwrap_or(""),
            r["type"].as_str().unwrap_or(""),
            r["driver"].as_str().unwrap_or(""),
            r["max_storage_buffer_binding_size"].as_u64().unwrap_or(0) >> 20,
            r["max_buffer_size"].as_u64().unwrap_or(0) >> 20,
            r["max_storage_buffers_per_shader_stage"],
            r["max_compute_workgroup_storage_size"].as_u64().unwrap_or(0) >> 10,
            subgroup_line(&r),
            r["shader_f16"],
            r["timestamp_query"],
            r["atomics"].as_str().unwrap_or(""),
            if r["float32_atomics"].as_bool().unwrap_or(false) {
                "present"
            } else {
                "absent: compare-and-swap loop"
            },
        );
    }
    if adapters > 0 {
        outln!(
            "`w2v-gpu devices --check` checks that each adapter computes the CPU reference's math and adds every update"
        );
    }
    Ok(())
}

/// `devices --check`: the lost-update check ([`crate::backend::gpu::check`]) on every
/// adapter (or the one `--backend`/`--adapter` name), a line per case; an error if a case
/// lost an update or could not run.
fn devices_check(a: &DevicesArgs) -> anyhow::Result<()> {
    use crate::backend::gpu::check;
    use crate::backend::gpu::GpuContext;
    let kind = match a.backend {
        None => BackendKind::Auto,
        Some(BackendArg::Cpu) => {
            return Err(Error::usage(
                "--backend",
                "cpu has no GPU kernels to check; name a GPU API (vulkan, metal, dx12, gl)",
            )
            .into())
        }
        Some(b) => BackendKind::from(b),
    };
    let mut targets = Vec::new();
    let mut per_backend: std::collections::HashMap<wgpu::Backend, usize> = Default::default();
    for adapter in crate::backend::gpu::context::enumerate(kind) {
        let info = adapter.get_info();
        let idx = per_backend.entry(info.backend).or_insert(0);
        let Some(kind) = crate::backend::gpu::context::backend_kind(info.backend) else {
            continue;
        };
        if a.adapter.is_none_or(|want| want == *idx) {
            targets.push((kind, *idx, info.name.clone()));
        }
        *idx += 1;
    }
    if targets.is_empty() {
        return Err(Error::Gpu(format!(
            "devices --check: no GPU adapter{} to check (`w2v-gpu devices` lists them)",
            match (a.backend, a.adapter) {
                (Some(b), Some(i)) => format!(" {i} on --backend {}", BackendKind::from(b).name()),
                (Some(b), None) => format!(" on --backend {}", BackendKind::from(b).name()),
                _ => String::new(),
            }
        ))
        .into());
    }
    let quiet = Reporter::quiet();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (kind, idx, name) in targets {
        let label = format!("{} #{idx}: {name}", kind.name());
        if !a.json {
            outln!("{label}");
        }
        // (An explicit backend opens its adapter or says why not; only `auto` gives None.)
        let ctx = GpuContext::open(kind, Some(idx), &quiet)?
            .ok_or_else(|| Error::Gpu(format!("{label}: could not be opened")))?;
        for case in check::cases(ctx.features) {
            let model = case.model_name();
            let result = check::run(ctx.clone(), case);
            let (what, row, verdict) = match case.probe {
                check::Probe::Math => ("math", "element", "DIFFERENT MATH"),
                _ => ("adds", "row", "LOST OR WRONG ADDS"),
            };
            let (kernel, outcome, error) = match result {
                Ok(o) => (o.kernel.clone(), Some(o), None),
                Err(e) => (format!("{:?}", case.layer), None, Some(e.to_string())),
            };
            if let Some(o) = &outcome {
                for &(matrix, off, largest) in &o.matrices {
                    let pass = off <= o.bound;
                    rows.push(serde_json::json!({
                        "backend": kind.name(), "adapter": idx, "name": name,
                        "kernel": kernel, "model": model, "check": what, "matrix": matrix,
                        "off": off, "unit": o.unit, "bound": o.bound,
                        "largest_change": largest, "pass": pass,
                    }));
                    if !a.json {
                        outln!(
                            "  {kernel}, {model}, {what} of {matrix}: worst {row} {off:.3} {} off the CPU reference (largest change {largest:.0}){}",
                            o.unit,
                            if pass { String::new() } else { format!("  {verdict}") }
                        );
                    }
                    if !pass {
                        failed.push(format!(
                            "{label}: {kernel}, {model}, {what} of {matrix}: {off:.2} {} off (at most {})",
                            o.unit, o.bound
                        ));
                    }
                }
            }
            if let Some(e) = error {
                rows.push(serde_json::json!({
                    "backend": kind.name(), "adapter": idx, "name": name,
                    "kernel": kernel, "model": model, "error": e, "pass": false,
                }));
                if !a.json {
                    outln!("  {kernel}, {model}: did not run: {e}");
                }
                failed.push(format!("{label}: {kernel}, {model}: {e}"));
            }
        }
    }
    let checks = rows.len();
    let worst = |unit: &str| {
        rows.iter()
            .filter(|r| r["unit"] == unit)
            .filter_map(|r| r["off"].as_f64())
            .fold(0.0, f64::max)
    };
    let (worst_math, worst_adds) = (worst("tolerances"), worst("updates"));
    if a.json {
        outln!("{}", serde_json::Value::Array(rows));
    }
    if !failed.is_empty() {
        return Err(Error::Gpu(format!(
            "devices --check: {} of {checks} checks failed (other math than the CPU reference's, an update lost, or a case that could not run); do not train with those kernels on that adapter (--gpu-kernel, --gpu-atomics, --gpu-reduce choose others):\n  {}",
            failed.len(),
            failed.join("\n  ")
        ))
        .into());
    }
    if !a.json {
        outln!(
            "all {checks} checks pass: the same math as the CPU reference (worst element {worst_math:.3} of the tolerance), no update lost (worst row {worst_adds:.3} updates off, at most {} allowed)",
            check::BOUND
        );
    }
    Ok(())
}

/// The `devices` line's subgroup part: the sizes the adapter reports, and whether the
/// kernels can use subgroup operations (`--gpu-reduce subgroup`) there.
fn subgroup_line(r: &serde_json::Value) -> String {
    let size = |k: usize| r["subgroup_size"][k].as_u64().unwrap_or(0);
    let sizes = match (size(0), size(1)) {
        (a, b) if a == b => format!("subgroups of {a}"),
        (a, b) => format!("subgroups of {a}-{b}"),
    };
    if r["subgroup_ops"].as_bool().unwrap_or(false) {
        format!("{sizes} (subgroup sums)")
    } else {
        format!("{sizes} (no subgroup operations: serial sums)")
    }
}

fn bench_command(a: &BenchArgs) -> anyhow::Result<()> {
    let base = TrainConfig {
        input: a
            .input
            .clone()
            .unwrap_or_else(|| PathBuf::from("synthetic")),
        output: PathBuf::from("unused"),
        model: match a.model {
            ModelArg::Skipgram => ModelKind::SkipGram,
            ModelArg::Cbow => ModelKind::Cbow,
        },
        dim: a.dim,
        window: a.window,
        negative: a.negative,
        sample: a.sample,
        epochs: 1,
        threads: a.threads.unwrap_or(TrainConfig::default().threads),
        gpu_batch: a.gpu_batch,
        count_pairs: true,
        min_count: a.min_count,
        optimizer: a.optimizer.into(),
        batch_size: a.batch_size,
        ..TrainConfig::default()
    };
    if a.compare_dense && base.optimizer == crate::optim::OptimizerKind::Sgd {
        return Err(Error::usage(
            "--compare-dense",
            "needs --optimizer adagrad, adam or rmsprop",
        )
        .into());
    }
    base.validate()?;
    let corpus = match &a.input {
        Some(p) => crate::corpus::load(p, base.min_count, None, None)?,
        None => {
            if a.words == 0 || a.vocab == 0 {
                return Err(Error::usage("--words/--vocab", "must be at least 1").into());
            }
            crate::corpus::synthetic_zipf(a.vocab, a.words, 7)
        }
    };
    let kinds: Vec<BackendKind> = match a.backend {
        BenchBackendArg::All => {
            let mut k = vec![BackendKind::Cpu];
            for g in [
                BackendKind::Vulkan,
                BackendKind::Metal,
                BackendKind::Dx12,
                BackendKind::Gl,
            ] {
                if !crate::backend::gpu::context::enumerate(g).is_empty() {
                    k.push(g);
                }
            }
            k
        }
        BenchBackendArg::Vulkan => vec![BackendKind::Vulkan],
        BenchBackendArg::Metal => vec![BackendKind::Metal],
        BenchBackendArg::Dx12 => vec![BackendKind::Dx12],
        BenchBackendArg::Gl => vec![BackendKind::Gl],
        BenchBackendArg::Cpu => vec![BackendKind::Cpu],
    };
    // Progress and warnings on stderr (a bench of every engine can take minutes).
    let reporter = Reporter::new(false);
    let mut rows = Vec::new();
    // With --compare-dense each engine's lazy run is followed by its dense one.
    let runs: Vec<(BackendKind, bool)> = kinds
        .iter()
        .flat_map(|&k| [(k, false), (k, true)])
        .filter(|&(_, dense)| a.compare_dense || !dense)
        .collect();
    let mut lazy_rate = None;
    for (kind, dense) in runs {
        eprintln!(
            "bench: {}{} on {} words...",
            kind.name(),
            if dense { " (dense updates)" } else { "" },
            corpus.words()
        );
        let engine = match kind {
            BackendKind::Cpu => None,
            k => crate::backend::gpu::GpuContext::open(k, None, &reporter)?,
        };
        let cfg = TrainConfig {
            backend: kind,
            dense_optimizer: dense,
            ..base.clone()
        };
        let (_, r) = crate::train::train_corpus(&corpus, engine, &cfg, &reporter)?;
        let row = serde_json::json!({
            "backend": r.backend,
            "adapter": r.adapter.clone().unwrap_or_else(|| format!("{} CPU threads", r.threads)),
            "model": cfg.model.name(),
            "dim": cfg.dim,
            "words": r.words,
            "seconds": r.train_seconds,
            "words_per_second": r.words_per_second,
            "pair_updates_per_second": r.pairs.map(|p| p as f64 / r.train_seconds.max(1e-9)),
            "upload_bytes_per_word": r.upload_bytes_per_word,
            "kernel_seconds": r.kernel_seconds,
            "gpu_busy_fraction": r.kernel_seconds.map(|k| k / r.train_seconds.max(1e-9)),
            "final_loss": r.final_loss,
            "optimizer": r.optimizer,
            "dense": dense,
            "lazy_speedup": if dense { lazy_rate.map(|l: f64| l / r.words_per_second.max(1e-9)) } else { None },
        });
        if !dense {
            lazy_rate = Some(r.words_per_second);
        }
        if !a.json {
            if dense {
                outln!(
                    "{}, dense {} updates: {:.0} words/s; lazy is {:.1}x faster",
                    kind.name(),
                    r.optimizer,
                    r.words_per_second,
                    row["lazy_speedup"].as_f64().unwrap_or(f64::NAN)
                );
                rows.push(row);
                continue;
            }
            outln!(
                "{:<8} {:>12.0} words/s {:>12.0} pairs/s  upload {:>5} B/word  busy {:>6}  loss {:.4}  ({})",
                row["backend"].as_str().unwrap_or(""),
                r.words_per_second,
                row["pair_updates_per_second"].as_f64().unwrap_or(f64::NAN),
                r.upload_bytes_per_word.map_or("-".into(), |b| format!("{b:.2}")),
                row["gpu_busy_fraction"].as_f64().map_or("-".into(), |b| format!("{:.1}%", 100.0 * b)),
                r.final_loss.unwrap_or(f64::NAN),
                row["adapter"].as_str().unwrap_or("")
            );
        }
        rows.push(row);
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "corpus": a.input.as_ref().map_or_else(|| format!("synthetic zipf, {} words, vocabulary {}", a.words, a.vocab), |p| p.display().to_string()),
                "corpus_words": corpus.words(),
                "results": rows,
            })
        );
    }
    Ok(())
}

/// The most words `map --method tsne` plots exactly (1,000 iterations over every pair).
const MAX_EXACT_TSNE_WORDS: usize = 5000;
/// The most words Barnes-Hut t-SNE plots (its neighbour search compares every pair once:
/// 219,425 words took 10.5 minutes on 2 cores).
const MAX_TSNE_WORDS: usize = 250_000;
/// `--tsne-method auto` is exact up to this many words.
const AUTO_EXACT_TSNE_WORDS: usize = 1000;

fn map_command(a: &MapArgs) -> anyhow::Result<()> {
    if a.output.is_none() && a.projector.is_none() {
        return Err(Error::usage(
            "--output/--projector",
            "give an image (.svg or .png), a projector directory, or both",
        )
        .into());
    }
    let ext = a
        .output
        .as_ref()
        .and_then(|o| o.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let png = match (&a.output, ext.as_deref()) {
        (None, _) | (Some(_), Some("svg")) => false,
        (Some(_), Some("png")) => true,
        (Some(o), _) => {
            return Err(Error::usage(
                "--output",
                format!("{} must end in .svg or .png", o.display()),
            )
            .into())
        }
    };
    if let Some(o) = &a.output {
        crate::files::refuse_overwriting_input("--output", o, &[("--vectors", &a.vectors)])?;
    }
    let emb = crate::io::read_any_vectors(&a.vectors, a.limit)?;
    let mut rows = crate::map::select(&emb, a.words.as_deref(), a.top + a.skip)?;
    if a.words.is_none() {
        rows.drain(..a.skip.min(rows.len()));
    }
    if rows.len() < 2 {
        return Err(Error::usage("--words/--top", "plot at least 2 words").into());
    }
    if a.method == ProjectionArg::Tsne && !(a.perplexity.is_finite() && a.perplexity >= 1.0) {
        return Err(Error::usage(
            "--perplexity",
            format!("{} must be at least 1 (typical 5-50)", a.perplexity),
        )
        .into());
    }
    let tsne = match a.tsne_method {
        TsneMethodArg::Exact => crate::map::TsneMethod::Exact,
        TsneMethodArg::BarnesHut => crate::map::TsneMethod::BarnesHut,
        TsneMethodArg::Auto if rows.len() <= AUTO_EXACT_TSNE_WORDS => crate::map::TsneMethod::Exact,
        TsneMethodArg::Auto => crate::map::TsneMethod::BarnesHut,
    };
    let most = match tsne {
        crate::map::TsneMethod::Exact => MAX_EXACT_TSNE_WORDS,
        crate::map::TsneMethod::BarnesHut => MAX_TSNE_WORDS,
    };
    if a.method == ProjectionArg::Tsne && rows.len() > most {
        let what = match tsne {
            crate::map::TsneMethod::Exact => format!("exact t-SNE (every pair of words, each of 1,000 iterations) plots at most {MAX_EXACT_TSNE_WORDS}; use --tsne-method barnes-hut (up to {MAX_TSNE_WORDS})"),
            crate::map::TsneMethod::BarnesHut => format!("Barnes-Hut t-SNE (its neighbour search compares every pair of words: 100,000 words take about 3 minutes on 2 cores, 219,425 about 10) plots at most {MAX_TSNE_WORDS}"),
        };
        return Err(Error::usage(
            "--method",
            format!(
                "{} words would take too long: {what}, or use --method pca or --projector DIR (projector.tensorflow.org runs t-SNE itself)",
                rows.len()
            ),
        )
        .into());
    }
    if let Some(o) = &a.output {
        let (pts, captions, what) = match a.method {
            ProjectionArg::Pca => {
                let (pts, explained) = crate::map::pca_2d_explained(&emb, &rows);
                (
                    pts,
                    crate::map::pca_captions(explained),
                    "PCA of unit vectors".to_string(),
                )
            }
            ProjectionArg::Tsne => {
                let (pts, kl) = crate::map::tsne_2d(&emb, &rows, a.perplexity, tsne);
                let p = a.perplexity.min((rows.len() - 1) as f64 / 3.0);
                let how = match tsne {
                    crate::map::TsneMethod::Exact => "exact",
                    crate::map::TsneMethod::BarnesHut => "Barnes-Hut",
                };
                (
                    pts,
                    ["t-SNE 1".to_string(), "t-SNE 2".to_string()],
                    format!("t-SNE ({how}, perplexity {p:.0}, KL {kl:.3})"),
                )
            }
        };
        let labels: Vec<&str> = rows.iter().map(|&r| emb.words[r].as_str()).collect();
        let title = format!("{} - {} words, {what}", a.vectors.display(), rows.len());
        if png {
            crate::map::write_png(o, &title, &labels, &pts, &captions)?;
        } else {
            crate::map::write_svg(o, &title, &labels, &pts, &captions)?;
        }
        outln!("wrote {}", o.display());
    }
    if let Some(d) = &a.projector {
        crate::map::write_projector(d, &emb, &rows)?;
        outln!("wrote {}/vectors.tsv and metadata.tsv", d.display());
    }
    Ok(())
}

#[cfg(test)]
mod help_tests {
    use super::Cli;
    use clap::CommandFactory;

    /// C++'s `%g` (as `std::cout << x` with `setprecision(p)` prints a float): fixed form
    /// from 1e-4 below 10^p, else an exponent of at least two digits; no trailing zeros.
    #[test]
    fn general_format_is_cpp_g() {
        let g = |x: f32, d| super::general_format(x as f64, d);
        assert_eq!(g(0.040518727, 5), "0.040519");
        assert_eq!(g(-0.12895703, 5), "-0.12896");
        assert_eq!(g(0.0086928625, 5), "0.0086929");
        assert_eq!(g(1.2345678e-5, 5), "1.2346e-05");
        assert_eq!(g(1e-4, 5), "0.0001");
        assert_eq!(g(12345.0, 5), "12345");
        assert_eq!(g(123456.0, 5), "1.2346e+05");
        assert_eq!(g(99999.5, 5), "1e+05");
        assert_eq!(g(0.5, 6), "0.5");
        assert_eq!(g(0.99648243, 6), "0.996482");
        assert_eq!(g(-0.0, 5), "-0");
        assert_eq!(g(0.0, 6), "0");
    }

    /// Every flag and argument a user sees in `--help` says what it does.
    #[test]
    fn every_visible_argument_has_a_description() {
        let cmd = Cli::command();
        let mut missing = Vec::new();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                if arg.is_hide_set() || ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{} {}", sub.get_name(), arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}
