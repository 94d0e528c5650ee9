//! Runs the benchmark suite with its own timing loop (medians of batches,
//! see `detvm_benches::measure`) and writes `BENCHMARKS.md` at the
//! workspace root.
//!
//! ```sh
//! cargo run --release -p detvm-benches --bin report            # full run
//! cargo run --release -p detvm-benches --bin report -- --quick # smoke run
//! cargo run --release -p detvm-benches --bin report -- --out PATH
//! cargo run --release -p detvm-benches --bin report -- --no-work # skip callgrind
//! ```
//!
//! The adversarial compile corpus is also counted in instructions under
//! callgrind (`detvm_benches::work`) when valgrind is installed: this
//! binary runs itself under valgrind with `--compile-adversarial SHAPE N`
//! for each shape and size.
//!
//! The workloads are those of the criterion targets (`benches/engine.rs`);
//! this binary exists so the report is one command and one fixed method,
//! independent of criterion's statistics and its output format.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use detvm_benches::fixtures::{self, HOST_CALLS, KERNELS, Loaded, RUST_KERNELS};
use detvm_benches::measure::{self, Sample, geomean};
use detvm_benches::{limits, realistic, token};
use detvm_metering::{Schedule, StackConfig, prepare};
use detvm_vm::{Instance, Module, Store, Value};

/// Realistic module sizes, as in the criterion target.
const SIZES: [(&str, usize); 4] = [
    ("10 KB", 10_000),
    ("100 KB", 100_000),
    ("1 MB", 1_000_000),
    ("4 MB", 4_000_000),
];

/// Goals from the issue.
const GOAL_INSTANTIATE_NS: f64 = 10_000.0;
const GOAL_CALL_EMPTY_NS: f64 = 100.0;
const GOAL_METERING_RATIO: f64 = 1.3;
const GOAL_FRONT_END_MB_S: f64 = 50.0;
/// Doubling a limit module's size may at most multiply its compile time by
/// this to count as linear (2.0 is exactly linear; quadratic is 4.0).
const LINEAR_DOUBLING: f64 = 2.6;
/// The adversarial corpus's goal (the security issue): doubling a shape's
/// size may at most multiply its compile work by this.
const GOAL_ADVERSARIAL_DOUBLING: f64 = 2.2;

/// The hand-written analysis of missed goals, kept next to this binary so
/// a rerun does not lose it.
const ANALYSIS: &str = include_str!("../../analysis.md");

struct Options {
    quick: bool,
    out: PathBuf,
    /// Count the adversarial corpus's compile work with callgrind.
    work: bool,
}

fn options() -> Options {
    let mut options = Options {
        quick: false,
        out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md")),
        work: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--no-work" => options.work = false,
            "--compile-adversarial" => {
                let (Some(name), Some(n)) = (args.next(), args.next()) else {
                    usage("--compile-adversarial needs a shape and a size")
                };
                let n = n.parse().unwrap_or_else(|_| usage("the size is a number"));
                compile_adversarial(&name, n);
                std::process::exit(0)
            }
            "--out" => match args.next() {
                Some(path) => options.out = PathBuf::from(path),
                None => usage("--out needs a path"),
            },
            other => usage(&format!("unknown argument {other}")),
        }
    }
    options
}

/// The process callgrind counts: one compilation of one shape at `n`.
fn compile_adversarial(name: &str, n: u32) {
    let shape = detvm_fixtures::adversarial::compile_corpus()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| usage(&format!("no adversarial shape {name}")));
    let bytes = shape.module(n);
    let engine = fixtures::engine(true);
    Module::new(&engine, &bytes).expect("compiles");
}

fn usage(problem: &str) -> ! {
    eprintln!("report: {problem}\nusage: report [--quick] [--no-work] [--out PATH]");
    std::process::exit(2)
}

/// Budgets per measurement: (fast bodies, compilation).
fn budgets(quick: bool) -> (Duration, Duration) {
    if quick {
        (Duration::from_millis(50), Duration::from_millis(50))
    } else {
        (Duration::from_millis(1500), Duration::from_secs(3))
    }
}

fn main() {
    let options = options();
    let (budget, compile_budget) = budgets(options.quick);
    let kernel_budget = budget / fixtures::PLACEMENTS;
    let started = Instant::now();
    let load_before = load_average();
    let mut r = Report::default();

    // Kernels and calls first, on a fresh heap: later compilations leave
    // the allocator in a state that moves code and data around.
    eprintln!("calls and kernels");
    for metering in [true, false] {
        let engine = fixtures::engine(metering);
        let mut loaded = Loaded::new(&engine, &fixtures::kernels_wasm()).expect("loads");
        let nop = loaded.func("nop");
        let call_empty = measure::run(budget, || loaded.call(nop, &[]));
        // The same call the way the peers make theirs: through a typed
        // handle, the signature checked once.
        let typed = nop.typed::<(), ()>(&loaded.store).expect("nop is [] -> []");
        let call_typed = measure::run(budget, || {
            typed
                .call(&mut loaded.store, (), fixtures::GAS)
                .expect("calls")
        });
        let by_name = measure::run(budget, || {
            loaded
                .instance
                .call(&mut loaded.store, "nop", &[], fixtures::GAS)
                .expect("calls")
        });
        let call_host = loaded.func("call_host");
        let host = measure::run(budget, || loaded.call(call_host, &[Value::I32(HOST_CALLS)]));
        // Each kernel at every placement; the median over placements.
        let mut placements: Vec<Vec<Sample>> = vec![Vec::new(); KERNELS.len()];
        for pad in 0..fixtures::PLACEMENTS {
            let wasm = fixtures::kernels_wasm_padded(pad);
            let mut loaded = Loaded::new(&engine, &wasm).expect("loads");
            for (i, kernel) in KERNELS.iter().enumerate() {
                let func = loaded.func(kernel.export);
                let args = kernel.args();
                placements[i].push(measure::run(kernel_budget, || loaded.call(func, &args)));
            }
        }
        let kernels: Vec<Placed> = placements.into_iter().map(Placed::new).collect();
        // The Rust-built kernels at one placement: their module is not
        // generated here, so it cannot be padded.
        let mut loaded = Loaded::new(&engine, &fixtures::rust_kernels_wasm()).expect("loads");
        let rust_kernels = RUST_KERNELS
            .iter()
            .map(|kernel| {
                loaded.prepare(kernel);
                let func = loaded.func(kernel.export);
                let args = kernel.args();
                measure::run(budget, || loaded.call(func, &args))
            })
            .collect();
        let calls = Calls {
            call_empty,
            call_typed,
            by_name,
            host,
            kernels,
            rust_kernels,
        };
        if metering {
            r.metered = Some(calls);
        } else {
            r.unmetered = Some(calls);
        }
    }

    eprintln!("token transfers");
    let code = detvm_testkit::contracts::wasm("token").expect("the token contract is built");
    let mut chain = token::TokenChain::new(&code).expect("sets up the token");
    r.token = Some(measure::run(budget, || {
        chain.transfers(token::TRANSFERS).expect("transfers")
    }));
    drop(chain);

    eprintln!("validate + instrument");
    let inputs: Vec<Vec<u8>> = SIZES
        .iter()
        .map(|&(_, size)| realistic::module(size, realistic::SEED))
        .collect();
    let config = fixtures::corpus_config();
    let schedule = Schedule::default();
    let stack = StackConfig::default();
    for wasm in &inputs {
        r.front_end.push(measure::run(compile_budget, || {
            prepare(wasm, &config, &schedule, &stack).expect("valid")
        }));
    }

    eprintln!("compile");
    for metering in [true, false] {
        let engine = fixtures::corpus_engine(metering);
        let row: Vec<Sample> = inputs
            .iter()
            .map(|wasm| {
                measure::run(compile_budget, || {
                    Module::new(&engine, wasm).expect("compiles")
                })
            })
            .collect();
        if metering {
            r.compile_metered = row;
        } else {
            r.compile_unmetered = row;
        }
    }

    eprintln!("limit modules");
    let engine = fixtures::engine(true);
    for (full, half) in limits::all().into_iter().zip(limits::halves()) {
        // Full and half size alternate, so a change of machine load hits
        // both and their ratio stays meaningful.
        let (full_sample, half_sample) = measure::paired(
            compile_budget,
            || Module::new(&engine, &full.bytes).expect("compiles"),
            || Module::new(&engine, &half.bytes).expect("compiles"),
        );
        r.limits
            .push((full, full_sample, half.bytes.len(), half_sample));
    }

    eprintln!("adversarial compile corpus");
    // Quick runs take an eighth of each size: some shapes take seconds at
    // their largest, and every measurement compiles at least 22 times.
    for pair in fixtures::adversarial_pairs(if options.quick { 8 } else { 1 }) {
        let (half, full) = measure::paired(
            compile_budget,
            || Module::new(&engine, &pair.half).expect("compiles"),
            || Module::new(&engine, &pair.full).expect("compiles"),
        );
        r.adversarial.push((pair, half, full));
    }
    r.adversarial_work = if !options.work {
        Work::Missing("skipped (`--no-work`)".into())
    } else if !detvm_benches::work::valgrind_available() {
        Work::Missing("not measured: valgrind is not installed".into())
    } else {
        eprintln!("adversarial compile corpus under callgrind");
        match count_adversarial_work(&r.adversarial) {
            Ok(counts) => Work::Counted(counts),
            Err(why) => Work::Missing(why),
        }
    };

    eprintln!("instantiate");
    let contract = Module::new(&engine, &fixtures::contract_wasm()).expect("compiles");
    let linker = fixtures::linker(&engine);
    r.instantiate = Some(measure::run_with_setup(
        budget,
        || (),
        |_| {
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &contract, &linker).expect("instantiates");
            (store, instance)
        },
    ));
    r.instance_only = Some(measure::run_with_setup(
        budget,
        || Store::new(&engine, ()),
        |store| Instance::new(store, &contract, &linker).expect("instantiates"),
    ));

    #[cfg(feature = "peers")]
    for peer in detvm_benches::peers::Peer::ALL {
        eprintln!("peer: {}", peer.name());
        let results = detvm_benches::peers::measure(peer, &inputs, compile_budget, budget);
        r.peers.push((peer.name(), results));
    }

    r.load = (load_before, load_average());
    r.elapsed = started.elapsed();
    r.quick = options.quick;
    r.input_sizes = inputs.iter().map(Vec::len).collect();
    let text = r.render();
    if let Err(e) = std::fs::write(&options.out, text) {
        eprintln!("report: cannot write {}: {e}", options.out.display());
        std::process::exit(1);
    }
    eprintln!(
        "wrote {} in {:.0} s",
        options.out.display(),
        r.elapsed.as_secs_f64()
    );
}

struct Calls {
    /// Through `Func::call`: values checked and converted on every call.
    call_empty: Sample,
    /// Through a `TypedFunc`, as the peers call.
    call_typed: Sample,
    by_name: Sample,
    host: Sample,
    /// [`KERNELS`], at every placement.
    kernels: Vec<Placed>,
    /// [`RUST_KERNELS`].
    rust_kernels: Vec<Sample>,
}

/// One kernel measured at each code placement.
struct Placed {
    /// The median over placements of the per-placement medians.
    median: Sample,
    /// Fastest and slowest placement, in nanoseconds.
    range: (f64, f64),
}

impl Placed {
    fn new(mut samples: Vec<Sample>) -> Self {
        samples.sort_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
        Self {
            median: samples[samples.len() / 2],
            range: (samples[0].median_ns, samples[samples.len() - 1].median_ns),
        }
    }
}

/// A peer's name and results.
#[cfg(feature = "peers")]
type PeerRow = (&'static str, detvm_benches::peers::PeerResults);

/// Compile work of the adversarial corpus in instructions.
enum Work {
    /// Instructions inside `Module::new` at `n` and `2n`, per shape.
    Counted(Vec<(u64, u64)>),
    /// Why there are no counts.
    Missing(String),
}

impl Default for Work {
    fn default() -> Self {
        Work::Missing("not measured".into())
    }
}

#[derive(Default)]
struct Report {
    quick: bool,
    input_sizes: Vec<usize>,
    front_end: Vec<Sample>,
    compile_metered: Vec<Sample>,
    compile_unmetered: Vec<Sample>,
    limits: Vec<(limits::LimitModule, Sample, usize, Sample)>,
    /// The adversarial compile corpus: each shape with its times at `n`
    /// and `2n`.
    adversarial: Vec<(fixtures::AdversarialPair, Sample, Sample)>,
    /// Instructions inside `Module::new` for each shape at `n` and `2n`,
    /// or why they were not counted.
    adversarial_work: Work,
    instantiate: Option<Sample>,
    instance_only: Option<Sample>,
    /// [`token::TRANSFERS`] token transfers.
    token: Option<Sample>,
    metered: Option<Calls>,
    unmetered: Option<Calls>,
    #[cfg(feature = "peers")]
    peers: Vec<PeerRow>,
    load: (String, String),
    elapsed: Duration,
}

fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn mb_per_s(bytes: usize, ns: f64) -> f64 {
    bytes as f64 / ns * 1e9 / 1e6
}

fn spread(s: &Sample) -> String {
    format!("±{:.0}%", s.spread_percent() / 2.0)
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**not met**" }
}

impl Report {
    fn render(&self) -> String {
        let mut o = String::new();
        let metered = self.metered.as_ref().expect("measured");
        let unmetered = self.unmetered.as_ref().expect("measured");
        let instantiate = self.instantiate.expect("measured");
        let instance_only = self.instance_only.expect("measured");
        // Every kernel's metered/unmetered ratio: the hand-written ones,
        // then the Rust-built ones.
        let ratios: Vec<f64> = metered
            .kernels
            .iter()
            .zip(&unmetered.kernels)
            .map(|(m, u)| m.median.median_ns / u.median.median_ns)
            .chain(
                metered
                    .rust_kernels
                    .iter()
                    .zip(&unmetered.rust_kernels)
                    .map(|(m, u)| m.median_ns / u.median_ns),
            )
            .collect();
        let ratio_geomean = geomean(&ratios);
        let ratio_max = ratios.iter().copied().fold(0.0, f64::max);
        // The hand-written loop and recursive kernels come first.
        let hand_written_max = ratios[..metered.kernels.len()]
            .iter()
            .copied()
            .fold(0.0, f64::max);
        let linear = self
            .limits
            .iter()
            .all(|(_, full, _, half)| full.median_ns / half.median_ns <= LINEAR_DOUBLING);
        let adversarial_worst = self
            .adversarial
            .iter()
            .map(|(_, half, full)| full.median_ns / half.median_ns)
            .fold(0.0, f64::max);
        let slowest_limit = self
            .limits
            .iter()
            .map(|(_, s, _, _)| s.median_ns)
            .fold(0.0, f64::max);

        let _ = writeln!(o, "# detvm benchmarks\n");
        let _ = writeln!(
            o,
            "Generated by `cargo run --release -p detvm-benches --bin report`{}; do not edit \
             by hand (the analysis section comes from `benches/analysis.md`). The criterion \
             benchmarks of the same workloads: `cargo bench -p detvm-benches` \
             (`-- --test` runs each once, for CI).\n",
            if self.quick {
                " **in quick mode (numbers are rough)**"
            } else {
                ""
            }
        );

        let _ = writeln!(o, "How to run:\n");
        let _ = writeln!(
            o,
            "* `cargo bench -p detvm-benches` — criterion, every group (`-- compile` to filter, \
             `-- --test` to run each benchmark once, as CI does);\n\
             * `cargo run --release -p detvm-benches --features peers --bin report` — this file \
             (`-- --quick` for a rough smoke run; without `--features peers` the peers table is \
             left out);\n\
             * `cargo build --release -p detvm-benches --bin profile`, then \
             `perf record target/release/profile kernel loop metered 500` — one workload in a \
             loop, for a profiler.\n"
        );

        // Verdicts first: what a reader wants.
        let _ = writeln!(o, "## Goals\n");
        let _ = writeln!(o, "| goal | measured | verdict |\n| --- | --- | --- |");
        let _ = writeln!(
            o,
            "| instantiate a small contract ≤ 10 µs | {} (fresh store + instance) | {} |",
            time(instantiate.median_ns),
            verdict(instantiate.median_ns <= GOAL_INSTANTIATE_NS)
        );
        let _ = writeln!(
            o,
            "| empty host→wasm call ≤ 100 ns | {} (metered, `Func::call`) | {} |",
            time(metered.call_empty.median_ns),
            verdict(metered.call_empty.median_ns <= GOAL_CALL_EMPTY_NS)
        );
        let _ = writeln!(
            o,
            "| metering costs ≤ 1.3× on the loop and recursive kernels (`loop`, `fib_recursive`, `memory_loop`) | worst {:.2}× | {} |",
            hand_written_max,
            verdict(hand_written_max <= GOAL_METERING_RATIO),
        );
        let _ = writeln!(
            o,
            "| metering costs ≤ 1.3× on all kernels | geomean {:.2}×, worst {:.2}× | {} (geomean), {} (every kernel) |",
            ratio_geomean,
            ratio_max,
            verdict(ratio_geomean <= GOAL_METERING_RATIO),
            verdict(ratio_max <= GOAL_METERING_RATIO),
        );
        let _ = writeln!(
            o,
            "| limit modules compile in bounded time, linear in size | slowest {}; doubling size multiplies time by ≤ {:.2} | {} |",
            time(slowest_limit),
            self.limits
                .iter()
                .map(|(_, f, _, h)| f.median_ns / h.median_ns)
                .fold(0.0, f64::max),
            verdict(linear)
        );
        // Linearity is decided on work (instructions), which does not move
        // with the machine's load; time is reported beside it.
        let _ = match &self.adversarial_work {
            Work::Counted(counts) => {
                let work_worst = counts
                    .iter()
                    .map(|&(half, full)| full as f64 / half as f64)
                    .fold(0.0, f64::max);
                writeln!(
                    o,
                    "| adversarial compile corpus: doubling a shape's size multiplies its compile work by ≤ {GOAL_ADVERSARIAL_DOUBLING} | work (instructions) ≤ {work_worst:.2}; time ≤ {adversarial_worst:.2} | {} |",
                    verdict(work_worst <= GOAL_ADVERSARIAL_DOUBLING)
                )
            }
            Work::Missing(why) => writeln!(
                o,
                "| adversarial compile corpus: doubling a shape's size multiplies its compile work by ≤ {GOAL_ADVERSARIAL_DOUBLING} | work {why}; time ≤ {adversarial_worst:.2} | not decided |"
            ),
        };
        let front_end_slowest = self
            .front_end
            .iter()
            .zip(&self.input_sizes)
            .map(|(s, &bytes)| mb_per_s(bytes, s.median_ns))
            .fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            o,
            "| instrumentation ≥ 50 MB/s | validate + instrument: slowest {:.1} MB/s | {} |",
            front_end_slowest,
            verdict(front_end_slowest >= GOAL_FRONT_END_MB_S)
        );
        if let Some(token) = self.token {
            let per_second = 1e9 / (token.median_ns / token::TRANSFERS as f64);
            let _ = writeln!(
                o,
                "| token transfers per second on one core, reported | {per_second:.0} transfers/s | reported |"
            );
        }
        self.render_peer_goals(&mut o, metered);
        let _ = writeln!(o);

        // Machine and method.
        let _ = writeln!(o, "## Machine and method\n");
        let _ = writeln!(o, "* CPU: {}, {} logical cores", cpu_model(), cores());
        let _ = writeln!(o, "* OS: {}", os());
        let _ = writeln!(o, "* {}", rustc_version());
        let _ = writeln!(
            o,
            "* crates: detvm {}, {}",
            env!("CARGO_PKG_VERSION"),
            locked_versions(&[
                "cranelift-codegen",
                "wasmparser",
                "wasm-encoder",
                "criterion",
                "wasmtime",
                "wasmi"
            ])
        );
        let _ = writeln!(
            o,
            "* load average (1, 5, 15 min) before: {}; after: {}; run took {:.0} s",
            self.load.0,
            self.load.1,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            o,
            "* Method: release build; every body runs on the main thread (8 MiB stack). \
             Warm-up {} ms, then batches of ≈{} ms (many iterations for fast bodies) until \
             the budget ({} ms, compilation {} ms) is spent, {}–{} batches; the table shows the \
             **median** time per iteration and ± half the interquartile range of the batches \
             (noise). Inputs are generated with fixed seeds (`realistic::SEED`), so every run \
             measures the same bytes. Instantiation batches prepare their inputs first and drop \
             the outputs after the timing.",
            measure::WARM_UP.as_millis(),
            measure::BATCH.as_millis(),
            budgets(self.quick).0.as_millis(),
            budgets(self.quick).1.as_millis(),
            measure::MIN_SAMPLES,
            measure::MAX_SAMPLES
        );
        let _ = writeln!(
            o,
            "* Noise: the machine is shared (other builds run at the same time, see the load \
             average); with load above the core count expect 10–30% run-to-run differences on \
             the fast rows. Ratios measured back to back (metered/unmetered) are steadier than \
             absolute times.\n"
        );

        // Compilation.
        let _ = writeln!(o, "## Compilation\n");
        let _ = writeln!(
            o,
            "Realistic generated modules (`realistic::module`: functions of 10–120 fragments of \
             arithmetic, loads/stores, branches, loops, direct and indirect calls, globals; one \
             memory, a table, a data segment). `Module::new` is the whole pipeline: validate, \
             instrument (when metered), compile with Cranelift (`OptLevel::Speed`), load the \
             code. Single-threaded.\n"
        );
        let _ = writeln!(
            o,
            "| module | bytes | validate + instrument | compile, metered | compile, unmetered |\n| --- | ---: | ---: | ---: | ---: |"
        );
        for (i, (name, _)) in SIZES.iter().enumerate() {
            let bytes = self.input_sizes[i];
            let cell = |s: &Sample| {
                format!(
                    "{} ({:.1} MB/s, {})",
                    time(s.median_ns),
                    mb_per_s(bytes, s.median_ns),
                    spread(s)
                )
            };
            let _ = writeln!(
                o,
                "| {name} | {bytes} | {} | {} | {} |",
                cell(&self.front_end[i]),
                cell(&self.compile_metered[i]),
                cell(&self.compile_unmetered[i])
            );
        }
        let _ = writeln!(o);

        let _ = writeln!(o, "### Modules at the `Limits::contract()` boundaries\n");
        let _ = writeln!(
            o,
            "Each compiled (metered, contract limits) at the limit and at half of it, \
             alternately (one compilation per sample, `measure::paired`); \
             \"doubling\" is time(full) / time(half): 2.0 is linear, 4.0 quadratic. The realistic \
             1 MB module costs {:.0} ns/byte for comparison.\n",
            self.compile_metered.last().map_or(0.0, |s| s.median_ns)
                / self.input_sizes.last().copied().unwrap_or(1) as f64
        );
        let _ = writeln!(
            o,
            "| module | limit | bytes | compile | ns/byte | half: bytes | half: compile | doubling |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for (module, full, half_bytes, half) in &self.limits {
            let bytes = module.bytes.len();
            let _ = writeln!(
                o,
                "| `{}` | {} | {bytes} | {} ({}) | {:.0} | {half_bytes} | {} | {:.2} |",
                module.name,
                module.limit,
                time(full.median_ns),
                spread(full),
                full.median_ns / bytes as f64,
                time(half.median_ns),
                full.median_ns / half.median_ns
            );
        }
        let _ = writeln!(o);

        let _ = writeln!(o, "### Adversarial compile corpus\n");
        let _ = writeln!(
            o,
            "The shapes of `detvm_fixtures::adversarial::compile_corpus`, built to make a \
             compiler superlinear while staying inside `Limits::contract()` (values live \
             across checks and calls, deep operand stacks of every type, many blocks with \
             many live locals, the widest `br_table`, a body at the size limit). Each is \
             compiled (metered, contract limits) at `n` and at `2n`{}, alternately \
             (`measure::paired`); \"doubling\" is time(2n) / time(n): 2.0 is linear, 4.0 \
             quadratic. \"work\" is the number of instructions executed inside \
             `Module::new` (validate, instrument, translate, Cranelift, link) for one \
             compilation, counted by callgrind: unlike time it does not move with the \
             machine's load, so the goal is decided on its doubling. \
             `vm/tests/adversarial_compile.rs` fails above a time doubling of 3.0.\n",
            if self.quick {
                " (in quick mode `2n` is an eighth of the largest size)"
            } else {
                ", `2n` the largest size the limits accept"
            }
        );
        let _ = writeln!(
            o,
            "| shape | n counts | n | bytes | compile | 2n: bytes | 2n: compile | ns/byte at 2n | doubling | work at 2n | instructions/byte at 2n | work doubling |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for (i, (pair, half, full)) in self.adversarial.iter().enumerate() {
            let work = match &self.adversarial_work {
                Work::Counted(counts) => {
                    let (w_half, w_full) = counts[i];
                    format!(
                        "{:.2} G | {:.0} | {:.2}",
                        w_full as f64 / 1e9,
                        w_full as f64 / pair.full.len() as f64,
                        w_full as f64 / w_half as f64
                    )
                }
                Work::Missing(_) => "– | – | –".into(),
            };
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | {} ({}) | {} | {} ({}) | {:.0} | {:.2} | {work} |",
                pair.name,
                pair.describe,
                pair.n,
                pair.half.len(),
                time(half.median_ns),
                spread(half),
                pair.full.len(),
                time(full.median_ns),
                spread(full),
                full.median_ns / pair.full.len() as f64,
                full.median_ns / half.median_ns
            );
        }
        let _ = writeln!(o);

        // Instantiation and calls.
        let _ = writeln!(o, "## Instantiation and calls\n");
        let _ = writeln!(
            o,
            "The small contract (`fixtures::CONTRACT_WAT`: one host import, 1 page of memory, \
             a table of 8 with an element segment, 4 globals, a data segment of 114 bytes, 7 \
             functions), metered engine.\n"
        );
        let _ = writeln!(o, "| benchmark | median | noise |\n| --- | ---: | ---: |");
        let row = |o: &mut String, name: &str, s: &Sample| {
            let _ = writeln!(o, "| {name} | {} | {} |", time(s.median_ns), spread(s));
        };
        row(&mut o, "instantiate: fresh store + instance", &instantiate);
        row(&mut o, "instantiate: instance only", &instance_only);
        for (setting, calls) in [("metered", metered), ("unmetered", unmetered)] {
            row(
                &mut o,
                &format!("empty call, `Func::call` ({setting})"),
                &calls.call_empty,
            );
            row(
                &mut o,
                &format!("empty call, `TypedFunc::call` ({setting})"),
                &calls.call_typed,
            );
            row(
                &mut o,
                &format!("empty call, `Instance::call` by name ({setting})"),
                &calls.by_name,
            );
            let per_call = Sample {
                median_ns: calls.host.median_ns / f64::from(HOST_CALLS),
                p25_ns: calls.host.p25_ns / f64::from(HOST_CALLS),
                p75_ns: calls.host.p75_ns / f64::from(HOST_CALLS),
                ..calls.host
            };
            row(
                &mut o,
                &format!("wasm→host call, per call ({setting})"),
                &per_call,
            );
        }
        let _ = writeln!(o);

        // Kernels.
        let _ = writeln!(o, "## Kernels: metering on and off\n");
        let _ = writeln!(
            o,
            "Same module, same engine settings except `metering`. Off is the engine's \
             measurement-only setting (no instrumentation). The first three kernels are \
             hand-written loops (`fixtures::KERNELS_WAT`); each is measured at {} code placements (`fixtures::kernels_wasm_padded`: a never-called \
             function of 0, 1, … stores before the kernels): Cranelift does not align loop \
             headers, and where a hot loop lands relative to the CPU's fetch windows changes its \
             speed by up to 1.7× here; their cells are the median over placements \
             (fastest–slowest placement). The kernels marked Rust are the exports of the \
             `kernels` module built from Rust (`contracts/kernels`, `opt-level = 3`; inputs \
             generated inside the call, a checksum returned), measured at one placement, with \
             the noise of the batches. Ratios are of the medians.\n",
            fixtures::PLACEMENTS
        );
        let _ = writeln!(
            o,
            "| kernel | work | metered | unmetered | ratio |\n| --- | --- | ---: | ---: | ---: |"
        );
        for (i, kernel) in KERNELS.iter().enumerate() {
            let (m, u) = (&metered.kernels[i], &unmetered.kernels[i]);
            let cell = |p: &Placed| {
                format!(
                    "{} ({}–{})",
                    time(p.median.median_ns),
                    time(p.range.0),
                    time(p.range.1)
                )
            };
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | {:.2}× |",
                kernel.name,
                kernel.describe,
                cell(m),
                cell(u),
                ratios[i]
            );
        }
        for (i, kernel) in RUST_KERNELS.iter().enumerate() {
            let (m, u) = (&metered.rust_kernels[i], &unmetered.rust_kernels[i]);
            let _ = writeln!(
                o,
                "| `{}` (Rust) | {} | {} ({}) | {} ({}) | {:.2}× |",
                kernel.name,
                kernel.describe,
                time(m.median_ns),
                spread(m),
                time(u.median_ns),
                spread(u),
                ratios[KERNELS.len() + i]
            );
        }
        let _ = writeln!(o, "| **geomean** | | | | **{ratio_geomean:.2}×** |\n");

        if let Some(token) = self.token {
            let per_transfer = token.median_ns / token::TRANSFERS as f64;
            let _ = writeln!(o, "## Token transfers\n");
            let _ = writeln!(
                o,
                "The example token contract (`contracts/token`) on a chain over in-memory \
                 storage (`detvm_benches::token`): {} transfers between {} accounts, each one \
                 call the way a node runs it (look up and reuse the compiled module, \
                 instantiate, run `transfer` with metering, commit the state changes \
                 atomically). One core, the calling thread.\n",
                token::TRANSFERS,
                token::ACCOUNTS
            );
            let _ = writeln!(
                o,
                "| workload | median | per transfer | transfers per second |\n| --- | ---: | ---: | ---: |"
            );
            let _ = writeln!(
                o,
                "| {} transfers | {} ({}) | {} | {:.0} |\n",
                token::TRANSFERS,
                time(token.median_ns),
                spread(&token),
                time(per_transfer),
                1e9 / per_transfer
            );
            self.render_token_peers(&mut o, &token);
        }

        self.render_peers(&mut o, metered, instantiate);

        let _ = writeln!(o, "{}", ANALYSIS.trim_end());
        o
    }

    /// The token workload on the peers, under detvm's row.
    #[cfg(feature = "peers")]
    fn render_token_peers(&self, o: &mut String, token: &Sample) {
        if self.peers.is_empty() {
            return;
        }
        let _ = writeln!(
            o,
            "The peers run the same token bytes (uninstrumented), setup and ring of \
             transfers (`detvm_benches::peer_token`): a fresh store and instance per \
             transfer (wasmtime through `InstancePre`, wasmi through \
             `instantiate_and_start`), with a stub host of the same semantics (registers, \
             write overlay committed only if the call returns, logs, bounds checks, limits) \
             but no gas fees for host calls: peers meter the contract's code with their fuel, \
             or not at all. wasmtime uses its default (on-demand) instance allocator, not \
             the pooling one, so each instance maps its linear memory afresh. `detvm / peer` \
             below 1 means detvm is faster.\n"
        );
        let _ = writeln!(
            o,
            "| engine | {} transfers | per transfer | transfers per second | detvm / peer |\n\
             | --- | ---: | ---: | ---: | ---: |",
            token::TRANSFERS
        );
        let row = |o: &mut String, name: &str, sample: &Sample| {
            let per_transfer = sample.median_ns / token::TRANSFERS as f64;
            let _ = writeln!(
                o,
                "| {name} | {} ({}) | {} | {:.0} | {:.2}× |",
                time(sample.median_ns),
                spread(sample),
                time(per_transfer),
                1e9 / per_transfer,
                token.median_ns / sample.median_ns
            );
        };
        row(o, "detvm (metered)", token);
        for (name, results) in &self.peers {
            row(o, name, &results.token);
        }
        let _ = writeln!(o);
    }

    #[cfg(not(feature = "peers"))]
    fn render_token_peers(&self, o: &mut String, _: &Sample) {
        let _ = writeln!(
            o,
            "Peers: not measured (built without the `peers` feature).\n"
        );
    }

    #[cfg(feature = "peers")]
    fn render_peers(&self, o: &mut String, metered: &Calls, instantiate: Sample) {
        let _ = writeln!(o, "## Peers\n");
        let _ = writeln!(
            o,
            "The same `.wasm` inputs (uninstrumented: peers meter by themselves or not at \
             all) on wasmtime 48 (Cranelift, default settings, features `cranelift`, `runtime`, \
             `std` only, so single-threaded compilation), the same with `consume_fuel(true)`, \
             and the wasmi 2 interpreter with fuel and eager translation. Peers use typed \
             function handles and, for wasmtime, `InstancePre`; their kernels are measured at \
             one placement (no padding). detvm is metered throughout. \
             Cells are `detvm / peer` time ratios (below 1 means detvm is faster), with the \
             peer's own time.\n"
        );
        let mut header = String::from("| stage |");
        let mut rule = String::from("| --- |");
        let _ = write!(header, " detvm |");
        rule.push_str(" ---: |");
        for (name, _) in &self.peers {
            let _ = write!(header, " {name} |");
            rule.push_str(" ---: |");
        }
        let _ = writeln!(o, "{header}\n{rule}");

        type Pick = Box<dyn Fn(&detvm_benches::peers::PeerResults) -> f64>;
        let mut stages: Vec<(&str, String, f64, Pick)> = Vec::new();
        for (i, (name, _)) in SIZES.iter().enumerate() {
            stages.push((
                "compile",
                format!("compile {name}"),
                self.compile_metered[i].median_ns,
                Box::new(move |p| p.compile[i].median_ns),
            ));
        }
        stages.push((
            "instantiate",
            "instantiate".into(),
            instantiate.median_ns,
            Box::new(|p| p.instantiate.median_ns),
        ));
        stages.push((
            "calls",
            "empty call (typed handles)".into(),
            metered.call_typed.median_ns,
            Box::new(|p| p.call_empty.median_ns),
        ));
        stages.push((
            "calls",
            format!("{HOST_CALLS} host calls"),
            metered.host.median_ns,
            Box::new(|p| p.call_host.median_ns),
        ));
        for (i, kernel) in KERNELS.iter().enumerate() {
            stages.push((
                "kernels",
                format!("kernel `{}`", kernel.name),
                metered.kernels[i].median.median_ns,
                Box::new(move |p| p.kernels[i].median_ns),
            ));
        }
        for (i, kernel) in RUST_KERNELS.iter().enumerate() {
            stages.push((
                "kernels",
                format!("kernel `{}` (Rust)", kernel.name),
                metered.rust_kernels[i].median_ns,
                Box::new(move |p| p.kernels[KERNELS.len() + i].median_ns),
            ));
        }
        let mut by_stage: Vec<(&str, Vec<Vec<f64>>)> = Vec::new();
        for (stage, label, detvm, pick) in &stages {
            let mut line = format!("| {label} | {} |", time(*detvm));
            let ratios: Vec<f64> = self
                .peers
                .iter()
                .map(|(_, results)| {
                    let peer = pick(results);
                    let _ = write!(line, " {:.2} ({}) |", detvm / peer, time(peer));
                    detvm / peer
                })
                .collect();
            let _ = writeln!(o, "{line}");
            match by_stage.iter_mut().find(|(s, _)| s == stage) {
                Some((_, rows)) => rows.push(ratios),
                None => by_stage.push((stage, vec![ratios])),
            }
        }
        for (stage, rows) in &by_stage {
            let mut line = format!("| **geomean: {stage}** | |");
            for p in 0..self.peers.len() {
                let column: Vec<f64> = rows.iter().map(|r| r[p]).collect();
                let _ = write!(line, " **{:.2}** |", geomean(&column));
            }
            let _ = writeln!(o, "{line}");
        }
        let _ = writeln!(o);
    }

    /// The goals stated relative to the peers, as rows of the goals table.
    #[cfg(feature = "peers")]
    fn render_peer_goals(&self, o: &mut String, metered: &Calls) {
        use detvm_benches::peers::{Peer, PeerResults};
        // Goals relative to the peers, as detvm time / peer time.
        const GOAL_VS_WASMTIME_KERNELS: f64 = 1.3;
        const GOAL_VS_WASMTIME_FUEL_KERNELS: f64 = 1.0;
        const GOAL_VS_WASMI_FUEL_KERNELS: f64 = 0.2;
        const GOAL_VS_WASMTIME_COMPILE: f64 = 1.25;
        const GOAL_VS_WASMTIME_CALL: f64 = 1.5;
        let peer = |which: Peer| -> Option<&PeerResults> {
            self.peers
                .iter()
                .find(|(name, _)| *name == which.name())
                .map(|(_, results)| results)
        };
        let detvm_kernels: Vec<f64> = metered
            .kernels
            .iter()
            .map(|p| p.median.median_ns)
            .chain(metered.rust_kernels.iter().map(|s| s.median_ns))
            .collect();
        let kernel_ratios = |p: &PeerResults| -> (f64, f64) {
            let ratios: Vec<f64> = detvm_kernels
                .iter()
                .zip(&p.kernels)
                .map(|(d, s)| d / s.median_ns)
                .collect();
            (geomean(&ratios), ratios.iter().copied().fold(0.0, f64::max))
        };
        if let Some(p) = peer(Peer::Wasmtime) {
            let (g, worst) = kernel_ratios(p);
            let _ = writeln!(
                o,
                "| metered kernels ≤ 1.3× unmetered wasmtime (geomean) | geomean {g:.2}×, worst {worst:.2}× | {} |",
                verdict(g <= GOAL_VS_WASMTIME_KERNELS)
            );
        }
        if let Some(p) = peer(Peer::WasmtimeFuel) {
            let (g, worst) = kernel_ratios(p);
            let _ = writeln!(
                o,
                "| never slower than wasmtime with fuel | geomean {g:.2}×, worst {worst:.2}× | {} (geomean), {} (every kernel) |",
                verdict(g <= GOAL_VS_WASMTIME_FUEL_KERNELS),
                verdict(worst <= GOAL_VS_WASMTIME_FUEL_KERNELS)
            );
        }
        if let Some(p) = peer(Peer::WasmiFuel) {
            let (g, worst) = kernel_ratios(p);
            let _ = writeln!(
                o,
                "| at least 5× faster than wasmi with fuel | geomean {g:.2}× (time ratio), worst {worst:.2}× | {} (geomean), {} (every kernel) |",
                verdict(g <= GOAL_VS_WASMI_FUEL_KERNELS),
                verdict(worst <= GOAL_VS_WASMI_FUEL_KERNELS)
            );
        }
        if let Some(p) = peer(Peer::Wasmtime) {
            let ratios: Vec<f64> = self
                .compile_metered
                .iter()
                .zip(&p.compile)
                .map(|(d, w)| d.median_ns / w.median_ns)
                .collect();
            let g = geomean(&ratios);
            let _ = writeln!(
                o,
                "| compile (validate + instrument + Cranelift) ≤ 1.25× wasmtime | geomean {g:.2}× over the realistic modules | {} |",
                verdict(g <= GOAL_VS_WASMTIME_COMPILE)
            );
            // Like for like: both through typed handles. The untyped
            // `Func::call` is shown beside it, not hidden.
            let call = metered.call_typed.median_ns / p.call_empty.median_ns;
            let untyped = metered.call_empty.median_ns / p.call_empty.median_ns;
            let _ = writeln!(
                o,
                "| host→wasm call ≤ 1.5× wasmtime | {call:.2}× through typed handles ({} vs {}); `Func::call` {untyped:.2}× ({}) | {} |",
                time(metered.call_typed.median_ns),
                time(p.call_empty.median_ns),
                time(metered.call_empty.median_ns),
                verdict(call <= GOAL_VS_WASMTIME_CALL)
            );
        }
    }

    #[cfg(not(feature = "peers"))]
    fn render_peer_goals(&self, o: &mut String, _: &Calls) {
        let _ = writeln!(
            o,
            "| goals relative to wasmtime and wasmi | not measured (built without the `peers` feature) | — |"
        );
    }

    #[cfg(not(feature = "peers"))]
    fn render_peers(&self, o: &mut String, _: &Calls, _: Sample) {
        let _ = writeln!(
            o,
            "## Peers\n\nNot measured: built without the `peers` feature.\n"
        );
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn os() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{} {}",
        std::env::consts::OS,
        release.trim().trim_end_matches('\n')
    )
}

/// Runs this binary under callgrind once per shape and size.
fn count_adversarial_work(
    pairs: &[(fixtures::AdversarialPair, Sample, Sample)],
) -> Result<Vec<(u64, u64)>, String> {
    let me = std::env::current_exe().map_err(|e| format!("not measured: {e}"))?;
    let count = |name: &str, n: u32| {
        detvm_benches::work::count(&me, &["--compile-adversarial", name, &n.to_string()])
            .map_err(|e| format!("not measured: {name} at {n}: {e}"))
    };
    pairs
        .iter()
        .map(|(pair, _, _)| Ok((count(pair.name, pair.n)?, count(pair.name, 2 * pair.n)?)))
        .collect()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn rustc_version() -> String {
    Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map_or_else(|| "rustc: unknown".into(), |v| v.trim().to_string())
}

/// Versions of `names` as resolved in the workspace's `Cargo.lock` (the
/// newest when several are locked).
fn locked_versions(names: &[&str]) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .unwrap_or_default();
    let mut found = Vec::new();
    for name in names {
        let needle = format!("name = \"{name}\"\nversion = \"");
        let mut versions: Vec<&str> = lock
            .match_indices(&needle)
            .filter_map(|(at, _)| {
                let rest = &lock[at + needle.len()..];
                rest.split('"').next()
            })
            .collect();
        versions.sort_by_key(|v| {
            v.split('.')
                .map(|part| part.parse::<u64>().unwrap_or(0))
                .collect::<Vec<_>>()
        });
        if let Some(v) = versions.last() {
            found.push(format!("{name} {v}"));
        }
    }
    found.join(", ")
}
