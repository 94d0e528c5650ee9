//! The checks behind detvm's fuzzing: each takes arbitrary bytes, never
//! panics on its own account, and returns a typed finding when detvm does
//! something it must not. The `cargo fuzz` targets in `fuzz/` are thin
//! wrappers around them, the differential runner (`src/bin`) calls
//! [`differential`] in a loop, and the ordinary test suite replays the
//! checked-in corpus and every regression through the same functions.
//!
//! * [`front`]: arbitrary bytes through validation and instrumentation;
//! * [`differential`]: generated modules, detvm against wasmi;
//! * [`host_api`]: generated contracts calling the host API on a chain;
//! * [`decode`]: transactions and JSON-RPC requests from arbitrary bytes;
//! * [`frames`]: deep and wide native frames against the native stack.

pub mod decode;
pub mod differential;
pub mod frames;
pub mod front;
pub mod host_api;

/// The fuzz targets, by name: `fuzz/fuzz_targets/<name>.rs` and
/// `fuzz/corpus/<name>/`.
pub const TARGETS: &[&str] = &["front", "differential", "host_api", "decode", "frames"];

/// What any target found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Finding {
    /// From [`front`].
    #[error(transparent)]
    Front(#[from] front::FrontFinding),
    /// From [`differential`].
    #[error(transparent)]
    Differential(#[from] differential::Divergence),
    /// From [`host_api`].
    #[error(transparent)]
    HostApi(#[from] host_api::HostFinding),
    /// From [`decode`].
    #[error(transparent)]
    Decode(#[from] decode::DecodeFinding),
    /// From [`frames`].
    #[error(transparent)]
    Frames(#[from] frames::FrameFinding),
    /// A target name not in [`TARGETS`].
    #[error("no fuzz target `{0}`")]
    UnknownTarget(String),
}

/// Rounds of calls per export in the differential target: enough to reach
/// state left by earlier calls, few enough for many modules a second.
pub const DIFFERENTIAL_ROUNDS: usize = 8;

/// Runs the check of `target` on `data`, as its fuzz target does.
pub fn check_target(target: &str, data: &[u8]) -> Result<(), Finding> {
    match target {
        "front" => front::check(data).map(drop)?,
        "differential" => {
            let data = data.to_vec();
            on_big_stack(differential::STACK_SIZE, move || {
                let engine = differential_engine(data.first().is_some_and(|b| b & 1 == 1));
                engine.check(&data, DIFFERENTIAL_ROUNDS, differential::ArgSource::Input)
            })
            .map(drop)?
        }
        "host_api" => host_api::check(data).map(drop)?,
        "decode" => {
            decode::check_bytes(data)?;
            decode::check_rpc(data)?
        }
        "frames" => frames::check(data)?,
        other => return Err(Finding::UnknownTarget(other.to_owned())),
    }
    Ok(())
}

/// The engines of the differential target, made once per process: both
/// translation strategies, chosen by the input's first bit.
fn differential_engine(slot_strategy_only: bool) -> &'static differential::Differential {
    use std::sync::OnceLock;
    static ENGINES: OnceLock<[differential::Differential; 2]> = OnceLock::new();
    let engines = ENGINES.get_or_init(|| {
        [false, true].map(|slot| {
            differential::Differential::new(slot)
                .unwrap_or_else(|e| panic!("cannot make the engine: {e}"))
        })
    });
    &engines[usize::from(slot_strategy_only)]
}

/// Runs `f` on a new thread of `stack` bytes and returns what it returned;
/// a panic on that thread is resumed on the caller's.
pub fn on_big_stack<R: Send + 'static>(stack: usize, f: impl FnOnce() -> R + Send + 'static) -> R {
    let thread = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start a thread of {stack} bytes: {e}"));
    match thread.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
