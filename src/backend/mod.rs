//! Training engines. A [`Backend`] applies batches to a model it holds (on the device for
//! the GPU); the CPU Hogwild trainer drives its threads itself (see [`cpu`]).

pub mod cpu;
pub mod cpu_sparse;
pub mod gpu;

use crate::batch::Batch;
use crate::config::ModelKind;
use crate::error::Result;
use crate::minibatch::Minibatch;
use crate::model::Model;
use crate::optim::OptimState;

/// The positions of a step of `n` in the order the window-per-position kernels run them
/// with stride `stride` (`crate::config::Order`; 1: in order): position
/// (k mod ⌈n/S⌉)·S + ⌊k / ⌈n/S⌉⌋ for k = 0, 1, ..., those past `n` left out; every position
/// once. `matrices.wgsl`'s `window_position` computes the same.
pub fn run_order(n: usize, stride: usize) -> impl Iterator<Item = usize> {
    let stride = stride.max(1);
    let per = n.div_ceil(stride);
    (0..per * stride)
        .map(move |k| (k % per) * stride + k / per)
        .filter(move |&p| p < n)
}

/// The positions of a step of `n` in the order the tile kernel runs them: tiles of `tile`
/// consecutive positions (tile u holds positions u·tile ..), in [`run_order`]'s order over
/// the ⌈n/tile⌉ tiles with stride `stride` (`crate::config::Order::tile_stride`), each
/// tile's positions in order; with the rank of each position's tile in that order. Tiles
/// of one position are [`run_order`]. `tile.wgsl` picks its tile the same way (`strided_index`).
pub fn tile_order(n: usize, tile: usize, stride: usize) -> impl Iterator<Item = (usize, usize)> {
    let tile = tile.max(1);
    run_order(n.div_ceil(tile), stride)
        .enumerate()
        .flat_map(move |(k, u)| (u * tile..((u + 1) * tile).min(n)).map(move |p| (k, p)))
}

/// The shape of the update a kernel performs, and how the GPU stores the matrices it
/// updates (the CPU engines compute and store in f32 whatever `precision` says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelParams {
    pub model: ModelKind,
    pub dim: usize,
    pub window: usize,
    pub negative: usize,
    pub precision: crate::config::Precision,
}

impl KernelParams {
    /// The shape a run's configuration asks for.
    pub fn of(cfg: &crate::config::TrainConfig) -> KernelParams {
        KernelParams {
            precision: cfg.precision,
            model: cfg.model,
            dim: cfg.dim,
            window: cfg.window,
            negative: cfg.negative,
        }
    }
}

/// Which rows join a bag besides the words' (the subword kernels' bag, `shaders/bag.wgsl`):
/// paragraph vectors' document rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocRows {
    /// Word rows only (word2vec, subwords).
    None,
    /// PV-DBOW: the document's row alone predicts each of its words.
    Dbow,
    /// PV-DM: the context words' rows and the document's row predict each word.
    Dm,
}

impl DocRows {
    /// The value of the kernels' `DOC` constant.
    pub fn code(self) -> u32 {
        match self {
            DocRows::None => 0,
            DocRows::Dbow => 1,
            DocRows::Dm => 2,
        }
    }
}

/// What paragraph vectors train on the GPU (`GpuBackend::with_documents`) and in the
/// kernels' CPU reference (`CpuReference::with_documents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocTraining {
    /// PV-DBOW or PV-DM.
    pub rows: DocRows,
    /// PV-DBOW with skip-gram over the words (`--dbow-words`).
    pub words: bool,
    /// Inference (`infer`): every trained matrix stays fixed; only the document rows learn.
    pub infer: bool,
}

impl DocTraining {
    /// No document rows: the word and subword kernels.
    pub const NONE: DocTraining = DocTraining {
        rows: DocRows::None,
        words: false,
        infer: false,
    };

    /// Training `rows` (with the words' skip-gram when `words`).
    pub fn train(rows: DocRows, words: bool) -> DocTraining {
        DocTraining {
            rows,
            words,
            infer: false,
        }
    }
}

/// Sum of loss terms and their count over some steps.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct StepLoss {
    pub sum: f64,
    pub terms: u64,
}

impl StepLoss {
    pub fn add(&mut self, loss: f64) {
        self.sum += loss;
        self.terms += 1;
    }

    pub fn mean(&self) -> Option<f64> {
        (self.terms > 0).then(|| self.sum / self.terms as f64)
    }
}

/// The learning rate across one step: linear from `start` at the first position of the
/// batch to `end` after its last, so a step of a million words follows word2vec's linear
/// decay position by position instead of in one stair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub start: f32,
    pub end: f32,
}

impl Rate {
    /// The same rate for every position.
    pub fn constant(alpha: f32) -> Rate {
        Rate {
            start: alpha,
            end: alpha,
        }
    }

    /// The rate at position `pos` of a batch of `n` positions; the kernels compute the
    /// same expression in f32.
    pub fn at(&self, pos: usize, n: usize) -> f32 {
        self.start + (self.end - self.start) * (pos as f32 / n.max(1) as f32)
    }
}

/// A matrix a distributed run's syncs read and change through [`SyncRows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    /// Word rows, then (with subwords) the bucket rows.
    Input,
    Output,
    /// The hierarchical-softmax matrix (`--hs`), `V − 1` rows.
    Tree,
}

impl Matrix {
    /// Matrix `k` of [`Model::matrices`] (0 input, 1 output, 2 the tree's; 3, the subword
    /// buckets, are the input's rows past the vocabulary here).
    pub fn of(k: usize) -> Matrix {
        match k {
            1 => Matrix::Output,
            2 => Matrix::Tree,
            _ => Matrix::Input,
        }
    }
}

/// Row access for a distributed run's syncs (`train::engine_sync`): an engine that holds
/// its model where the sync cannot reach it directly (the GPU's device memory, a minibatch
/// engine's own matrices) reads and changes row ranges through these. An engine without
/// them refuses with an error.
pub trait SyncRows {
    /// Replaces rows `lo..` of a matrix with `rows` (applied before the next step).
    fn write_rows(&mut self, m: Matrix, lo: usize, rows: &[f32]) -> Result<()> {
        let _ = (m, lo, rows);
        Err(no_sync())
    }
    /// Starts copying rows `lo..hi` of matrix `m` as they
    /// stand after every step submitted so far (a distributed run's sync reads them; with
    /// subwords the input rows past the vocabulary are the bucket rows), without waiting:
    /// steps submitted afterwards run meanwhile and do not change what is read.
    /// [`SyncRows::finish_reads`] returns the rows.
    fn begin_read(&mut self, m: Matrix, lo: usize, hi: usize) -> Result<()> {
        let _ = (m, lo, hi);
        Err(no_sync())
    }
    /// The rows of every [`SyncRows::begin_read`] since the last call, in call order (waits
    /// for those copies only, not for later steps).
    fn finish_reads(&mut self) -> Result<Vec<Vec<f32>>> {
        Err(no_sync())
    }
    /// Adds `rows` into rows `lo..` of a matrix, after every step submitted so far and
    /// before the next.
    fn add_rows(&mut self, m: Matrix, lo: usize, rows: &[f32]) -> Result<()> {
        let _ = (m, lo, rows);
        Err(no_sync())
    }
}

/// A model held by an engine, updated one batch at a time.
pub trait Backend: SyncRows {
    /// Applies one batch with learning rate `rate`; `key` seeds the step's random numbers
    /// (window shrink and noise words) as `sampling::rand_at(key, position, lane)`.
    fn step(&mut self, batch: &Batch, rate: Rate, key: u32) -> Result<()>;
    /// Loss accumulated since the last call, where the engine measured it.
    fn take_loss(&mut self) -> Result<Option<StepLoss>>;
    /// Copies both matrices back to the host.
    fn download(&mut self) -> Result<Model>;
    /// What runs the work, for logs and `--json` (`adapter`).
    fn describe(&self) -> String;
    /// Seconds the device spent executing training steps, where it can measure them
    /// (GPU timestamp queries).
    fn device_seconds(&mut self) -> Result<Option<f64>> {
        Ok(None)
    }
    /// Element adds into the two matrices (the sparse scatter-updates: atomic adds with
    /// `--gpu-updates atomic`) issued by all steps so far, where the engine counts them
    /// (the GPU kernels; waits for submitted work).
    fn matrix_adds(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }
    /// The most workgroups of the training kernels seen running at once over all steps so
    /// far, where the engine counts them (the GPU kernels with `W2V_GPU_IN_FLIGHT_PEAK=1`;
    /// waits for submitted work).
    fn workgroups_in_flight_peak(&mut self) -> Result<Option<u32>> {
        Ok(None)
    }
    /// Waits until all submitted work has finished, so that timings include it.
    fn download_barrier(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A minibatch engine trained on a subword model: the engine's input matrix holds the
/// vocabulary's rows and then the bucket rows ([`Model::merged_subwords`]), its input
/// state the same rows; what it hands back has the buckets in `subwords` again.
pub struct SubwordSparse<B> {
    pub inner: B,
    pub vocab: usize,
}

impl<B: SparseBackend> SyncRows for SubwordSparse<B> {
    fn write_rows(&mut self, m: Matrix, lo: usize, rows: &[f32]) -> Result<()> {
        self.inner.write_rows(m, lo, rows)
    }
    fn begin_read(&mut self, m: Matrix, lo: usize, hi: usize) -> Result<()> {
        self.inner.begin_read(m, lo, hi)
    }
    fn finish_reads(&mut self) -> Result<Vec<Vec<f32>>> {
        self.inner.finish_reads()
    }
    fn add_rows(&mut self, m: Matrix, lo: usize, rows: &[f32]) -> Result<()> {
        self.inner.add_rows(m, lo, rows)
    }
}

impl<B: SparseBackend> SparseBackend for SubwordSparse<B> {
    fn step(&mut self, mb: &Minibatch, lr: f32) -> Result<()> {
        self.inner.step(mb, lr)
    }
    fn take_loss(&mut self) -> Result<Option<StepLoss>> {
        self.inner.take_loss()
    }
    fn download(&mut self) -> Result<(Model, OptimState)> {
        let (m, s) = self.inner.download()?;
        Ok((m.split_subwords(self.vocab), s))
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
}

/// A sync asked for the tree's rows of an engine that trains none.
pub(crate) fn no_tree() -> crate::error::Error {
    crate::error::Error::Gpu("this engine trains no hierarchical-softmax matrix to sync".into())
}

fn no_sync() -> crate::error::Error {
    crate::error::Error::Gpu("this engine cannot take rows from a distributed sync".into())
}

/// A model and its optimizer state held by an engine, updated one minibatch at a time by a
/// sparse adaptive optimizer (see [`crate::optim`]).
pub trait SparseBackend: SyncRows {
    /// One optimizer step on the rows `mb` uses, with learning rate `lr`.
    fn step(&mut self, mb: &Minibatch, lr: f32) -> Result<()>;
    /// Loss accumulated since the last call.
    fn take_loss(&mut self) -> Result<Option<StepLoss>>;
    /// Copies the matrices and the optimizer state back to the host.
    fn download(&mut self) -> Result<(Model, OptimState)>;
    /// What runs the work, for logs and `--json` (`adapter`).
    fn describe(&self) -> String;
    /// `cpu`, or the wgpu backend (`vulkan`, `gl`, ...), for `--json` (`backend`).
    fn backend_name(&self) -> &'static str;
}

#[cfg(test)]
mod tests {
    use super::{run_order, tile_order};

    #[test]
    fn run_order_visits_every_position_once() {
        for n in [0, 1, 5, 15, 16, 17, 100, 65_536, 65_541] {
            for stride in [1, 2, 16, 32, 256] {
                let order: Vec<usize> = run_order(n, stride).collect();
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n {n} stride {stride}");
                if stride == 1 {
                    assert_eq!(order, sorted);
                }
            }
        }
        // Stride 4 over 10 positions: ⌈10/4⌉ = 3 per residue class.
        assert_eq!(
            run_order(10, 4).collect::<Vec<_>>(),
            vec![0, 4, 8, 1, 5, 9, 2, 6, 3, 7]
        );
    }

    #[test]
    fn tile_order_visits_every_position_once_tile_by_tile() {
        for n in [0, 1, 7, 8, 9, 100, 4096, 4101] {
            for (tile, stride) in [(1, 16), (4, 4), (8, 4), (8, 1), (16, 2), (5, 3)] {
                let order: Vec<(usize, usize)> = tile_order(n, tile, stride).collect();
                let mut sorted: Vec<usize> = order.iter().map(|&(_, p)| p).collect();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n {n} tile {tile}");
                // Each tile's positions together, in order, under one rank; ranks in turn.
                for w in order.windows(2) {
                    let ((k0, p0), (k1, p1)) = (w[0], w[1]);
                    assert!(k1 == k0 && p1 == p0 + 1 || k1 == k0 + 1 && p1 % tile == 0);
                }
                // The tiles in run_order's order.
                let tiles: Vec<usize> = order
                    .iter()
                    .filter(|&&(_, p)| p % tile == 0)
                    .map(|&(_, p)| p / tile)
                    .collect();
                assert_eq!(
                    tiles,
                    run_order(n.div_ceil(tile), stride).collect::<Vec<_>>()
                );
            }
        }
        // Tiles of one position are run_order.
        let ones: Vec<usize> = tile_order(37, 1, 16).map(|(_, p)| p).collect();
        assert_eq!(ones, run_order(37, 16).collect::<Vec<_>>());
    }
}
