//! The long differential run: generated modules compared with wasmi, in
//! process, each compiled once and called many times with generated
//! arguments (`detvm_fuzzing::differential`).
//!
//! ```text
//! differential [--start N] [--end N] [--seconds S] [--threads T] [--rounds R] [--findings DIR]
//! ```
//!
//! Module `seed` is made from `seed_input(seed)`; odd seeds run with every
//! function in the slot strategy. Threads take seeds in order from one
//! counter, so when the run stops (at `--end`, after `--seconds`, or
//! killed) every seed below the printed `done below` has been compared:
//! `--start` from there continues the run. A divergence or a panic is
//! printed and its seed's input written to `--findings`; the run goes on.
//! `--print SEED` prints module `seed` as text, for triage.

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use detvm_fuzzing::differential::{ArgSource, Differential, STACK_SIZE, Tally, seed_input};

struct Options {
    start: u64,
    end: u64,
    seconds: u64,
    threads: usize,
    rounds: usize,
    findings: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: differential [--start N] [--end N] [--seconds S] [--threads T] [--rounds R] \
         [--findings DIR]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let mut options = Options {
        start: 0,
        end: u64::MAX,
        seconds: u64::MAX,
        threads: 2,
        rounds: 64,
        findings: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let number = || value.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--start" => options.start = number(),
            "--end" => options.end = number(),
            "--seconds" => options.seconds = number(),
            "--threads" => options.threads = number().max(1) as usize,
            "--rounds" => options.rounds = number().max(1) as usize,
            "--findings" => options.findings = Some(PathBuf::from(&value)),
            "--print" => {
                print_module(number());
                std::process::exit(0)
            }
            _ => usage(),
        }
    }
    options
}

/// Prints module `seed` as WebAssembly text.
fn print_module(seed: u64) {
    let input = seed_input(seed);
    let mut u = arbitrary::Unstructured::new(&input);
    match wasm_smith::Module::new(detvm_fuzzing::differential::smith_config(), &mut u) {
        Ok(module) => match wasmprinter::print_bytes(module.to_bytes()) {
            Ok(text) => println!("{text}"),
            Err(e) => println!("cannot print: {e}"),
        },
        Err(e) => println!("no module: {e}"),
    }
}

/// What the threads share.
struct Shared {
    next: AtomicU64,
    end: u64,
    stop: AtomicBool,
    /// The seed each thread is comparing.
    busy: Mutex<Vec<Option<u64>>>,
    total: Mutex<Tally>,
    findings: Mutex<Vec<(u64, String)>>,
}

impl Shared {
    /// Every seed below this one has been compared.
    fn done_below(&self) -> u64 {
        let next = self.next.load(Ordering::SeqCst).min(self.end);
        let busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        busy.iter()
            .flatten()
            .copied()
            .min()
            .unwrap_or(next)
            .min(next)
    }
}

fn work(index: usize, options: &Options, shared: &Shared) {
    let engines = [false, true].map(|slot| {
        Differential::new(slot).unwrap_or_else(|e| panic!("cannot make the engine: {e}"))
    });
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        // The seed is marked busy before the counter moves past it, so
        // `done_below` never passes a seed still being compared.
        let seed = {
            let mut busy = shared.busy.lock().unwrap_or_else(|p| p.into_inner());
            let seed = shared.next.fetch_add(1, Ordering::SeqCst);
            if seed >= options.end {
                break;
            }
            busy[index] = Some(seed);
            seed
        };
        let input = seed_input(seed);
        let engine = &engines[(seed % 2) as usize];
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            engine.check(&input, options.rounds, ArgSource::Seeded(seed))
        }));
        let finding = match outcome {
            Ok(Ok(tally)) => {
                if tally.reference_suspects > 0 {
                    println!("SUSPECT seed {seed}: diverged only where wasmi has a known defect");
                }
                *shared.total.lock().unwrap_or_else(|p| p.into_inner()) += tally;
                None
            }
            Ok(Err(divergence)) => Some(format!("divergence: {divergence}")),
            Err(panic) => Some(format!(
                "panic: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(not a string)")
            )),
        };
        if let Some(finding) = finding {
            println!("FINDING seed {seed}: {finding}");
            if let Some(dir) = &options.findings {
                let _ = std::fs::create_dir_all(dir);
                let _ = std::fs::write(dir.join(format!("seed-{seed}.bin")), &input);
            }
            shared
                .findings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((seed, finding));
        }
        shared.busy.lock().unwrap_or_else(|p| p.into_inner())[index] = None;
    }
}

fn report(started: Instant, shared: &Shared) {
    let t = *shared.total.lock().unwrap_or_else(|p| p.into_inner());
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{secs:.0} s: done below {}; {} modules generated, {} compared, {} rejected; {} calls \
         ({:.0}/s): {} returned, {} out of gas, {} other traps; {} host calls; {} reference \
         suspects; {} findings",
        shared.done_below(),
        t.generated,
        t.modules,
        t.rejected,
        t.calls,
        t.calls as f64 / secs.max(1e-9),
        t.returned,
        t.out_of_gas,
        t.other_traps,
        t.host_calls,
        t.reference_suspects,
        shared
            .findings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len(),
    );
    let _ = std::io::stdout().flush();
}

fn main() {
    let options = Arc::new(options());
    let shared = Arc::new(Shared {
        next: AtomicU64::new(options.start),
        end: options.end,
        stop: AtomicBool::new(false),
        busy: Mutex::new(vec![None; options.threads]),
        total: Mutex::new(Tally::default()),
        findings: Mutex::new(Vec::new()),
    });
    println!(
        "differential: seeds from {}, {} threads, {} rounds per export",
        options.start, options.threads, options.rounds
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..options.threads)
        .map(|index| {
            let (options, shared) = (options.clone(), shared.clone());
            std::thread::Builder::new()
                .stack_size(STACK_SIZE)
                .spawn(move || work(index, &options, &shared))
                .expect("spawn a worker")
        })
        .collect();
    let deadline = Duration::from_secs(options.seconds);
    let mut last = Instant::now();
    while !workers.iter().all(|w| w.is_finished()) {
        std::thread::sleep(Duration::from_millis(200));
        if started.elapsed() >= deadline {
            shared.stop.store(true, Ordering::SeqCst);
        }
        if last.elapsed() >= Duration::from_secs(60) {
            report(started, &shared);
            last = Instant::now();
        }
    }
    for worker in workers {
        let _ = worker.join();
    }
    report(started, &shared);
    let findings = shared.findings.lock().unwrap_or_else(|p| p.into_inner());
    println!(
        "continue with: --start {} ({} findings)",
        shared.done_below(),
        findings.len()
    );
    if !findings.is_empty() {
        std::process::exit(1);
    }
}
