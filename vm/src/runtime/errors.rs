//! Errors of the public API, trap kinds, and the error host functions return.

use std::sync::Arc;

use detvm_metering::MeteringError;

use crate::compile::CompileError;
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

/// An error of another crate (Cranelift, the OS) kept as the source of one
/// of ours. Shared so that our errors stay `Clone`. Those errors implement
/// no equality, so two are equal when their `Debug` renderings are: they
/// say the same thing.
pub struct SharedError<E>(Arc<E>);

impl<E> SharedError<E> {
    /// Wraps `error`.
    pub fn new(error: E) -> Self {
        Self(Arc::new(error))
    }

    /// The wrapped error.
    pub fn get(&self) -> &E {
        &self.0
    }
}

impl<E> Clone for SharedError<E> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<E: std::fmt::Debug> PartialEq for SharedError<E> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || format!("{:?}", self.0) == format!("{:?}", other.0)
    }
}

impl<E: std::fmt::Debug> Eq for SharedError<E> {}

impl<E: std::fmt::Debug> std::fmt::Debug for SharedError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::fmt::Display> std::fmt::Display for SharedError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

// Transparent: the chain goes on with the wrapped error's own source, as
// if it were there itself.
impl<E: std::error::Error> std::error::Error for SharedError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
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
    Compile(#[from] CompileError),
    /// The engine configuration is unusable.
    #[error("invalid engine configuration: {0}")]
    Config(#[from] ConfigError),
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
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// Host access to a memory or table outside its bounds, or to an
    /// immutable global.
    #[error(transparent)]
    Access(#[from] AccessError),
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
    /// An invariant of the engine did not hold: compiled code reported a
    /// trap code the runtime does not know, or a module (or a stored
    /// artifact) contradicts itself.
    #[error("internal engine error: {0}")]
    Internal(#[from] InternalError),
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

/// Why an [`EngineConfig`](crate::EngineConfig) is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Compiled code keeps the stack left in a signed 64-bit register.
    #[error("stack limit {limit} does not fit in i64")]
    StackLimitTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// With metering, a frame that charges nothing would let recursion go
    /// on without bound on the stack left, and nothing could bound the
    /// native stack.
    #[error("stack frame overhead must be at least 1 byte")]
    ZeroFrameOverhead,
}

/// Why a memory, table or the code of a module could not be allocated, or
/// an item could not be created as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// A memory's initial size is above the maximum it may grow to.
    #[error("memory of {pages} pages exceeds its maximum of {max_pages}")]
    MemoryOverMaximum {
        /// Initial size in pages.
        pages: u64,
        /// Maximum in pages (declared, capped by the engine's limit).
        max_pages: u64,
    },
    /// The allocator refused the memory.
    #[error("cannot allocate {} bytes of memory ({pages} pages)", u128::from(*.pages) * 65_536)]
    MemoryAllocation {
        /// Size asked for, in pages.
        pages: u64,
    },
    /// A memory type whose maximum is below its minimum or above the
    /// largest memory WebAssembly allows.
    #[error("invalid memory limits: minimum {minimum} pages, maximum {} pages", DisplayMax(*.maximum))]
    InvalidMemoryLimits {
        /// Minimum in pages.
        minimum: u64,
        /// Declared maximum in pages.
        maximum: Option<u64>,
    },
    /// A table's initial size is above the maximum it may grow to.
    #[error("table of {size} elements exceeds its maximum of {max}")]
    TableOverMaximum {
        /// Initial size in elements.
        size: u64,
        /// Maximum in elements (declared, capped by the engine's limit).
        max: u64,
    },
    /// The allocator refused the table.
    #[error("cannot allocate a table of {size} elements")]
    TableAllocation {
        /// Size asked for, in elements.
        size: u64,
    },
    /// A table type whose maximum is below its minimum.
    #[error("invalid table limits: minimum {minimum} elements, maximum {} elements", DisplayMax(*.maximum))]
    InvalidTableLimits {
        /// Minimum in elements.
        minimum: u64,
        /// Declared maximum in elements.
        maximum: Option<u64>,
    },
    /// A table of a non-reference type, or an initial value of another
    /// type than the elements.
    #[error(
        "table element type must be a reference type matching the initial value: elements are {element}, the initial value is {init}"
    )]
    TableElementType {
        /// The table's element type.
        element: super::ValType,
        /// The type of the initial value.
        init: super::ValType,
    },
    /// Executable memory for compiled code could not be mapped or
    /// protected. The machine's state, not the module's: the code cache
    /// does not remember it.
    #[error("code memory: {0}")]
    CodeMemory(#[source] SharedError<std::io::Error>),
}

/// Shows an optional maximum as a number or `none`.
struct DisplayMax(Option<u64>);

impl std::fmt::Display for DisplayMax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(max) => write!(f, "{max}"),
            None => f.write_str("none"),
        }
    }
}

/// Why the host's access to a memory, table or global was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// [`Memory::read`](crate::Memory::read) outside the memory.
    #[error(
        "memory read out of bounds: {len} bytes at offset {offset} of a memory of {size} bytes"
    )]
    MemoryReadOutOfBounds {
        /// First byte asked for.
        offset: u64,
        /// Bytes asked for.
        len: u64,
        /// The memory's size in bytes.
        size: u64,
    },
    /// [`Memory::write`](crate::Memory::write) outside the memory.
    #[error(
        "memory write out of bounds: {len} bytes at offset {offset} of a memory of {size} bytes"
    )]
    MemoryWriteOutOfBounds {
        /// First byte written.
        offset: u64,
        /// Bytes written.
        len: u64,
        /// The memory's size in bytes.
        size: u64,
    },
    /// [`Table::get`](crate::Table::get) or [`Table::set`](crate::Table::set)
    /// outside the table.
    #[error("table index out of bounds: index {index} of a table of {size} elements")]
    TableOutOfBounds {
        /// The index asked for.
        index: u64,
        /// The table's size in elements.
        size: u64,
    },
    /// A value of another type than the table's elements.
    #[error(
        "value does not match the table type: the table holds {expected}, the value is {actual}"
    )]
    TableTypeMismatch {
        /// The table's element type.
        expected: super::ValType,
        /// The value's type.
        actual: super::ValType,
    },
    /// A value of another type than the global's.
    #[error("global of type {expected} cannot hold a {actual}")]
    GlobalTypeMismatch {
        /// The global's type.
        expected: super::ValType,
        /// The value's type.
        actual: super::ValType,
    },
    /// [`Global::set`](crate::Global::set) on an immutable global.
    #[error("global is immutable")]
    ImmutableGlobal,
}

/// An invariant of the engine that did not hold. Each is a bug of the
/// engine (or a damaged stored artifact), never a result of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InternalError {
    /// Compiled code returned a trap code that does not exist.
    #[error("unknown trap code {code}")]
    UnknownTrapCode {
        /// The raw code.
        code: u32,
    },
    /// Compiled code returned a trap code that is not a contract result
    /// where only those are expected.
    #[error("unexpected trap code {code}")]
    UnexpectedTrapCode {
        /// The raw code.
        code: u32,
    },
    /// The signal handler that ends a call at a trap site could not be
    /// installed, so no call is made.
    #[error("the trap handler could not be installed")]
    TrapHandlerMissing,
    /// A function reference without code or a registered signature.
    #[error("function has no code or signature")]
    FunctionWithoutSignature,
    /// The module's start function index names no function.
    #[error("start function {index} out of range")]
    StartFunctionOutOfRange {
        /// The start function's index.
        index: u32,
    },
    /// An export names an item the instance does not have.
    #[error("export `{name}` unresolved")]
    ExportUnresolved {
        /// The export's name.
        name: String,
    },
    /// An instance was removed from its store while being initialised.
    #[error("instance vanished")]
    InstanceVanished,
    /// A constant expression refers to a function or global the instance
    /// does not have.
    #[error("constant expression refers to a missing item")]
    ConstExprMissingItem,
    /// The module's imports and its decoded import list disagree.
    #[error("import list mismatch")]
    ImportListMismatch,
    /// The compiled form of a module was asked for but not kept.
    #[error("artifact not kept")]
    ArtifactNotKept,
    /// A stored artifact's code and structure disagree in their counts.
    #[error("stored code does not match the stored module")]
    ArtifactMismatch,
    /// The module's instrumentation imports disagree with the engine's
    /// metering setting.
    #[error("instrumentation imports do not match the metering setting (metering is {})", if *.metering { "on" } else { "off" })]
    MeteringMismatch {
        /// The engine's metering setting.
        metering: bool,
    },
    /// A decoded module (or a stored artifact) contradicts itself: an
    /// index or range that validation guarantees is not there.
    #[error("{what}")]
    Inconsistent {
        /// What does not hold.
        what: &'static str,
    },
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
