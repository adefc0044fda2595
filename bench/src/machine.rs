//! The machine's own stops, measured before a latency run: one thread per CPU spins on the
//! monotonic clock and records every gap longer than a threshold, a time its thread did not run
//! though it was runnable and the process had nothing else to run. (The threads are not pinned:
//! the workspace forbids `unsafe`, which `sched_setaffinity` needs; with one spinning thread per
//! CPU and nothing else runnable the scheduler leaves each on its own CPU, and each reports the
//! CPU it ended on.) A tail
//! latency budget of 2 ms cannot hold on a machine whose CPUs stop for longer than that, so the
//! evaluation benchmark reports these stops beside its figures (on the 2-core VM of
//! `docs/benchmarks.md`, CPU 0 stopped ~11 ms about once a second, idle).

use std::time::{Duration, Instant};

/// What one spinning thread saw.
pub struct CpuStops {
    /// The CPU the thread ended on, where Linux says.
    pub cpu: Option<usize>,
    /// Gaps longer than the threshold, in the order seen: (offset from the start, length).
    pub stops: Vec<(Duration, Duration)>,
}

impl CpuStops {
    /// The median distance between consecutive stops, when there are at least two.
    pub fn median_period(&self) -> Option<Duration> {
        let mut periods: Vec<Duration> = self
            .stops
            .windows(2)
            .map(|w| w[1].0.saturating_sub(w[0].0))
            .collect();
        periods.sort();
        periods.get(periods.len() / 2).copied()
    }
}

/// Spins one thread per CPU for `window`, each recording gaps over `threshold`.
/// Nothing else of the benchmark runs meanwhile, so a gap is the machine's: the kernel, another
/// process, or the hypervisor holding the virtual CPU.
pub fn cpu_stops(window: Duration, threshold: Duration) -> Vec<CpuStops> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let threads: Vec<_> = (0..cpus)
        .map(|n| {
            std::thread::Builder::new()
                .name(format!("cpu probe {n}"))
                .spawn(move || {
                    let start = Instant::now();
                    let mut last = start;
                    let mut stops = Vec::new();
                    while last - start < window {
                        let now = Instant::now();
                        if now - last > threshold {
                            stops.push((now - start, now - last));
                        }
                        last = now;
                    }
                    CpuStops {
                        cpu: current_cpu(),
                        stops,
                    }
                })
                .unwrap()
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// The CPU this thread last ran on (`/proc/thread-self/stat`'s 39th field), where Linux says.
fn current_cpu() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(36)?.parse().ok()
}
