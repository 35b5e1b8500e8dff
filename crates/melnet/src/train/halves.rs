//! Running the two halves of a training batch: side by side, each on a thread of its own, or
//! one after the other — whichever the machine makes faster at the moment.
//!
//! Two threads are not always faster than one: with another CPU-bound process on a two-core
//! machine, the halves share what is left and the step waits for the slower one. So the
//! schedule times both ways, keeps to the faster, and tries the other again every
//! [`Halves::RETRY`] steps. Both ways compute the same halves in the same order, so results do
//! not depend on the choice.

use std::time::Instant;

/// The single-thread pools the halves run on and the measured seconds of each way.
pub(crate) struct Halves {
    /// One single-thread pool per half, or one for both when the current rayon pool has one
    /// thread. Each half's operations stay on its pool's thread: with both halves on a shared
    /// pool, one half waited for work of its own that the other half's thread had taken on,
    /// and from a thread outside a pool, every parallel operation was handed to the pool's
    /// thread and waited for (15 % of a one-thread step).
    pools: Vec<rayon::ThreadPool>,
    /// Smoothed seconds of a run one after the other (`[0]`) and side by side (`[1]`).
    seconds: [Option<f64>; 2],
    /// Runs so far.
    runs: u64,
}

impl Halves {
    /// Runs between two tries of the way not taken.
    pub(crate) const RETRY: u64 = 16;

    /// A schedule for the current rayon pool (always one after the other with one thread).
    pub(crate) fn new() -> Self {
        let one = || rayon::ThreadPoolBuilder::new().num_threads(1).build().ok();
        let pools = (0..rayon::current_num_threads().min(2))
            .map_while(|_| one())
            .collect();
        Halves {
            pools,
            seconds: [None, None],
            runs: 0,
        }
    }

    /// Whether the next run goes side by side: the first run (warm-up, not timed) and any way
    /// not yet timed are tried, then the faster way, with the other every `RETRY` runs.
    fn side_by_side(&self) -> bool {
        match self.seconds {
            _ if self.pools.len() < 2 => false,
            _ if self.runs == 0 => true,
            [None, _] => false,
            [_, None] => true,
            [Some(apart), Some(together)] => {
                (together <= apart) != self.runs.is_multiple_of(Self::RETRY)
            }
        }
    }

    /// `first()` and `second()`, side by side or one after the other.
    pub(crate) fn run<T: Send>(
        &mut self,
        first: impl FnOnce() -> T + Send,
        second: impl FnOnce() -> T + Send,
    ) -> (T, T) {
        let together = self.side_by_side();
        let start = Instant::now();
        let out = match (&self.pools[..], together) {
            ([a, b], true) => {
                let (first, second) = std::thread::scope(|s| {
                    let second = s.spawn(|| b.install(second));
                    (a.install(first), second.join())
                });
                (
                    first,
                    second.unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                )
            }
            ([a, ..], _) => a.install(|| (first(), second())),
            ([], _) => (first(), second()),
        };
        let seconds = start.elapsed().as_secs_f64();
        if self.runs > 0 {
            // A way just retried replaces its stale time; the way in use is smoothed.
            let kept = &mut self.seconds[usize::from(together)];
            *kept = Some(match *kept {
                Some(old) if !self.runs.is_multiple_of(Self::RETRY) => 0.7 * old + 0.3 * seconds,
                _ => seconds,
            });
        }
        self.runs += 1;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schedule with two pools whose ways took `apart` and `together` seconds.
    fn timed(apart: f64, together: f64, runs: u64) -> Halves {
        let mut h = Halves::new();
        let one = || {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
        };
        h.pools = vec![one(), one()];
        h.seconds = [Some(apart), Some(together)];
        h.runs = runs;
        h
    }

    #[test]
    fn takes_the_faster_way_and_retries_the_other() {
        assert!(timed(2.0, 1.0, 5).side_by_side());
        assert!(!timed(1.0, 2.0, 5).side_by_side());
        assert!(timed(1.0, 2.0, Halves::RETRY * 3).side_by_side());
        assert!(!timed(2.0, 1.0, Halves::RETRY).side_by_side());
    }

    #[test]
    fn times_each_way_before_choosing() {
        let mut h = timed(0.0, 0.0, 0);
        h.seconds = [None, None];
        let mut ways = Vec::new();
        for _ in 0..3 {
            ways.push(h.side_by_side());
            let (a, b) = h.run(|| 1, || 2);
            assert_eq!((a, b), (1, 2));
        }
        assert_eq!(ways, [true, false, true]);
        assert!(h.seconds.iter().all(Option::is_some));
    }
}
