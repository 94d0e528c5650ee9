//! Translation of a module's functions to native code with Cranelift.
//!
//! The code produced here follows the protocol of `docs/vm.md`: every
//! function takes its `VMContext` first, every check ends in a trap
//! instruction whose code the trap handler stores (`crate::runtime`'s
//! `trap_handler`), and all instance state is reached through the offsets
//! of [`crate::vmctx`].
//!
//! * [`make_isas`] builds the host ISAs with the settings determinism needs.
//! * [`compile_module`] translates every defined function, one entry
//!   trampoline and one host stub per type index into a [`CodeArtifact`]:
//!   a position-independent code image and what the runtime must know about
//!   it, which can be stored (`crate::artifact`).
//! * [`CompiledCode::load`] places an artifact in executable memory, for a
//!   fresh compilation and a cache hit alike.

mod charges;
mod control;
mod counted;
mod func_env;
mod proven;
mod trampolines;
mod translate;

#[cfg(test)]
mod tests;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, AbiParam, UserFuncName};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Module, ModuleReloc, ModuleRelocTarget};
use detvm_metering::ChargeSite;
use std::collections::HashMap;
use wasmparser::{FuncType, ValType};

use crate::artifact::image::{
    CodeImage, ImageReloc, ImageTrap, LoadError, LoadedCode, MathFn, RelocKind, RelocTarget,
};
use crate::env::ModuleEnv;
use crate::runtime::SharedError;
use crate::vmctx::EntryTrampoline;

/// The trap code of a trap site that ends the call with the code already
/// in `VMRuntime.trap_code` (set by a builtin or a host function): the
/// handler leaves it as it is. No `TrapCode` has this number. Compiled
/// functions test for it after builtins, host stubs after the host call.
const PROPAGATE_TRAP: ir::TrapCode = ir::TrapCode::unwrap_user(crate::vmctx::PROPAGATE_TRAP_CODE);

/// How hard Cranelift optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptLevel {
    /// No optimisation: fastest compilation.
    None,
    /// Optimise for speed.
    Speed,
}

/// Code generation settings chosen by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodegenConfig {
    /// Cranelift's optimisation level.
    pub opt_level: OptLevel,
    /// Whether Cranelift's IR verifier runs on every function (slower; for
    /// tests and debugging).
    pub verify: bool,
    /// Whether the engine meters (its modules are instrumented): selects
    /// the return registers that suit the counters (see `make_isa`). Code
    /// is correct either way.
    pub metering: bool,
    /// Whether counted loops are charged once, before they run (`docs/vm.md`,
    /// "Counted loops"). Off only where tests compare both ways.
    pub prepay_loops: bool,
    /// Whether every function is translated with [`Strategy::Slots`]
    /// (for tests of that strategy).
    pub slot_strategy_only: bool,
    /// Whether accesses fault instead of being checked where the target
    /// allows it (`docs/vm.md`, "Faulting loads"). Off only where tests
    /// compare both ways.
    pub faulting_accesses: bool,
}

impl Default for CodegenConfig {
    fn default() -> Self {
        Self {
            opt_level: OptLevel::Speed,
            verify: false,
            metering: true,
            prepay_loops: true,
            slot_strategy_only: false,
            faulting_accesses: true,
        }
    }
}

/// Why a module could not be compiled, or the code generator could not
/// be set up for the host.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompileError {
    /// The host cannot run compiled code, or a setting was rejected.
    #[error("unsupported host or code generation setting: {0}")]
    Isa(#[source] IsaError),
    /// A function body could not be translated (a profile gap or a
    /// malformed body that slipped past validation).
    #[error("function {func_index}, offset {offset}: {problem}")]
    Translate {
        /// Function index (imports included).
        func_index: u32,
        /// Byte offset in the module.
        offset: u64,
        /// What the translator found.
        problem: TranslateProblem,
    },
    /// Cranelift rejected or failed to compile a function.
    #[error("function {func_index}: code generation failed: {source}")]
    Codegen {
        /// Function index (imports included).
        func_index: u32,
        /// What failed.
        #[source]
        source: CodegenFailure,
    },
    /// A trampoline or host stub could not be compiled.
    #[error("{what} for type {type_index}: code generation failed: {source}")]
    Stub {
        /// `"entry trampoline"` or `"host stub"`.
        what: &'static str,
        /// Type index.
        type_index: u32,
        /// What failed.
        #[source]
        source: CodegenFailure,
    },
    /// The compiled functions could not be laid out as one code image.
    #[error("code image, function id {func_id}: {problem}")]
    Image {
        /// Cranelift's id of the function.
        func_id: usize,
        /// What is wrong.
        problem: ImageProblem,
    },
    /// The compiled code could not be placed in executable memory.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Why the code generator could not be set up for the host.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IsaError {
    /// Cranelift refused one of the flags compiled code relies on.
    #[error("{name}={value}: {source}")]
    Setting {
        /// The flag.
        name: &'static str,
        /// The value set.
        value: &'static str,
        /// Cranelift's error.
        #[source]
        source: SharedError<settings::SetError>,
    },
    /// Cranelift has no backend for the host CPU.
    #[error("{0}")]
    UnsupportedHost(&'static str),
    /// Cranelift could not build the ISA from the flags.
    #[error("{0}")]
    Build(#[source] SharedError<cranelift_codegen::CodegenError>),
}

/// What stopped the translation of a function. Modules are validated
/// first, so each of these is a gap between validation and the translator
/// or a bug in the engine, never a property of a module the profile
/// accepts; they are reported, never panicked on.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TranslateProblem {
    /// An operator the translator does not implement.
    #[error("operator outside the profile: {operator}")]
    Operator {
        /// The operator, as the decoder prints it.
        operator: String,
    },
    /// A value type the translator does not implement.
    #[error("{what} outside the profile")]
    ValueType {
        /// Where the type appeared (`"block type"`, `"result type"`, ...).
        what: &'static str,
    },
    /// A function type with a value type the translator does not
    /// implement.
    #[error("type {type_index} uses a value type outside the profile")]
    Signature {
        /// The type index.
        type_index: u32,
    },
    /// An index that names nothing in its index space.
    #[error("unknown {space} {index}")]
    UnknownIndex {
        /// The index space.
        space: IndexSpace,
        /// The index.
        index: u32,
    },
    /// The body's bytes could not be decoded.
    #[error("cannot decode the body: {message}")]
    Decode {
        /// The decoder's message.
        message: String,
    },
    /// The body's structure is not what validation guarantees: control
    /// operators that do not nest, operands that are not there.
    #[error("malformed body: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// Something the translator relies on does not hold.
    #[error("broken translator invariant: {what}")]
    Invariant {
        /// The invariant.
        what: &'static str,
    },
}

/// The index spaces a [`TranslateProblem::UnknownIndex`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexSpace {
    /// Function types.
    Type,
    /// Functions, imports included.
    Function,
    /// A function's locals, parameters included.
    Local,
    /// Globals, imports included.
    Global,
    /// The labels a branch can target, by depth.
    Label,
}

impl std::fmt::Display for IndexSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Type => "type",
            Self::Function => "function",
            Self::Local => "local",
            Self::Global => "global",
            Self::Label => "branch depth",
        })
    }
}

/// Why Cranelift could not compile one function, trampoline or stub.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodegenFailure {
    /// Cranelift's compilation failed. Shown with `Debug`: its `Display`
    /// of verifier errors leaves the errors themselves out.
    #[error("{0:?}")]
    Cranelift(#[source] SharedError<cranelift_codegen::CodegenError>),
    /// Cranelift's module could not declare the function.
    #[error("{}", module_error_message(.0.get()))]
    Declare(#[source] SharedError<cranelift_module::ModuleError>),
    /// Compilation succeeded without giving what the image needs.
    #[error("no {what} after compilation")]
    Incomplete {
        /// `"code"` or `"frame layout"`.
        what: &'static str,
    },
    /// Two functions were given the same id.
    #[error("function id {id} defined twice")]
    DefinedTwice {
        /// The id.
        id: usize,
    },
    /// A trampoline or stub was asked for a value type outside the
    /// profile.
    #[error("value type {0} outside the profile")]
    UnsupportedType(ValType),
    /// A trampoline or stub was built for a signature of another shape
    /// than it expects; names what is missing.
    #[error("{0}")]
    Signature(&'static str),
    /// A host stub's value array would not fit its stack slot.
    #[error("too many values")]
    TooManyValues,
}

/// Why compiled functions could not be laid out as one image.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageProblem {
    /// A function was declared but its code never given.
    #[error("declared but never defined")]
    NeverDefined,
    /// The image would be larger than 4 GiB, which its offsets cannot
    /// address.
    #[error("the image outgrows 4 GiB")]
    TooLarge,
    /// A relocation, library call or relocation target the loader cannot
    /// apply, as Cranelift names it.
    #[error("unsupported {what} {name}")]
    Unsupported {
        /// `"relocation"`, `"library call"` or `"relocation target"`.
        what: &'static str,
        /// Cranelift's name of it.
        name: String,
    },
}

/// The two host ISAs a module is compiled with: `normal` for functions
/// translated with [`Strategy::Registers`], `large` (no optimisation) for
/// those translated with [`Strategy::Slots`], whose code is already
/// linear and whose size would make the optimiser superlinear. Both
/// produce code with the same behaviour.
pub(crate) struct TargetIsas {
    /// The engine's settings.
    pub normal: OwnedTargetIsa,
    /// The settings for slot-strategy functions.
    pub large: OwnedTargetIsa,
    /// [`CodegenConfig::prepay_loops`], which travels with the ISAs to
    /// every compilation.
    pub prepay_loops: bool,
    /// [`CodegenConfig::slot_strategy_only`], likewise.
    pub slot_strategy_only: bool,
    /// Whether loads fault: [`CodegenConfig::faulting_accesses`] on a
    /// target that has faulting loads.
    pub faulting_loads: bool,
    /// Whether stores fault, likewise.
    pub faulting_stores: bool,
}

/// Builds both host ISAs (see [`TargetIsas`]).
pub(crate) fn make_isas(cfg: &CodegenConfig) -> Result<TargetIsas, CompileError> {
    Ok(TargetIsas {
        normal: make_isa(cfg, false)?,
        large: make_isa(cfg, true)?,
        prepay_loops: cfg.prepay_loops,
        slot_strategy_only: cfg.slot_strategy_only,
        faulting_loads: cfg.faulting_accesses && crate::vmctx::FAULTING_LOADS,
        faulting_stores: cfg.faulting_accesses && crate::vmctx::FAULTING_STORES,
    })
}

/// Builds the host ISA: Cranelift's native target with the flags that
/// compiled code relies on. `large` selects the settings for slot-strategy
/// functions: no optimisation, whatever `cfg.opt_level`. Both use the
/// backtracking register allocator: the single-pass one gives every value
/// that crosses a block boundary a stack slot of its own, so its frames
/// grow with the body instead of with what the Wasm keeps live
/// (`docs/vm.md`, native frames).
fn make_isa(cfg: &CodegenConfig, large: bool) -> Result<OwnedTargetIsa, CompileError> {
    let mut flags = settings::builder();
    let opt = match cfg.opt_level {
        _ if large => "none",
        OptLevel::None => "none",
        OptLevel::Speed => "speed",
    };
    let regalloc = "backtracking";
    let verify = if cfg.verify { "true" } else { "false" };
    // With metering, Wasm functions return the two counters after their
    // results (see `wasm_signature`). x86-64 System V has two integer result
    // registers; LLVM's extension adds a third (`rcx`), so the counters
    // and one integer result all stay in registers instead of a result
    // going through memory on the counters' path. The other effects of
    // this setting concern `i128` and `f128`, which compiled code never
    // uses. Without metering the platform convention is left as it is.
    let llvm_abi = if cfg.metering { "true" } else { "false" };
    let settings: [(&str, &str); 11] = [
        ("enable_llvm_abi_extensions", llvm_abi),
        ("opt_level", opt),
        ("regalloc_algorithm", regalloc),
        ("enable_verifier", verify),
        // NaN results must be bit-identical on every CPU; the translator
        // canonicalises where NaN bits become observable instead of after
        // every operator (`docs/vm.md`, "Floats").
        ("enable_nan_canonicalization", "false"),
        // Multi-value functions may return more values than registers.
        ("enable_multi_ret_implicit_sret", "true"),
        // Stack depth is bounded by instrumentation plus the prologue check,
        // never by probing.
        ("enable_probestack", "false"),
        // cranelift-jit resolves absolute relocations itself.
        ("is_pic", "false"),
        ("use_colocated_libcalls", "false"),
        // Nothing unwinds through compiled code: traps return normally.
        ("unwind_info", "false"),
        ("preserve_frame_pointers", "false"),
    ];
    for (name, value) in settings {
        flags.set(name, value).map_err(|e| {
            CompileError::Isa(IsaError::Setting {
                name,
                value,
                source: SharedError::new(e),
            })
        })?;
    }
    let builder =
        cranelift_native::builder().map_err(|e| CompileError::Isa(IsaError::UnsupportedHost(e)))?;
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| CompileError::Isa(IsaError::Build(SharedError::new(e))))
}

/// Executable code of one module: its defined functions, entry trampolines
/// and host stubs.
///
/// The code stays valid for as long as this value lives; whoever holds
/// pointers obtained from it (instances, `VMFuncRef`s) must keep it alive,
/// and no code from it may be running when it is dropped.
pub(crate) struct CompiledCode {
    /// Owns the mapping every address below points into; held for its
    /// `Drop`.
    _memory: LoadedCode,
    functions: Vec<usize>,
    trampolines: Vec<usize>,
    host_stubs: Vec<usize>,
    frames: NativeFrames,
    strategies: Vec<Strategy>,
}

/// How a function body is translated (`docs/vm.md`, two translation
/// strategies). Both give the same results, gas and traps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Locals in variables, operands in SSA values: fast code, for
    /// functions whose register pressure is linear in their size.
    Registers,
    /// Every local and operand-stack position in its own stack slot:
    /// linear compile time and a frame bounded by the charged one,
    /// whatever the function's shape.
    Slots,
}

/// What the runtime must know about the native frames of a module's
/// compiled functions to size the native stack (`docs/vm.md`, native
/// frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NativeFrames {
    /// The largest `⌈native frame / charged frame⌉` of any function: native
    /// bytes a chain of frames can use per byte of `stack_left` it was
    /// charged. `None` when the module is not instrumented (no charge).
    pub ratio: Option<u64>,
    /// The largest native frame of any function, in bytes.
    pub max_frame: u64,
}

impl std::fmt::Debug for CompiledCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledCode")
            .field("functions", &self.functions.len())
            .field("types", &self.trampolines.len())
            .finish_non_exhaustive()
    }
}

impl CompiledCode {
    /// Native code of defined function `defined_index` (function index minus
    /// the number of imported functions), with the Wasm calling convention.
    ///
    /// # Panics
    /// If `defined_index` is out of range: a bug in the caller.
    pub fn function(&self, defined_index: u32) -> *const u8 {
        self.functions[defined_index as usize] as *const u8
    }

    /// Number of defined functions.
    pub fn num_functions(&self) -> u32 {
        self.functions.len() as u32
    }

    /// The bounds on the module's native frames.
    pub fn native_frames(&self) -> NativeFrames {
        self.frames
    }

    /// How defined function `defined_index` was translated.
    #[cfg(test)]
    pub fn strategy(&self, defined_index: u32) -> Strategy {
        self.strategies[defined_index as usize]
    }

    /// The entry trampoline for functions of type `type_index`.
    ///
    /// # Panics
    /// If `type_index` is out of range: a bug in the caller.
    pub fn entry_trampoline(&self, type_index: u32) -> EntryTrampoline {
        let addr = self.trampolines[type_index as usize] as *const u8;
        // SAFETY: `addr` is the finalised, executable code of a function
        // compiled with exactly the `EntryTrampoline` signature (pointer,
        // pointer, pointer) -> () in the platform's C calling convention,
        // and it stays mapped while `self` lives.
        unsafe { std::mem::transmute::<*const u8, EntryTrampoline>(addr) }
    }

    /// The host stub for imported functions of type `type_index`: Wasm
    /// calling convention, forwards to `builtins.call_host`.
    ///
    /// # Panics
    /// If `type_index` is out of range: a bug in the caller.
    pub fn host_stub(&self, type_index: u32) -> *const u8 {
        self.host_stubs[type_index as usize] as *const u8
    }
}

/// A module's compiled code before it is placed in memory: what
/// [`compile_module`] produces, and what the code cache stores and loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodeArtifact {
    /// Every function, trampoline and stub, with its relocations.
    pub image: CodeImage,
    /// Image index of each defined function.
    pub functions: Vec<u32>,
    /// Image index of the entry trampoline of each type index.
    pub trampolines: Vec<u32>,
    /// Image index of the host stub of each type index.
    pub host_stubs: Vec<u32>,
    /// The bounds on the module's native frames.
    pub frames: NativeFrames,
    /// How each defined function was translated.
    pub strategies: Vec<Strategy>,
}

impl CompiledCode {
    /// Places `artifact` in executable memory. Every index it holds is
    /// checked against its image first, so a damaged artifact is an error,
    /// never a wild pointer.
    pub fn load(artifact: &CodeArtifact) -> Result<Self, LoadError> {
        let count = artifact.image.funcs.len();
        let in_image = |list: &[u32]| list.iter().all(|&i| (i as usize) < count);
        if !in_image(&artifact.functions)
            || !in_image(&artifact.trampolines)
            || !in_image(&artifact.host_stubs)
            || artifact.trampolines.len() != artifact.host_stubs.len()
            || artifact.strategies.len() != artifact.functions.len()
        {
            return Err(LoadError::SymbolTable);
        }
        let memory = LoadedCode::load(&artifact.image)?;
        let addresses = |list: &[u32]| list.iter().map(|&i| memory.function(i)).collect();
        Ok(Self {
            functions: addresses(&artifact.functions),
            trampolines: addresses(&artifact.trampolines),
            host_stubs: addresses(&artifact.host_stubs),
            frames: artifact.frames,
            strategies: artifact.strategies.clone(),
            _memory: memory,
        })
    }
}

/// The Cranelift type of a profile value type (references are pointers).
pub(crate) fn clif_type(ty: ValType) -> Option<ir::Type> {
    Some(match ty {
        ValType::I32 => ir::types::I32,
        ValType::I64 => ir::types::I64,
        ValType::F32 => ir::types::F32,
        ValType::F64 => ir::types::F64,
        ValType::Ref(r) if r.is_func_ref() || r.is_extern_ref() => ir::types::I64,
        _ => return None,
    })
}

/// The Wasm-convention signature of a function type: `(vmctx, params...) ->
/// results`, or in an instrumented module (`counters`) `(vmctx, gas_left,
/// stack_left, params...) -> (results..., gas_left, stack_left)`: Wasm→Wasm
/// calls pass the two counters in registers (`docs/vm.md`, calling
/// convention).
fn wasm_signature(ty: &FuncType, call_conv: CallConv, counters: bool) -> Option<ir::Signature> {
    let mut sig = ir::Signature::new(call_conv);
    sig.params.push(AbiParam::new(ir::types::I64));
    if counters {
        sig.params.extend([AbiParam::new(ir::types::I64); 2]);
    }
    for &p in ty.params() {
        sig.params.push(AbiParam::new(clif_type(p)?));
    }
    for &r in ty.results() {
        sig.returns.push(AbiParam::new(clif_type(r)?));
    }
    if counters {
        sig.returns.extend([AbiParam::new(ir::types::I64); 2]);
    }
    Some(sig)
}

/// Module-wide facts every function translation reads.
pub(crate) struct ModuleCtx<'m> {
    /// The module.
    pub env: &'m ModuleEnv,
    /// Whether the four `detvm` imports are present and lowered inline.
    pub instrumented: bool,
    /// Calling convention of every compiled function.
    pub call_conv: CallConv,
    /// Wasm-convention signature of every type index (with the counters
    /// when `instrumented`, see `wasm_signature`).
    pub signatures: Vec<ir::Signature>,
    /// JIT ids of the defined functions.
    pub func_ids: Vec<FuncId>,
    /// Whether counted loops are charged once, before they run.
    pub prepay_loops: bool,
    /// Whether loads fault instead of being checked (`docs/vm.md`,
    /// "Faulting loads").
    pub faulting_loads: bool,
    /// Whether stores fault instead of being checked.
    pub faulting_stores: bool,
}

/// One defined function's CLIF in Cranelift's text form.
pub(crate) struct FunctionClif {
    /// As the translator wrote it, before Cranelift's passes.
    pub translated: String,
    /// After Cranelift's passes (optimisation, legalisation), as lowered.
    pub optimised: String,
}

/// Compiles every defined function of `env` (decoded from `wasm`), plus one
/// entry trampoline and one host stub per type index. `frame_costs` are
/// the charged frame costs of the defined functions when `env` is
/// instrumented (`docs/gas.md` §5.3), which bound their native frames;
/// `charges` the charge sites of every defined function (`docs/vm.md`,
/// "Pipeline"), lowered as one unit each.
/// With `clif`, each defined function's CLIF for the strategy finally used
/// is pushed there, as the translator wrote it and as Cranelift's passes
/// left it: what golden-file tests compare and what tests of the optimised
/// code read.
pub(crate) fn compile_module(
    isas: &TargetIsas,
    env: &ModuleEnv,
    wasm: &[u8],
    frame_costs: Option<&[u64]>,
    charges: Option<&[Vec<ChargeSite>]>,
    mut clif: Option<&mut Vec<FunctionClif>>,
) -> Result<CodeArtifact, CompileError> {
    let isa = &isas.normal;
    let call_conv = isa.default_call_conv();
    // The JIT module only hands out function ids and declares callees in
    // function bodies; code goes to `image`, never into its memory, so it
    // maps nothing.
    let builder = JITBuilder::with_isa(isa.clone(), cranelift_module::default_libcall_names());
    let mut jit = JITModule::new(builder);
    let mut image = ImageBuilder::default();

    let instrumented = env.instrumented;
    // Every function uses the platform's convention, also for the two
    // counters of an instrumented module: next to a Wasm result they exceed
    // x86-64 System V's two result registers and return through memory.
    // Cranelift's `tail` convention would keep them in registers, but
    // measured slower on the loop kernels (BENCHMARKS.md, "Changes").
    let mut signatures = Vec::with_capacity(env.types.len());
    for (i, ty) in env.types.iter().enumerate() {
        signatures.push(wasm_signature(ty, call_conv, instrumented).ok_or_else(|| {
            CompileError::Translate {
                func_index: u32::MAX,
                offset: 0,
                problem: TranslateProblem::Signature {
                    type_index: i as u32,
                },
            }
        })?);
    }

    let imported = env.imported_funcs;
    if env.bodies.len() + imported as usize != env.funcs.len() {
        return Err(CompileError::Translate {
            func_index: imported,
            offset: 0,
            problem: TranslateProblem::Invariant {
                what: "function and code section lengths differ",
            },
        });
    }
    let mut func_ids = Vec::with_capacity(env.bodies.len());
    for (i, &ty) in env.funcs.iter().enumerate().skip(imported as usize) {
        let sig = signatures
            .get(ty as usize)
            .ok_or_else(|| CompileError::Translate {
                func_index: i as u32,
                offset: 0,
                problem: TranslateProblem::UnknownIndex {
                    space: IndexSpace::Type,
                    index: ty,
                },
            })?;
        let id = jit
            .declare_anonymous_function(sig)
            .map_err(|e| CompileError::Codegen {
                func_index: i as u32,
                source: CodegenFailure::Declare(SharedError::new(e)),
            })?;
        func_ids.push(id);
    }

    let mctx = ModuleCtx {
        env,
        instrumented,
        call_conv,
        signatures,
        func_ids,
        prepay_loops: isas.prepay_loops,
        faulting_loads: isas.faulting_loads,
        faulting_stores: isas.faulting_stores,
    };

    if let Some(costs) = frame_costs
        && costs.len() != env.bodies.len()
    {
        return Err(CompileError::Translate {
            func_index: imported,
            offset: 0,
            problem: TranslateProblem::Invariant {
                what: "frame costs do not match the function bodies",
            },
        });
    }
    // Only instrumentation writes charges, and it writes them for every body.
    if let Some(charges) = charges
        && (charges.len() != env.bodies.len() || !instrumented)
    {
        return Err(CompileError::Translate {
            func_index: imported,
            offset: 0,
            problem: TranslateProblem::Invariant {
                what: "charge sites do not match the function bodies",
            },
        });
    }
    let mut ctx = jit.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut frames = NativeFrames {
        ratio: frame_costs.map(|_| 1),
        max_frame: 0,
    };
    let mut strategies = Vec::with_capacity(env.bodies.len());
    for defined in 0..env.bodies.len() {
        let func_index = imported + defined as u32;
        let body = env
            .body(wasm, defined)
            .ok_or_else(|| CompileError::Translate {
                func_index,
                offset: 0,
                problem: TranslateProblem::Invariant {
                    what: "function body out of range",
                },
            })?;
        let body_size = env.bodies[defined].range.len();
        let sites = charges.map_or(&[][..], |charges| &charges[defined]);
        let function_charges = charges::Charges::new(sites, env.bodies[defined].range.start as u64);
        let scan = translate::scan_body(&body);
        let wasm_blocks = scan.as_ref().map_or(u32::MAX, |s| s.blocks);
        let mut scan = scan.unwrap_or_default();
        let charged = frame_costs.map(|costs| costs[defined]);
        let mut strategy = if isas.slot_strategy_only || is_large_function(wasm_blocks, body_size) {
            Strategy::Slots
        } else {
            Strategy::Registers
        };
        let mut translated = String::new();
        let mut optimised = String::new();
        let compiled = loop {
            let ty = env.funcs[func_index as usize];
            ctx.func.signature = mctx.signatures[ty as usize].clone();
            ctx.func.name = UserFuncName::user(0, func_index);
            scan.counters_in_variables = strategy == Strategy::Registers;
            let budget = match strategy {
                Strategy::Registers => Some(pressure_budget(body_size)),
                Strategy::Slots => None,
            };
            let outcome = translate::translate_function(
                &mctx,
                &mut jit,
                &mut ctx.func,
                &mut fctx,
                func_index,
                body.clone(),
                function_charges,
                &scan,
                strategy,
                budget,
            )?;
            let too_costly = match outcome {
                translate::Translation::Done => {
                    ctx.func.dfg.num_blocks() > LARGE_FUNCTION_CLIF_BLOCKS
                }
                translate::Translation::OverBudget => {
                    // The builder stopped mid-function; start afresh.
                    fctx = FunctionBuilderContext::new();
                    true
                }
            };
            if strategy == Strategy::Registers && too_costly {
                jit.clear_context(&mut ctx);
                strategy = Strategy::Slots;
                continue;
            }
            let isa = match strategy {
                Strategy::Registers => &isas.normal,
                Strategy::Slots => &isas.large,
            };
            if clif.is_some() {
                translated = ctx.func.display().to_string();
            }
            let compiled = compile_function(isa, mctx.func_ids[defined], &mut ctx)
                .map_err(|source| CompileError::Codegen { func_index, source })?;
            if clif.is_some() {
                optimised = ctx.func.display().to_string();
            }
            let over_frame = charged
                .is_some_and(|c| compiled.native_frame > FRAME_FACTOR.saturating_mul(c.max(1)));
            if strategy == Strategy::Registers && over_frame {
                jit.clear_context(&mut ctx);
                strategy = Strategy::Slots;
                continue;
            }
            break compiled;
        };
        image
            .define(mctx.func_ids[defined], &compiled)
            .map_err(|source| CompileError::Codegen { func_index, source })?;
        frames.max_frame = frames.max_frame.max(compiled.native_frame);
        if let (Some(ratio), Some(c)) = (frames.ratio.as_mut(), charged) {
            // Validation and instrumentation make every charged frame
            // at least the engine's (non-zero) frame overhead.
            *ratio = (*ratio).max(compiled.native_frame.div_ceil(c.max(1)));
        }
        strategies.push(strategy);
        if let Some(clif) = clif.as_deref_mut() {
            clif.push(FunctionClif {
                translated,
                optimised,
            });
        }
        jit.clear_context(&mut ctx);
    }

    // Structurally equal types share one trampoline and one stub.
    let mut first_of: HashMap<&FuncType, u32> = HashMap::new();
    let mut trampoline_ids: Vec<FuncId> = Vec::with_capacity(env.types.len());
    let mut stub_ids: Vec<FuncId> = Vec::with_capacity(env.types.len());
    for (i, ty) in env.types.iter().enumerate() {
        let i = i as u32;
        if let Some(&first) = first_of.get(ty) {
            trampoline_ids.push(trampoline_ids[first as usize]);
            stub_ids.push(stub_ids[first as usize]);
            continue;
        }
        first_of.insert(ty, i);
        let stub_err = |what: &'static str| {
            move |source: CodegenFailure| CompileError::Stub {
                what,
                type_index: i,
                source,
            }
        };

        let sig = trampolines::entry_trampoline_signature(call_conv);
        let id = jit.declare_anonymous_function(&sig).map_err(|e| {
            stub_err("entry trampoline")(CodegenFailure::Declare(SharedError::new(e)))
        })?;
        ctx.func.signature = sig;
        ctx.func.name = UserFuncName::user(1, i);
        trampolines::build_entry_trampoline(
            &mut ctx.func,
            &mut fctx,
            ty,
            &mctx.signatures[i as usize],
            instrumented,
            isa.frontend_config(),
        )
        .map_err(stub_err("entry trampoline"))?;
        let compiled = compile_function(isa, id, &mut ctx).map_err(stub_err("entry trampoline"))?;
        image
            .define(id, &compiled)
            .map_err(stub_err("entry trampoline"))?;
        jit.clear_context(&mut ctx);
        trampoline_ids.push(id);

        let sig = mctx.signatures[i as usize].clone();
        let id = jit
            .declare_anonymous_function(&sig)
            .map_err(|e| stub_err("host stub")(CodegenFailure::Declare(SharedError::new(e))))?;
        ctx.func.signature = sig;
        ctx.func.name = UserFuncName::user(2, i);
        trampolines::build_host_stub(
            &mut ctx.func,
            &mut fctx,
            ty,
            call_conv,
            instrumented,
            isa.frontend_config(),
        )
        .map_err(stub_err("host stub"))?;
        let compiled = compile_function(isa, id, &mut ctx).map_err(stub_err("host stub"))?;
        image.define(id, &compiled).map_err(stub_err("host stub"))?;
        jit.clear_context(&mut ctx);
        stub_ids.push(id);
    }

    let image = image.finish()?;
    let index = |id: &FuncId| id.as_u32();
    Ok(CodeArtifact {
        image,
        functions: mctx.func_ids.iter().map(index).collect(),
        trampolines: trampoline_ids.iter().map(index).collect(),
        host_stubs: stub_ids.iter().map(index).collect(),
        frames,
        strategies,
    })
}

/// [`compile_module`] then [`CompiledCode::load`], for tests of the
/// compiler that run code without a `Module`.
#[cfg(test)]
pub(crate) fn compile_and_load(
    isas: &TargetIsas,
    env: &ModuleEnv,
    wasm: &[u8],
    frame_costs: Option<&[u64]>,
    charges: Option<&[Vec<ChargeSite>]>,
) -> Result<CompiledCode, CompileError> {
    let artifact = compile_module(isas, env, wasm, frame_costs, charges, None)?;
    Ok(CompiledCode::load(&artifact)?)
}

/// Collects compiled functions into a [`CodeImage`] whose function `i` is
/// the one with `FuncId` `i`, so relocations between functions need no
/// other table.
#[derive(Default)]
struct ImageBuilder {
    /// Code, alignment and relocations by function id, until all are in.
    pending: Vec<Option<CompiledFunction>>,
}

impl ImageBuilder {
    fn define(&mut self, id: FuncId, compiled: &CompiledFunction) -> Result<(), CodegenFailure> {
        let i = id.as_u32() as usize;
        if self.pending.len() <= i {
            self.pending.resize_with(i + 1, || None);
        }
        if self.pending[i].is_some() {
            return Err(CodegenFailure::DefinedTwice { id: i });
        }
        self.pending[i] = Some(CompiledFunction {
            code: compiled.code.clone(),
            alignment: compiled.alignment,
            relocs: compiled.relocs.clone(),
            traps: compiled.traps.clone(),
            native_frame: compiled.native_frame,
        });
        Ok(())
    }

    /// Lays the functions out in id order and translates their
    /// relocations; an id declared but not defined, or a relocation the
    /// loader cannot apply, is an error.
    fn finish(self) -> Result<CodeImage, CompileError> {
        let mut image = CodeImage::default();
        for (i, slot) in self.pending.iter().enumerate() {
            let err = |problem| CompileError::Image {
                func_id: i,
                problem,
            };
            let unsupported = |what, name: String| err(ImageProblem::Unsupported { what, name });
            let f = slot
                .as_ref()
                .ok_or_else(|| err(ImageProblem::NeverDefined))?;
            let index = image
                .push_function(&f.code, f.alignment)
                .ok_or_else(|| err(ImageProblem::TooLarge))?;
            for reloc in &f.relocs {
                let kind = RelocKind::from_cranelift(reloc.kind)
                    .ok_or_else(|| unsupported("relocation", format!("{:?}", reloc.kind)))?;
                let (target, extra) = match &reloc.name {
                    ModuleRelocTarget::User {
                        namespace: 0,
                        index,
                    } => (RelocTarget::Func(*index), 0),
                    ModuleRelocTarget::FunctionOffset(id, offset) => {
                        (RelocTarget::Func(id.as_u32()), i64::from(*offset))
                    }
                    ModuleRelocTarget::LibCall(call) => (
                        RelocTarget::Math(
                            MathFn::from_libcall(*call)
                                .ok_or_else(|| unsupported("library call", format!("{call:?}")))?,
                        ),
                        0,
                    ),
                    other => return Err(unsupported("relocation target", other.to_string())),
                };
                image.relocs.push(ImageReloc {
                    func: index,
                    offset: reloc.offset,
                    kind,
                    target,
                    addend: reloc.addend.wrapping_add(extra),
                });
            }
            image
                .traps
                .extend(f.traps.iter().map(|&(offset, code)| ImageTrap {
                    func: index,
                    offset,
                    code,
                }));
        }
        image.validate()?;
        Ok(image)
    }
}

/// Above this many Wasm blocks (`block`, `loop`, `if`) a function is
/// translated with the slot strategy.
pub(crate) const LARGE_FUNCTION_WASM_BLOCKS: u32 = 1_000;
/// Above this many bytes of (instrumented) body a function is translated
/// with the slot strategy.
pub(crate) const LARGE_FUNCTION_BODY_BYTES: usize = 64 << 10;
/// Above this many Cranelift blocks after register-strategy translation a
/// function is translated again with the slot strategy. Every explicit
/// check is a branch, so a long straight run of memory accesses has many
/// more Cranelift blocks than Wasm blocks, and the optimiser is
/// superlinear in the depth of the dominator tree they make.
pub(crate) const LARGE_FUNCTION_CLIF_BLOCKS: usize = 8_192;
/// Register pressure (see [`pressure_budget`]) every function may have.
pub(crate) const PRESSURE_FLOOR: u64 = 16_384;
/// Register pressure allowed per byte of body above [`PRESSURE_FLOOR`].
pub(crate) const PRESSURE_PER_BYTE: u64 = 8;
/// Operand-stack pressure (see [`pressure_budget`]) allowed per byte of
/// body above [`PRESSURE_FLOOR`]. Compiled code keeps its operand stack
/// shallow: every function of the realistic corpus and the example
/// contracts stays under 1.5 per byte but one unrolled kernel at 5.8, so
/// this only moves functions that hold many values on the stack for long
/// (N values pushed and then consumed reach N / 10 per byte).
pub(crate) const STACK_PRESSURE_PER_BYTE: u64 = 16;
/// Most native calls (Wasm calls and builtins) a register-strategy
/// function may make. Every call clobbers all float registers on x86_64,
/// so a float value used between each of N calls is split N times by the
/// register allocator, each split costing work proportional to the uses
/// left: N² (`live_across_calls` of the adversarial corpus). The realistic
/// corpus and the example contracts make at most 90 calls in a function.
pub(crate) const REGISTER_STRATEGY_CALLS: u64 = 1_024;
/// A function compiled with the register strategy must have a native
/// frame of at most this many times its charged frame cost; otherwise it
/// is compiled with the slot strategy.
pub(crate) const FRAME_FACTOR: u64 = 4;

/// Whether a function is translated with the slot strategy from the start,
/// from what is known before translation.
pub(crate) fn is_large_function(wasm_blocks: u32, body_bytes: usize) -> bool {
    wasm_blocks > LARGE_FUNCTION_WASM_BLOCKS || body_bytes > LARGE_FUNCTION_BODY_BYTES
}

/// The pressure a register-strategy translation of a body of `body_bytes`
/// may reach (`docs/vm.md`, two translation strategies).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PressureBudget {
    /// For the sum over Cranelift blocks of the operand-stack values and
    /// distinct locals referenced so far when the block is created, an
    /// upper bound on the values live into it. SSA construction and
    /// register allocation do work proportional to it.
    pub(crate) blocks: u64,
    /// For the sum over operators of the operand-stack height each finds:
    /// values held across operators, whether or not blocks separate them.
    /// The register allocator's interference work grows with it (N values
    /// pushed and then consumed cost it N²).
    pub(crate) stack: u64,
    /// For the native calls the function makes ([`REGISTER_STRATEGY_CALLS`]).
    pub(crate) calls: u64,
}

/// The [`PressureBudget`] of a body of `body_bytes`: linear in the body,
/// so the work it bounds stays linear.
pub(crate) fn pressure_budget(body_bytes: usize) -> PressureBudget {
    let per_byte = |k: u64| PRESSURE_FLOOR.max(k.saturating_mul(body_bytes as u64));
    PressureBudget {
        blocks: per_byte(PRESSURE_PER_BYTE),
        stack: per_byte(STACK_PRESSURE_PER_BYTE),
        calls: REGISTER_STRATEGY_CALLS,
    }
}

/// The stack a call adds beyond Cranelift's frame: return address and saved
/// frame pointer (the setup area), or on s390x the register save area its
/// ABI keeps in every frame.
const FRAME_SETUP_BYTES: u64 = if cfg!(target_arch = "s390x") { 160 } else { 16 };

/// A function's machine code, ready for the JIT module.
struct CompiledFunction {
    code: Vec<u8>,
    alignment: u64,
    relocs: Vec<ModuleReloc>,
    /// Trap instructions: offset and raw trap code.
    traps: Vec<(u32, u8)>,
    /// Bytes one activation adds to the native stack.
    native_frame: u64,
}

/// Compiles `ctx.func` with `isa` and measures its native frame.
fn compile_function(
    isa: &OwnedTargetIsa,
    id: FuncId,
    ctx: &mut cranelift_codegen::Context,
) -> Result<CompiledFunction, CodegenFailure> {
    ctx.compile(&**isa, &mut ControlPlane::default())
        .map_err(|e| CodegenFailure::Cranelift(SharedError::new(e.inner)))?;
    let compiled = ctx
        .compiled_code()
        .ok_or(CodegenFailure::Incomplete { what: "code" })?;
    let alignment = u64::from(compiled.buffer.alignment);
    let frame = compiled
        .buffer
        .frame_layout()
        .map(|layout| u64::from(layout.frame_to_fp_offset))
        .ok_or(CodegenFailure::Incomplete {
            what: "frame layout",
        })?;
    let code = compiled.code_buffer().to_vec();
    let relocs: Vec<ModuleReloc> = compiled
        .buffer
        .relocs()
        .iter()
        .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
        .collect();
    let traps = compiled
        .buffer
        .traps()
        .iter()
        .map(|t| (t.offset, t.code.as_raw().get()))
        .collect();
    Ok(CompiledFunction {
        code,
        alignment,
        relocs,
        traps,
        native_frame: frame + FRAME_SETUP_BYTES,
    })
}

fn module_error_message(e: &cranelift_module::ModuleError) -> String {
    match e {
        cranelift_module::ModuleError::Compilation(inner) => format!("{inner:?}"),
        other => other.to_string(),
    }
}
