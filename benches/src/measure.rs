//! The report's timing loop: a fixed procedure, so two runs on the same
//! machine are comparable.
//!
//! 1. Warm up: run the body until 100 ms have passed (at least once).
//! 2. Choose a batch size so one batch takes about 2 ms (at least one
//!    iteration), so the clock's resolution and overhead vanish for
//!    nanosecond bodies.
//! 3. Time batches until the budget is spent, with at least
//!    [`MIN_SAMPLES`] and at most [`MAX_SAMPLES`] batches.
//! 4. Report the median time per iteration, and the spread between the
//!    25th and 75th percentile batch, as a noise indicator.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Fewest timed batches, whatever the budget.
pub const MIN_SAMPLES: usize = 11;
/// Most timed batches.
pub const MAX_SAMPLES: usize = 201;
/// Target duration of one batch.
pub const BATCH: Duration = Duration::from_millis(2);
/// Warm-up duration.
pub const WARM_UP: Duration = Duration::from_millis(100);

/// One measurement.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Median time of one iteration, in nanoseconds.
    pub median_ns: f64,
    /// 25th percentile of the per-iteration time, in nanoseconds.
    pub p25_ns: f64,
    /// 75th percentile of the per-iteration time, in nanoseconds.
    pub p75_ns: f64,
    /// Timed batches.
    pub batches: usize,
    /// Iterations per batch.
    pub iterations: u64,
}

impl Sample {
    /// Interquartile spread relative to the median, in percent.
    pub fn spread_percent(&self) -> f64 {
        100.0 * (self.p75_ns - self.p25_ns) / self.median_ns
    }
}

/// Times `body` as described in the module documentation, spending about
/// `budget` on timed batches.
pub fn run<R>(budget: Duration, mut body: impl FnMut() -> R) -> Sample {
    let warm_start = Instant::now();
    let mut warm_runs = 0u64;
    while warm_runs == 0 || warm_start.elapsed() < WARM_UP {
        black_box(body());
        warm_runs += 1;
    }
    let per_iteration = warm_start.elapsed().as_secs_f64() / warm_runs as f64;
    let iterations = ((BATCH.as_secs_f64() / per_iteration) as u64).max(1);

    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < MIN_SAMPLES || (start.elapsed() < budget && times.len() < MAX_SAMPLES) {
        let batch = Instant::now();
        for _ in 0..iterations {
            black_box(body());
        }
        times.push(batch.elapsed().as_secs_f64() * 1e9 / iterations as f64);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Sample {
        median_ns: at(0.5),
        p25_ns: at(0.25),
        p75_ns: at(0.75),
        batches: times.len(),
        iterations,
    }
}

/// Like [`run`], but `setup` runs before each iteration, outside the
/// timing, and its output is dropped outside the timing too. For bodies
/// that need fresh input (instantiation into a fresh store). A batch
/// prepares all its inputs first, then times the bodies back to back.
pub fn run_with_setup<S, R>(
    budget: Duration,
    mut setup: impl FnMut() -> S,
    mut body: impl FnMut(&mut S) -> R,
) -> Sample {
    let mut total = Duration::ZERO;
    let mut warm_runs = 0u64;
    while warm_runs == 0 || total < WARM_UP {
        let mut input = setup();
        let t = Instant::now();
        let out = body(&mut input);
        total += t.elapsed();
        drop(black_box(out));
        warm_runs += 1;
    }
    let per_iteration = total.as_secs_f64() / warm_runs as f64;
    let iterations = ((BATCH.as_secs_f64() / per_iteration) as u64).max(1);
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < MIN_SAMPLES || (start.elapsed() < budget && times.len() < MAX_SAMPLES) {
        let mut inputs: Vec<S> = (0..iterations).map(|_| setup()).collect();
        let mut outputs = Vec::with_capacity(inputs.len());
        let batch = Instant::now();
        for input in &mut inputs {
            outputs.push(body(input));
        }
        let elapsed = batch.elapsed();
        drop(black_box(outputs));
        times.push(elapsed.as_secs_f64() * 1e9 / iterations as f64);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Sample {
        median_ns: at(0.5),
        p25_ns: at(0.25),
        p75_ns: at(0.75),
        batches: times.len(),
        iterations,
    }
}

/// Times two slow bodies (compilations) alternately, one run per sample,
/// after one warm-up run each, until `budget` is spent (at least
/// [`MIN_SAMPLES`] pairs). Alternating keeps the two comparable when the
/// machine's load changes during the measurement.
pub fn paired<A, B>(
    budget: Duration,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (Sample, Sample) {
    black_box(a());
    black_box(b());
    let (mut times_a, mut times_b) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while times_a.len() < MIN_SAMPLES || (start.elapsed() < budget && times_a.len() < MAX_SAMPLES) {
        let t = Instant::now();
        black_box(a());
        times_a.push(t.elapsed().as_secs_f64() * 1e9);
        let t = Instant::now();
        black_box(b());
        times_b.push(t.elapsed().as_secs_f64() * 1e9);
    }
    (summarize(times_a), summarize(times_b))
}

/// Median and quartiles of single-run times.
fn summarize(mut times: Vec<f64>) -> Sample {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Sample {
        median_ns: at(0.5),
        p25_ns: at(0.25),
        p75_ns: at(0.75),
        batches: times.len(),
        iterations: 1,
    }
}

/// Geometric mean of positive ratios (1.0 for none).
pub fn geomean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 1.0;
    }
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}
