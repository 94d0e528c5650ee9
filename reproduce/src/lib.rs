//! `detvm reproduce`: one command that runs a fixed conformance corpus
//! through the whole pipeline (validate, instrument, compile, run) and
//! prints a digest per section and one for everything, so anyone can check
//! that their CPU computes exactly what every other node computes.
//!
//! This crate owns the corpus (built in: nothing is read from the network
//! or from files, except a node's state for the optional replay), the
//! canonical transcript of each case, the digests, the reference digests of
//! this corpus version ([`reference`], from `golden.json`) and the
//! comparison that names the first differing section and case.
//! `docs/determinism.md` ("Checking a machine") is the user's description.
//!
//! Sections, in order:
//! * `spec`: the official WebAssembly 2.0 suite, per script: directives
//!   passed, failed, skipped, and each failure's line and message;
//! * `determinism`: NaN producers, every trap kind, gas-heavy loops, the
//!   stack bound ([`determinism`]);
//! * `generated`: fixed-seed generated modules: every export called with
//!   fixed arguments at several gas limits, each outcome with the final
//!   memories, globals and tables ([`generated`]);
//! * `contracts`: the example contracts (frozen copies) deployed and
//!   called through the chain's runtime: receipt hashes, gas, balances
//!   ([`contracts`]);
//! * `replay` (only with a node's state directory): its blocks re-executed
//!   from genesis: state roots and receipts roots ([`replay`]).

#![deny(missing_docs)]

use std::fmt::Write as _;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub mod cli;
pub mod contracts;
pub mod determinism;
pub mod generated;
pub mod replay;
pub mod spec;

/// Version of the corpus. Any change to what a section runs, or to how a
/// case is written, is a new version with new reference digests.
pub const CORPUS_VERSION: u32 = 1;

/// The sections every run has, in order (`replay` comes after them when a
/// state directory is given).
pub const SECTIONS: [&str; 4] = ["spec", "determinism", "generated", "contracts"];

/// What can stop a run (a difference in results is a [`Difference`], not
/// an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A corpus item the corpus itself guarantees failed to build: a bug
    /// in this crate or an engine that refuses what it must accept.
    #[error("corpus error: {0}")]
    Corpus(String),
    /// The engine failed outside any contract's execution.
    #[error("engine error: {0}")]
    Engine(#[source] EngineError),
    /// The node's state directory could not be replayed.
    #[error("replay: {0}")]
    Replay(String),
    /// A reference file does not parse.
    #[error("invalid reference: {0}")]
    Reference(String),
    /// An unknown section name was given.
    #[error("unknown section `{0}` (sections: spec, determinism, generated, contracts)")]
    UnknownSection(String),
}

/// How the engine (or the chain around it) failed outside any contract's
/// execution; keeps the failure itself as the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The engine could not be created.
    #[error("{0}")]
    Vm(#[source] detvm_vm::Error),
    /// A call of a corpus case failed in the engine.
    #[error("{case}: {source}")]
    Call {
        /// The case, as its transcript names it.
        case: String,
        /// The engine's error.
        #[source]
        source: detvm_vm::Error,
    },
    /// The chain of the contracts section failed.
    #[error("{0}")]
    Chain(#[source] detvm_host::Error),
    /// The storage under that chain failed.
    #[error("{0}")]
    Storage(#[source] detvm_host::StorageError),
}

/// One case: its name and the SHA-256 of its transcript (what this machine
/// computed, written canonically).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Unique within its section.
    pub name: String,
    /// SHA-256 of the transcript.
    pub digest: [u8; 32],
    /// The transcript, when computed here (empty for a reference case).
    pub transcript: String,
}

impl Case {
    /// A case computed here.
    pub fn new(name: impl Into<String>, transcript: impl Into<String>) -> Self {
        let transcript = transcript.into();
        Self {
            name: name.into(),
            digest: Sha256::digest(transcript.as_bytes()).into(),
            transcript,
        }
    }
}

/// One section's cases and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `spec`, `determinism`, `generated`, `contracts` or `replay`.
    pub name: String,
    /// In the corpus's order.
    pub cases: Vec<Case>,
}

impl Section {
    /// SHA-256 over the section name and a line `name digest` per case.
    pub fn digest(&self) -> [u8; 32] {
        let mut text = format!("{}\n", self.name);
        for case in &self.cases {
            let _ = writeln!(text, "{} {}", case.name, hex(&case.digest));
        }
        Sha256::digest(text.as_bytes()).into()
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The corpus version.
    pub version: u32,
    /// The sections run, in order.
    pub sections: Vec<Section>,
}

impl Report {
    /// SHA-256 over the corpus version and a line `name digest` per
    /// section: the one digest machines compare.
    pub fn digest(&self) -> [u8; 32] {
        let mut text = format!("detvm-reproduce/v{}\n", self.version);
        for section in &self.sections {
            let _ = writeln!(text, "{} {}", section.name, hex(&section.digest()));
        }
        Sha256::digest(text.as_bytes()).into()
    }

    /// Whether every standard section ran (none skipped).
    pub fn is_complete(&self) -> bool {
        SECTIONS
            .iter()
            .all(|name| self.sections.iter().any(|s| s.name == *name))
    }

    /// The report as JSON: version, digest, and per section its digest and
    /// cases (name, digest).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "corpus_version": self.version,
            "digest": hex(&self.digest()),
            "complete": self.is_complete(),
            "sections": self.sections.iter().map(|s| serde_json::json!({
                "name": s.name,
                "digest": hex(&s.digest()),
                "cases": s.cases.iter().map(|c| serde_json::json!({
                    "name": c.name,
                    "digest": hex(&c.digest),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// Reads [`Report::to_json`]'s output back (the digests are recomputed
    /// from the cases and must agree with the ones written).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let bad = |what: &str| Error::Reference(what.to_owned());
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Reference(e.to_string()))?;
        let version = value["corpus_version"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| bad("no corpus_version"))?;
        let mut sections = Vec::new();
        for section in value["sections"]
            .as_array()
            .ok_or_else(|| bad("no sections"))?
        {
            let name = section["name"]
                .as_str()
                .ok_or_else(|| bad("a section without a name"))?;
            let mut cases = Vec::new();
            for case in section["cases"]
                .as_array()
                .ok_or_else(|| bad("a section without cases"))?
            {
                let case_name = case["name"]
                    .as_str()
                    .ok_or_else(|| bad("a case without a name"))?;
                let digest = case["digest"]
                    .as_str()
                    .and_then(parse_digest)
                    .ok_or_else(|| bad(&format!("case {case_name}: no digest")))?;
                cases.push(Case {
                    name: case_name.to_owned(),
                    digest,
                    transcript: String::new(),
                });
            }
            let written = section["digest"].as_str().map(str::to_owned);
            let section = Section {
                name: name.to_owned(),
                cases,
            };
            if written.as_deref() != Some(hex(&section.digest()).as_str()) {
                return Err(bad(&format!(
                    "section {name}: its digest does not follow from its cases"
                )));
            }
            sections.push(section);
        }
        let report = Self { version, sections };
        if value["digest"].as_str() != Some(hex(&report.digest()).as_str()) {
            return Err(bad("the digest does not follow from the sections"));
        }
        Ok(report)
    }
}

/// Where two reports first differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The section.
    pub section: String,
    /// The first case (in this machine's order) that differs, if the
    /// sections have comparable cases.
    pub case: Option<String>,
    /// What differs.
    pub detail: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.case {
            Some(case) => write!(f, "section {}, case {case}: {}", self.section, self.detail),
            None => write!(f, "section {}: {}", self.section, self.detail),
        }
    }
}

/// The first difference between `ours` and `expected`, comparing only the
/// sections `ours` ran (a skipped section is not a difference). `None`:
/// every section that ran matches.
pub fn compare(ours: &Report, expected: &Report) -> Option<Difference> {
    if ours.version != expected.version {
        return Some(Difference {
            section: "corpus".into(),
            case: None,
            detail: format!(
                "corpus version {} here, {} expected",
                ours.version, expected.version
            ),
        });
    }
    for section in &ours.sections {
        let Some(theirs) = expected.sections.iter().find(|s| s.name == section.name) else {
            return Some(Difference {
                section: section.name.clone(),
                case: None,
                detail: "the expected report has no such section".into(),
            });
        };
        if section.digest() == theirs.digest() {
            continue;
        }
        for (i, case) in section.cases.iter().enumerate() {
            match theirs.cases.get(i) {
                Some(other) if other.name != case.name => {
                    return Some(Difference {
                        section: section.name.clone(),
                        case: Some(case.name.clone()),
                        detail: format!("expected case `{}` at this position", other.name),
                    });
                }
                Some(other) if other.digest != case.digest => {
                    return Some(Difference {
                        section: section.name.clone(),
                        case: Some(case.name.clone()),
                        detail: if case.transcript.is_empty() {
                            "different outcome".into()
                        } else {
                            format!("this machine computed: {}", case.transcript.trim_end())
                        },
                    });
                }
                Some(_) => {}
                None => {
                    return Some(Difference {
                        section: section.name.clone(),
                        case: Some(case.name.clone()),
                        detail: "not in the expected report".into(),
                    });
                }
            }
        }
        return Some(Difference {
            section: section.name.clone(),
            case: None,
            detail: format!(
                "{} cases here, {} expected",
                section.cases.len(),
                theirs.cases.len()
            ),
        });
    }
    None
}

/// The reference report of this corpus version: what every machine must
/// compute (`golden.json`, regenerated with `BLESS=1 cargo test -p
/// detvm-reproduce` only for a deliberate change).
pub fn reference() -> Result<Report, Error> {
    Report::from_json(include_str!("../golden.json"))
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Sections not to run (`spec` is the slow one under emulation).
    pub skip: Vec<String>,
    /// A node's state directory to replay (section `replay`).
    pub state: Option<PathBuf>,
    /// The genesis file of that node (default: the dev genesis).
    pub genesis: Option<PathBuf>,
}

/// Runs the corpus. The recursion cases need a large native stack: call
/// from a thread with at least 256 MiB (the command line does).
pub fn run(options: &Options) -> Result<Report, Error> {
    for name in &options.skip {
        if !SECTIONS.contains(&name.as_str()) {
            return Err(Error::UnknownSection(name.clone()));
        }
    }
    let wanted = |name: &str| !options.skip.iter().any(|s| s == name);
    let mut sections = Vec::new();
    if wanted("spec") {
        sections.push(Section {
            name: "spec".into(),
            cases: spec::cases(),
        });
    }
    if wanted("determinism") {
        sections.push(Section {
            name: "determinism".into(),
            cases: determinism::cases(&determinism::engine(false)?)?,
        });
    }
    if wanted("generated") {
        sections.push(Section {
            name: "generated".into(),
            cases: generated::cases(&generated::engine()?)?,
        });
    }
    if wanted("contracts") {
        sections.push(Section {
            name: "contracts".into(),
            cases: contracts::cases()?,
        });
    }
    if let Some(state) = &options.state {
        sections.push(Section {
            name: "replay".into(),
            cases: replay::cases(state, options.genesis.as_deref())?,
        });
    }
    Ok(Report {
        version: CORPUS_VERSION,
        sections,
    })
}

/// A value as the transcripts write it: type and exact bits.
pub fn render_value(value: &detvm_vm::Value) -> String {
    use detvm_vm::Value;
    match value {
        Value::I32(v) => format!("i32:{v}"),
        Value::I64(v) => format!("i64:{v}"),
        Value::F32(bits) => format!("f32:{bits:#010x}"),
        Value::F64(bits) => format!("f64:{bits:#018x}"),
        Value::FuncRef(None) => "funcref:null".into(),
        Value::FuncRef(Some(_)) => "funcref:non-null".into(),
        Value::ExternRef(None) => "externref:null".into(),
        Value::ExternRef(Some(_)) => "externref:non-null".into(),
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 64-digit hex digest.
pub fn parse_digest(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
