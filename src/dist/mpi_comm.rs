//! [`Comm`] over MPI (the `mpi` crate). Only the main thread calls MPI (the trainer's
//! monitor loop runs there while its worker threads train), so MPI is initialised with
//! `MPI_THREAD_FUNNELED`.

use super::Comm;
use mpi::datatype::PartitionMut;
use mpi::traits::*;
use std::sync::{Mutex, OnceLock};

pub struct MpiComm {
    universe: Mutex<Option<mpi::environment::Universe>>,
    world: mpi::topology::SimpleCommunicator,
    rank: usize,
    size: usize,
}

// SAFETY: MPI is initialised FUNNELED and only the main thread makes MPI calls through
// this type (the trainer's worker threads never see it); the handle itself is an integer
// or pointer owned by the MPI library for the life of the process.
unsafe impl Sync for MpiComm {}
unsafe impl Send for MpiComm {}

static WORLD: OnceLock<Option<MpiComm>> = OnceLock::new();

/// Elements per collective call: MPI counts are C ints.
const MAX_COUNT: usize = 1 << 28;

pub fn world() -> Option<&'static dyn Comm> {
    WORLD
        .get_or_init(|| {
            if !super::launched_by_mpirun() {
                return None;
            }
            let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled)?;
            let world = universe.world();
            let (rank, size) = (world.rank() as usize, world.size() as usize);
            Some(MpiComm {
                universe: Mutex::new(Some(universe)),
                world,
                rank,
                size,
            })
        })
        .as_ref()
        .map(|c| c as &dyn Comm)
}

pub fn initialized() -> Option<&'static dyn Comm> {
    WORLD.get().and_then(|c| c.as_ref()).map(|c| c as &dyn Comm)
}

/// Finalises MPI (before the process exits; a rank that exits without it is reported as
/// failed by `mpirun`).
pub fn finalize() {
    if let Some(Some(c)) = WORLD.get() {
        drop(c.universe.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

impl Comm for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f32(&self, buf: &mut [f32]) {
        for chunk in buf.chunks_mut(MAX_COUNT) {
            let send = chunk.to_vec();
            self.world
                .all_reduce_into(&send[..], chunk, mpi::collective::SystemOperation::sum());
        }
    }
    fn sum_u64(&self, buf: &mut [u64]) {
        for chunk in buf.chunks_mut(MAX_COUNT) {
            let send = chunk.to_vec();
            self.world
                .all_reduce_into(&send[..], chunk, mpi::collective::SystemOperation::sum());
        }
    }
    fn gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        // One leading byte keeps every buffer non-empty: two empty vectors share a dangling
        // address, and MPI refuses a send buffer equal to the receive buffer.
        let mut framed = Vec::with_capacity(mine.len() + 1);
        framed.push(0u8);
        framed.extend_from_slice(mine);
        let mine = &framed[..];
        let n = self.size;
        let len = [mine.len() as u64];
        let mut lens = vec![0u64; n];
        self.world.all_gather_into(&len[..], &mut lens[..]);
        let total: u64 = lens.iter().sum();
        assert!(
            lens.iter().all(|&l| l as usize <= MAX_COUNT) && total as usize <= i32::MAX as usize,
            "a gathered message of {total} bytes is beyond MPI's int counts"
        );
        let counts: Vec<mpi::Count> = lens.iter().map(|&l| l as mpi::Count).collect();
        let displs: Vec<mpi::Count> = counts
            .iter()
            .scan(0, |acc, &c| {
                let d = *acc;
                *acc += c;
                Some(d)
            })
            .collect();
        let mut buf = vec![0u8; total as usize];
        {
            let mut part = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
            self.world.all_gather_varcount_into(mine, &mut part);
        }
        counts
            .iter()
            .zip(&displs)
            .map(|(&c, &d)| buf[d as usize + 1..(d + c) as usize].to_vec())
            .collect()
    }
    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
