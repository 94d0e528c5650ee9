//! Errors of the public API, trap kinds, and the error host functions return.

use detvm_metering::MeteringError;

use crate::env::EnvError;
use crate::vmctx::TrapCode;

/// Why a call stopped early with a result the chain agrees on: every node
/// reports the same kind at the same point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrapKind {
    /// `unreachable` was executed.
    Unreachable,
    /// A memory access, bulk memory operation or host memory access was out
    /// of bounds.
    MemoryOutOfBounds,
    /// A table access or bulk table operation was out of bounds.
    TableOutOfBounds,
    /// `call_indirect` hit a null table element.
    UninitializedElement,
    /// `call_indirect` hit a function of another signature.
    IndirectCallTypeMismatch,
    /// Integer division or remainder by zero.
    IntegerDivideByZero,
    /// Signed division overflow, or a float-to-int truncation out of range.
    IntegerOverflow,
    /// Float-to-int truncation of a NaN.
    InvalidConversionToInteger,
    /// The gas limit was reached.
    OutOfGas,
    /// The deterministic stack limit was reached.
    StackOverflow,
    /// A host function trapped; the outcome carries its message.
    Host,
}

impl TrapKind {
    /// The stable name of the trap kind, for logs and JSON. The names are
    /// defined once, with the trap codes compiled code stores.
    pub fn name(self) -> &'static str {
        self.code().name()
    }

    /// The trap code compiled code stores for this kind.
    pub(crate) fn code(self) -> TrapCode {
        match self {
            Self::Unreachable => TrapCode::Unreachable,
            Self::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
            Self::TableOutOfBounds => TrapCode::TableOutOfBounds,
            Self::UninitializedElement => TrapCode::UninitializedElement,
            Self::IndirectCallTypeMismatch => TrapCode::IndirectCallTypeMismatch,
            Self::IntegerDivideByZero => TrapCode::IntegerDivideByZero,
            Self::IntegerOverflow => TrapCode::IntegerOverflow,
            Self::InvalidConversionToInteger => TrapCode::InvalidConversionToInteger,
            Self::OutOfGas => TrapCode::OutOfGas,
            Self::StackOverflow => TrapCode::StackOverflow,
            Self::Host => TrapCode::Host,
        }
    }

    /// The kind for a trap code; `None` for codes that are not contract
    /// results (no trap, the native stack safety net).
    pub(crate) fn from_code(code: TrapCode) -> Option<Self> {
        Some(match code {
            TrapCode::None | TrapCode::NativeStackExhausted => return None,
            TrapCode::Unreachable => Self::Unreachable,
            TrapCode::MemoryOutOfBounds => Self::MemoryOutOfBounds,
            TrapCode::TableOutOfBounds => Self::TableOutOfBounds,
            TrapCode::UninitializedElement => Self::UninitializedElement,
            TrapCode::IndirectCallTypeMismatch => Self::IndirectCallTypeMismatch,
            TrapCode::IntegerDivideByZero => Self::IntegerDivideByZero,
            TrapCode::IntegerOverflow => Self::IntegerOverflow,
            TrapCode::InvalidConversionToInteger => Self::InvalidConversionToInteger,
            TrapCode::OutOfGas => Self::OutOfGas,
            TrapCode::StackOverflow => Self::StackOverflow,
            TrapCode::Host => Self::Host,
        })
    }
}

impl std::fmt::Display for TrapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every way the engine can fail, as opposed to a contract trapping (which
/// is an [`Outcome::Trap`](crate::Outcome::Trap)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Validation or instrumentation rejected the module; the metering
    /// error keeps its kind, feature, limit and offset.
    #[error("module rejected: {0}")]
    Rejected(#[from] MeteringError),
    /// The module's structure could not be decoded after validation.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// Code generation failed.
    #[error("compilation failed: {0}")]
    Compile(String),
    /// The engine configuration is unusable.
    #[error("invalid engine configuration: {0}")]
    Config(String),
    /// An import could not be satisfied.
    #[error("cannot link import `{module}`.`{name}`: {reason}")]
    Link {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// What is missing or mismatched.
        reason: String,
    },
    /// Instantiation trapped: an active segment was out of bounds or the
    /// start function trapped. Effects on imported items made before the
    /// trap remain, as WebAssembly specifies.
    #[error("instantiation trapped: {kind}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Instantiation {
        /// The trap.
        kind: TrapKind,
        /// The host's message for [`TrapKind::Host`].
        message: Option<String>,
    },
    /// A call was made with wrong arguments or to something that is not a
    /// function.
    #[error(transparent)]
    Call(#[from] CallError),
    /// An object was used with a store it does not belong to, or a module
    /// with a store of another engine.
    #[error("object used with a store (or engine) it does not belong to")]
    WrongStore,
    /// A memory or table could not be allocated, or a value does not fit
    /// the item it is written to.
    #[error("{0}")]
    Resource(String),
    /// Host access to a memory or table outside its bounds, or to an
    /// immutable global.
    #[error("{0}")]
    Access(String),
    /// The current thread has too little native stack left for a call at
    /// the configured stack limit; call from a thread with a bigger stack.
    #[error("native stack too small: {needed} bytes needed, {available} available")]
    NativeStackTooSmall {
        /// Bytes the call may need.
        needed: u64,
        /// Bytes left on this thread.
        available: u64,
    },
    /// The native stack safety net fired before the deterministic stack
    /// limit did. This is an engine fault (or metering was off), never a
    /// contract result.
    #[error("native stack exhausted")]
    NativeStackExhausted,
    /// Compiled code reported a trap code the runtime does not know.
    #[error("internal engine error: {0}")]
    Internal(String),
}

impl Error {
    /// A stable identifier for the kind of error, for machines and JSON; a
    /// rejected module reports the metering error's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rejected(e) => e.kind(),
            Self::Env(_) => "env",
            Self::Compile(_) => "compile",
            Self::Config(_) => "config",
            Self::Link { .. } => "link",
            Self::Instantiation { .. } => "instantiation",
            Self::Call(_) => "call",
            Self::WrongStore => "wrong_store",
            Self::Resource(_) => "resource",
            Self::Access(_) => "access",
            Self::NativeStackTooSmall { .. } => "native_stack_too_small",
            Self::NativeStackExhausted => "native_stack_exhausted",
            Self::Internal(_) => "internal",
        }
    }

    /// The trap, if instantiation trapped.
    pub fn trap_kind(&self) -> Option<TrapKind> {
        match self {
            Self::Instantiation { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The metering error, if the module was rejected.
    pub fn as_rejected(&self) -> Option<&MeteringError> {
        match self {
            Self::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a call could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No export of that name.
    #[error("no export named `{0}`")]
    NoSuchExport(String),
    /// The export is not a function.
    #[error("export `{0}` is not a function")]
    NotAFunction(String),
    /// Wrong number of arguments.
    #[error("expected {expected} arguments, got {actual}")]
    ArgumentCount {
        /// Parameters of the function.
        expected: usize,
        /// Arguments given.
        actual: usize,
    },
    /// An argument of the wrong type.
    #[error("argument {index}: expected {expected}, got {actual}")]
    ArgumentType {
        /// Position of the argument.
        index: usize,
        /// Parameter type.
        expected: super::ValType,
        /// Type of the value given.
        actual: super::ValType,
    },
    /// A `funcref` argument belongs to another store.
    #[error("argument {0}: function reference from another store")]
    ForeignReference(usize),
    /// [`Func::typed`](crate::Func::typed) was asked for a signature the
    /// function does not have.
    #[error("function has signature {actual}, not {expected}")]
    SignatureMismatch {
        /// The signature asked for.
        expected: super::FuncType,
        /// The function's signature.
        actual: super::FuncType,
    },
}

/// What a host function returns to trap. Built with
/// [`HostError::message`], or returned by [`Caller`](crate::Caller) methods
/// when gas runs out or a memory access is out of bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct HostError {
    kind: TrapKind,
    message: Option<String>,
}

impl HostError {
    /// A trap of kind [`TrapKind::Host`] carrying `message`.
    pub fn message(message: impl Into<String>) -> Self {
        Self {
            kind: TrapKind::Host,
            message: Some(message.into()),
        }
    }

    /// The kind of trap this turns into.
    pub fn kind(&self) -> TrapKind {
        self.kind
    }

    /// The message of a [`TrapKind::Host`] trap.
    pub fn text(&self) -> Option<&str> {
        self.message.as_deref()
    }

    pub(crate) fn of_kind(kind: TrapKind) -> Self {
        Self {
            kind,
            message: None,
        }
    }

    pub(crate) fn into_parts(self) -> (TrapKind, Option<String>) {
        (self.kind, self.message)
    }

    fn describe(&self) -> String {
        match &self.message {
            Some(m) => format!("{}: {m}", self.kind),
            None => self.kind.to_string(),
        }
    }
}
