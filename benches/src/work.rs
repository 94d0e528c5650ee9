//! Compile work counted in instructions rather than seconds.
//!
//! Wall time on a shared machine moves by ±0.15 in a doubling ratio
//! between runs, more than the margin of a linearity goal of 2.2. The
//! number of instructions `Module::new` executes does not depend on the
//! machine's load: `valgrind --tool=callgrind`, collecting only inside
//! that function, gives the same count for the same binary and input
//! every time. The report uses it to decide whether compilation is
//! linear; wall time is shown beside it.

use std::path::Path;
use std::process::Command;

/// The function whose instructions are counted: everything a node does
/// to turn contract bytes into code (validate, instrument, translate,
/// Cranelift, link).
pub const COUNTED_FUNCTION: &str = "detvm_vm::runtime::module::Module::new";

/// Why a count could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// valgrind is not installed or could not start.
    #[error("cannot start valgrind: {0}")]
    Spawn(#[from] std::io::Error),
    /// The counted program failed.
    #[error("the counted program failed: {0}")]
    Failed(String),
    /// valgrind's summary had no instruction count.
    #[error("valgrind printed no instruction count")]
    NoCount,
}

/// Whether `valgrind` can be started.
pub fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Instructions executed inside [`COUNTED_FUNCTION`] while `program` runs
/// with `args`.
pub fn count(program: &Path, args: &[&str]) -> Result<u64, WorkError> {
    // callgrind writes a profile file; it is not needed, so it goes to a
    // temporary directory that is removed afterwards.
    let dir = std::env::temp_dir().join(format!("detvm-work-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let out = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!(
            "--callgrind-out-file={}",
            dir.join("callgrind.out").display()
        ))
        .arg("--collect-atstart=no")
        .arg(format!("--toggle-collect={COUNTED_FUNCTION}"))
        .arg(program)
        .args(args)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(WorkError::Failed(
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        ));
    }
    instruction_refs(&stderr).ok_or(WorkError::NoCount)
}

/// The total from callgrind's summary line `==PID== I   refs:      1,234`.
pub fn instruction_refs(valgrind_stderr: &str) -> Option<u64> {
    valgrind_stderr.lines().find_map(|line| {
        let (_, rest) = line.split_once("I   refs:")?;
        rest.trim().replace(',', "").parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_line() {
        let stderr = "==10376== Events    : Ir\n==10376== Collected : 116180552\n\
                      ==10376== \n==10376== I   refs:      116,180,552\n";
        assert_eq!(instruction_refs(stderr), Some(116_180_552));
    }

    #[test]
    fn no_summary_is_no_count() {
        assert_eq!(instruction_refs("==1== error\n"), None);
        assert_eq!(instruction_refs("==1== I   refs:      lots\n"), None);
    }
}
