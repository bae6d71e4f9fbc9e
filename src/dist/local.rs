//! An in-process [`Comm`] over threads, for unit tests of the collectives' users.

use super::Comm;
use std::sync::{Arc, Barrier, Mutex};

struct Shared {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<u8>>>,
}

pub struct LocalComm {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
}

impl LocalComm {
    /// Every rank posts its bytes, then reads all of them.
    fn exchange(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        self.shared.slots.lock().unwrap()[self.rank] = mine.to_vec();
        self.shared.barrier.wait();
        let all = self.shared.slots.lock().unwrap().clone();
        self.shared.barrier.wait();
        all
    }
}

impl Comm for LocalComm {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f32(&self, buf: &mut [f32]) {
        let all = self.exchange(bytemuck::cast_slice(buf));
        buf.fill(0.0);
        // In rank order, as a deterministic reduction would.
        for b in &all {
            let v: Vec<f32> = bytemuck::pod_collect_to_vec(b);
            buf.iter_mut().zip(v).for_each(|(x, y)| *x += y);
        }
    }
    fn sum_u64(&self, buf: &mut [u64]) {
        let all = self.exchange(bytemuck::cast_slice(buf));
        buf.fill(0);
        for b in &all {
            let v: Vec<u64> = bytemuck::pod_collect_to_vec(b);
            buf.iter_mut().zip(v).for_each(|(x, y)| *x += y);
        }
    }
    fn gather_bytes(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        self.exchange(mine)
    }
    fn abort(&self, code: i32) -> ! {
        panic!("rank {} aborted with {code}", self.rank)
    }
}

/// Runs `f` on `size` ranks (threads) and returns their results in rank order.
pub fn run<T: Send>(size: usize, f: impl Fn(&LocalComm) -> T + Sync) -> Vec<T> {
    let shared = Arc::new(Shared {
        barrier: Barrier::new(size),
        slots: Mutex::new(vec![Vec::new(); size]),
    });
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..size)
            .map(|rank| {
                let c = LocalComm {
                    rank,
                    size,
                    shared: shared.clone(),
                };
                let f = &f;
                s.spawn(move || f(&c))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}
