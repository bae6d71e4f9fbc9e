//! Data-parallel training over MPI (`--features mpi`, started by `mpirun`).
//!
//! Each rank trains the Hogwild CPU trainer (or a stepped engine: the GPU SGD engine, a
//! minibatch engine; `train::engine_sync`) on its own part of the corpus ([`split`]: byte
//! ranges cut at sentence or word boundaries, or whole compressed files) with the same
//! vocabulary (each rank counts its part, the counts are merged) and the learning rate of
//! the global word count. The ranks' models are kept close by [`sync`]: frequency tiers of
//! the word matrices ([`tiers`]) averaged while training goes on, full syncs of every
//! changed row (sent as index lists or bitmaps, [`rowset`]) every few periods, at epoch
//! ends, before checkpoints and at the end, after which every rank holds the same model.
//! Rank 0 writes the vectors, the checkpoints and the report.
//!
//! The transport is MPI's (the `mpi` crate over OpenMPI or MPICH); this module sees it
//! through [`Comm`], so the synchronisation is unit-tested in-process as well.

pub mod rowset;
pub mod split;
pub mod sync;
pub mod tiers;

#[cfg(feature = "mpi")]
mod mpi_comm;

#[cfg(test)]
pub(crate) mod local;

use crate::error::{Error, Result};

/// The collectives the distributed trainer uses. Every call is collective: all ranks make
/// the same calls in the same order.
pub trait Comm {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    /// Element-wise sum over the ranks, in place.
    fn sum_f32(&self, buf: &mut [f32]);
    /// Element-wise sum over the ranks, in place.
    fn sum_u64(&self, buf: &mut [u64]);
    /// Every rank's bytes, in rank order.
    fn gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>>;
    /// Ends every rank of the job at once (a rank failed outside a collective agreement).
    fn abort(&self, code: i32) -> !;
}

/// How the ranks' changes to a row are combined (`--sync-average`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Average {
    /// The sum of the changes divided by the number of ranks that changed the row: a row
    /// only one rank trained keeps that rank's whole update, a row all trained gets the
    /// mean.
    Touched,
    /// The plain sum of the changes.
    Sum,
    /// The plain mean over all ranks (model averaging; the default, with the learning
    /// rate scaled by the number of ranks).
    #[default]
    Mean,
}

impl Average {
    pub fn name(self) -> &'static str {
        match self {
            Average::Touched => "touched",
            Average::Sum => "sum",
            Average::Mean => "mean",
        }
    }

    pub fn parse(s: &str) -> Option<Average> {
        [Average::Touched, Average::Sum, Average::Mean]
            .into_iter()
            .find(|a| a.name() == s)
    }

    /// The divisor of the summed changes of a row `touched` of `ranks` ranks changed.
    pub fn divisor(self, touched: f32, ranks: usize) -> f32 {
        match self {
            Average::Touched => touched.max(1.0),
            Average::Sum => 1.0,
            Average::Mean => ranks as f32,
        }
    }
}

/// Settings of a distributed run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DistOptions {
    pub schedule: tiers::Schedule,
    pub average: Average,
    /// Each rank's learning rate is the schedule's times this (`--sync-lr-scale`); `None`:
    /// the number of ranks with [`Average::Mean`] and [`Average::Touched`], 1 with
    /// [`Average::Sum`]. Averaging N ranks' changes, each made at N times the rate, moves a
    /// row as far as the N changes at the plain rate would add up to while the steps are
    /// small, and keeps the mean of the ranks' moves where a row is hot (a plain sum there
    /// overshoots N-fold and diverges; measured in docs/distributed.md).
    pub lr_scale: Option<f32>,
    /// Tier syncs also exchange the input rows beyond the prefix that some rank changed
    /// (sparse, as a full sync does): `Some(true)` `--sync-input-tail`, `Some(false)`
    /// `--no-sync-input-tail`, `None` on up to [`INPUT_TAIL_AUTO_RANKS`] ranks (see
    /// [`DistOptions::input_tail_for`]).
    pub input_tail: Option<bool>,
    /// Every sync of the GPU engine drains the device and writes the agreed rows, instead
    /// of overlapping the exchange with the next step (`--sync-gpu-blocking`).
    pub gpu_blocking: bool,
}

/// Ranks up to which the Hogwild trainer's tier syncs send the changed word vectors beyond
/// the prefix unless told otherwise. Measured on enwiki (4 ranks, 10 seeds): without them
/// analogy is 0.4 points below one process, with them equal, for 2.75× the bytes (140
/// instead of 51 per rank-word at dim 100). The rows they send are the union of the ranks'
/// changed word vectors, which grows with the number of ranks; above 4 ranks that growth is
/// not measured, and at 64 ranks the traffic model (docs/distributed.md) puts it beyond a
/// 25 Gb/s link, so the default stops at 4.
pub const INPUT_TAIL_AUTO_RANKS: usize = 4;

impl DistOptions {
    /// Whether tier syncs send the changed word vectors beyond the prefix on `ranks` ranks.
    pub fn input_tail_for(&self, ranks: usize) -> bool {
        self.input_tail.unwrap_or(ranks <= INPUT_TAIL_AUTO_RANKS)
    }

    /// The learning-rate factor for `ranks` ranks.
    pub fn lr_factor(&self, ranks: usize) -> f32 {
        match (self.lr_scale, self.average) {
            (Some(s), _) => s,
            (None, Average::Sum) => 1.0,
            (None, _) => ranks as f32,
        }
    }
}

/// The learning-rate clock of a rank: the global word count at the last sync plus this
/// rank's words since then times the number of ranks (the plain word count with one).
pub struct Clock {
    ranks: u64,
    base_global: std::sync::atomic::AtomicU64,
    base_local: std::sync::atomic::AtomicU64,
}

impl Clock {
    pub fn new(ranks: usize, global: u64, local: u64) -> Clock {
        Clock {
            ranks: ranks as u64,
            base_global: global.into(),
            base_local: local.into(),
        }
    }

    /// The global word count estimated from this rank's `local` count.
    pub fn global(&self, local: u64) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let (g, l) = (
            self.base_global.load(Relaxed),
            self.base_local.load(Relaxed),
        );
        g + local.saturating_sub(l) * self.ranks
    }

    /// The learning rate when this rank has trained `local` words: `cfg`'s schedule at the
    /// global count, over `total` words of all ranks, times `factor` (`--sync-lr-scale`; 1
    /// for one process). Shared by the Hogwild trainer and the stepped engines.
    pub fn lr(&self, cfg: &crate::config::TrainConfig, local: u64, total: u64, factor: f32) -> f32 {
        cfg.lr_at(self.global(local), total) * factor
    }

    /// At a sync: the global count was `global` when this rank had done `local`.
    pub fn set(&self, global: u64, local: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.base_global.store(global, Relaxed);
        self.base_local.store(local, Relaxed);
    }
}

/// Every rank's checksum of its `model` (a collective), in rank order; an error on every
/// rank if they differ (after a final exact sync they must not).
pub fn identical_models(comm: &dyn Comm, model: &crate::model::Model) -> Result<Vec<u64>> {
    let mut bytes = Vec::new();
    for m in model.matrices() {
        bytes
            .extend_from_slice(&crate::checkpoint::checksum(bytemuck::cast_slice(m)).to_le_bytes());
    }
    let mine = crate::checkpoint::checksum(&bytes);
    let sums: Vec<u64> = comm
        .gather_bytes(&mine.to_le_bytes())
        .iter()
        .map(|b| u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])))
        .collect();
    if sums.iter().any(|&c| c != sums[0]) {
        return Err(Error::Ranks {
            rank: comm.rank(),
            code: 1,
            message: format!(
                "the ranks' models differ after the final sync (checksums {sums:x?}); this is a bug, please report it"
            ),
        });
    }
    Ok(sums)
}

/// Every rank's reader cursors (a collective), rank after rank: what a checkpoint of a
/// distributed run stores.
pub fn gather_cursors(comm: &dyn Comm, mine: &[crate::batch::Cursor]) -> Vec<crate::batch::Cursor> {
    let json =
        serde_json::Value::from(mine.iter().map(|c| c.to_json()).collect::<Vec<_>>()).to_string();
    comm.gather_bytes(json.as_bytes())
        .iter()
        .flat_map(|b| {
            serde_json::from_slice::<serde_json::Value>(b)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
        })
        .map(|v| crate::batch::Cursor::from_json(&v).unwrap_or_default())
        .collect()
}

/// The job this process belongs to, when it was started by `mpirun` (`None` otherwise, and
/// always without `--features mpi`). Initialises MPI on the first call.
pub fn world() -> Option<&'static dyn Comm> {
    #[cfg(feature = "mpi")]
    {
        mpi_comm::world()
    }
    #[cfg(not(feature = "mpi"))]
    {
        None
    }
}

/// The job, if [`world`] initialised MPI already (never initialises it).
pub fn initialized() -> Option<&'static dyn Comm> {
    #[cfg(feature = "mpi")]
    {
        mpi_comm::initialized()
    }
    #[cfg(not(feature = "mpi"))]
    {
        None
    }
}

/// Finalises MPI where [`world`] initialised it (call once, before the process exits).
pub fn finalize() {
    #[cfg(feature = "mpi")]
    mpi_comm::finalize();
}

/// The number of ranks the MPI launcher started (OpenMPI's and MPICH's variables), if this
/// process is one of them.
pub fn launcher_ranks() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
}

/// Whether this process looks like an MPI rank (set by OpenMPI's and MPICH's launchers)
/// in a binary built without MPI: it would otherwise train the whole corpus N times.
pub fn launched_by_mpirun() -> bool {
    [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_SIZE",
        "PMIX_RANK",
        "MPI_LOCALNRANKS",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
}

/// An error every rank agreed on (one of them failed; all stop with its message).
pub fn peer_error(rank: usize, code: i32, message: &str) -> Error {
    Error::Ranks {
        rank,
        code,
        message: message.to_string(),
    }
}

/// Turns each rank's local outcome into one outcome all ranks share: `Ok` when every rank
/// succeeded, else on every rank the first failing rank's error (its message and exit
/// code). A rank that fails before a collective must call this instead of leaving, or the
/// others would wait for it forever.
pub fn agree<T>(comm: &dyn Comm, local: Result<T>) -> Result<T> {
    let mine = match &local {
        Ok(_) => Vec::new(),
        Err(e) => {
            let mut b = e.exit_code().to_le_bytes().to_vec();
            let msg = match e {
                Error::Ranks { message, .. } => message.clone(),
                e => e.to_string(),
            };
            b.extend_from_slice(msg.as_bytes());
            b
        }
    };
    let all = comm.gather_bytes(&mine);
    if let Some((rank, b)) = all.iter().enumerate().find(|(_, b)| b.len() >= 4) {
        let code = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let message = String::from_utf8_lossy(&b[4..]).into_owned();
        return Err(peer_error(rank, code, &message));
    }
    local
}

/// Checks that every rank was started with the same arguments (`mpirun` runs one command,
/// but an MPMD launch or a wrapper script can differ).
pub fn check_same_args(comm: &dyn Comm, args: &[String]) -> Result<()> {
    let mine = args.join("\u{1f}");
    let all = comm.gather_bytes(mine.as_bytes());
    let first = String::from_utf8_lossy(&all[0]).into_owned();
    for (r, b) in all.iter().enumerate().skip(1) {
        if b.as_slice() != first.as_bytes() {
            let theirs = String::from_utf8_lossy(b).replace('\u{1f}', " ");
            return Err(Error::usage(
                "mpirun",
                format!(
                    "rank {r} was started with other arguments than rank 0 (rank 0: `{}`, rank {r}: `{theirs}`); every rank must run the same train command",
                    first.replace('\u{1f}', " ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_divisors() {
        assert_eq!(Average::Touched.divisor(3.0, 4), 3.0);
        assert_eq!(Average::Touched.divisor(0.0, 4), 1.0);
        assert_eq!(Average::Sum.divisor(3.0, 4), 1.0);
        assert_eq!(Average::Mean.divisor(1.0, 4), 4.0);
        for a in [Average::Touched, Average::Sum, Average::Mean] {
            assert_eq!(Average::parse(a.name()), Some(a));
        }
        assert_eq!(Average::parse("median"), None);
        let o = |average, lr_scale| DistOptions {
            average,
            lr_scale,
            ..DistOptions::default()
        };
        assert_eq!(o(Average::Mean, None).lr_factor(4), 4.0);
        assert_eq!(o(Average::Touched, None).lr_factor(4), 4.0);
        assert_eq!(o(Average::Sum, None).lr_factor(4), 1.0);
        assert_eq!(o(Average::Sum, Some(2.0)).lr_factor(4), 2.0);
        // The input tail: on up to INPUT_TAIL_AUTO_RANKS unless set.
        let tail = |input_tail| DistOptions {
            input_tail,
            ..DistOptions::default()
        };
        assert!(tail(None).input_tail_for(INPUT_TAIL_AUTO_RANKS));
        assert!(!tail(None).input_tail_for(INPUT_TAIL_AUTO_RANKS + 1));
        assert!(tail(Some(true)).input_tail_for(64));
        assert!(!tail(Some(false)).input_tail_for(2));
    }

    #[test]
    fn a_failing_rank_fails_every_rank_with_its_message_and_code() {
        let got = local::run(3, |c| {
            let local: Result<()> = if c.rank() == 1 {
                Err(Error::usage("--input", "missing on this rank"))
            } else {
                Ok(())
            };
            agree(c, local).map_err(|e| (e.exit_code(), e.to_string()))
        });
        for g in got {
            let (code, msg) = g.unwrap_err();
            assert_eq!(code, 2);
            assert!(
                msg.contains("rank 1") && msg.contains("missing on this rank"),
                "{msg}"
            );
        }
        let ok = local::run(2, |c| agree(c, Ok(c.rank())).unwrap());
        assert_eq!(ok, [0, 1]);
    }

    #[test]
    fn different_arguments_are_refused_on_every_rank() {
        let got = local::run(2, |c| {
            let args = vec!["train".to_string(), format!("--dim={}", 100 + c.rank())];
            check_same_args(c, &args).map_err(|e| e.to_string())
        });
        for g in got {
            assert!(g.unwrap_err().contains("--dim=101"));
        }
    }
}
