//! The script interpreter: one engine, store and linker per script, every
//! directive run in order, each counted as passed, failed or skipped.

use std::collections::BTreeMap;

use detvm_vm::{Engine, EngineConfig, Error, Instance, Linker, Module, Outcome, Store, TrapKind};
use wast::parser::{self, ParseBuffer};
use wast::token::Span;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, WastRet};

use crate::{skips, spectest, values};

/// Gas for every call in a script: the suite tests semantics, not metering,
/// so no directive may run out.
const SCRIPT_GAS: u64 = u64::MAX;

/// One directive that did not behave as the script expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line of the directive.
    pub line: usize,
    /// What was expected and what happened.
    pub message: String,
}

/// The result of running one script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptReport {
    /// Directives that behaved as expected.
    pub passed: usize,
    /// Directives that did not.
    pub failed: usize,
    /// Directives listed in [`crate::SKIPS`] that failed as expected.
    pub skipped: usize,
    /// Details of every failure, in script order.
    pub failures: Vec<Failure>,
}

/// Runs a `.wast` script. `name` is the file name used to look up skips.
///
/// Never panics on a bad script: a script that does not parse counts as one
/// failed directive.
pub fn run_script(name: &str, text: &str) -> ScriptReport {
    run_script_with(name, text, EngineConfig::spec())
}

/// [`run_script`] with an engine made from `config` (for instance
/// [`EngineConfig::spec`] with `slot_strategy_only`, to run the suite
/// through the compiler's other translation strategy).
pub fn run_script_with(name: &str, text: &str, config: EngineConfig) -> ScriptReport {
    let mut report = ScriptReport::default();
    // The suite exercises names with bidirectional-override characters on
    // purpose; the lexer refuses them unless told the text is trusted.
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buffer = match ParseBuffer::new_with_lexer(lexer) {
        Ok(buffer) => buffer,
        Err(error) => return parse_failure(report, text, error),
    };
    let script = match parser::parse::<Wast>(&buffer) {
        Ok(script) => script,
        Err(error) => return parse_failure(report, text, error),
    };
    let mut runner = match Runner::new(config) {
        Ok(runner) => runner,
        Err(message) => {
            report.failed += 1;
            report.failures.push(Failure { line: 0, message });
            return report;
        }
    };
    for directive in script.directives {
        let line = line_of(text, directive.span());
        let result = runner.run(directive);
        match (result, skips::find(name, line)) {
            (Ok(()), None) => report.passed += 1,
            (Ok(()), Some(skip)) => {
                report.failed += 1;
                report.failures.push(Failure {
                    line,
                    message: format!(
                        "listed as skipped ({}) but passes: remove the skip",
                        skip.reason
                    ),
                });
            }
            (Err(_), Some(_)) => report.skipped += 1,
            (Err(message), None) => {
                report.failed += 1;
                report.failures.push(Failure { line, message });
            }
        }
    }
    report
}

fn parse_failure(mut report: ScriptReport, text: &str, mut error: wast::Error) -> ScriptReport {
    error.set_text(text);
    report.failed += 1;
    report.failures.push(Failure {
        line: line_of(text, error.span()),
        message: format!("script does not parse: {error}"),
    });
    report
}

fn line_of(text: &str, span: Span) -> usize {
    span.linecol_in(text).0 + 1
}

/// `Err` carries what went wrong, for the report.
type DirectiveResult = Result<(), String>;

struct Runner {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    named: BTreeMap<String, Instance>,
    current: Option<Instance>,
}

impl Runner {
    fn new(config: EngineConfig) -> Result<Self, String> {
        let engine = Engine::new(config).map_err(|e| format!("engine: {e}"))?;
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        let bytes = wat_to_bytes(spectest::SPECTEST_WAT)?;
        let module = Module::new(&engine, &bytes).map_err(|e| format!("spectest module: {e}"))?;
        let instance = Instance::new(&mut store, &module, &linker)
            .map_err(|e| format!("spectest instance: {e}"))?;
        linker
            .instance(&store, "spectest", &instance)
            .map_err(|e| format!("spectest register: {e}"))?;
        Ok(Self {
            engine,
            store,
            linker,
            named: BTreeMap::new(),
            current: None,
        })
    }

    fn run(&mut self, directive: WastDirective<'_>) -> DirectiveResult {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_owned());
                let instance = self.instantiate(&mut module)?;
                if let Some(name) = name {
                    self.named.insert(name, instance);
                }
                self.current = Some(instance);
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let instance = *self.instance(module.map(|id| id.name()))?;
                self.linker
                    .instance(&self.store, name, &instance)
                    .map(|_| ())
                    .map_err(|e| format!("register `{name}`: {e}"))
            }
            WastDirective::Invoke(invoke) => match self.invoke(&invoke)? {
                Outcome::Success { .. } => Ok(()),
                Outcome::Trap { kind, .. } => {
                    Err(format!("invoke `{}` trapped: {}", invoke.name, kind.name()))
                }
            },
            WastDirective::AssertReturn { exec, results, .. } => self.assert_return(exec, &results),
            WastDirective::AssertTrap { exec, message, .. } => self.assert_trap(exec, message),
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call)? {
                Outcome::Trap {
                    kind: TrapKind::StackOverflow,
                    ..
                } => Ok(()),
                other => Err(format!(
                    "expected `{message}`, got {}",
                    describe_outcome(&other)
                )),
            },
            WastDirective::AssertMalformed {
                module, message, ..
            }
            | WastDirective::AssertInvalid {
                module, message, ..
            } => self.assert_rejected(module, message),
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => {
                let compiled = self.compile(&mut QuoteWat::Wat(module))?;
                match Instance::new(&mut self.store, &compiled, &self.linker) {
                    Err(Error::Link { .. }) => Ok(()),
                    Err(other) => Err(format!("expected link error `{message}`, got: {other}")),
                    Ok(_) => Err(format!("expected link error `{message}`, but it linked")),
                }
            }
            other => Err(
                format!("directive not supported by this harness: {other:?}")
                    .chars()
                    .take(200)
                    .collect(),
            ),
        }
    }

    /// Encodes and compiles a module that the script expects to be valid.
    fn compile(&self, module: &mut QuoteWat<'_>) -> Result<Module, String> {
        let bytes = module
            .encode()
            .map_err(|e| format!("module does not encode: {e}"))?;
        Module::new(&self.engine, &bytes).map_err(|e| format!("module rejected: {e}"))
    }

    fn instantiate(&mut self, module: &mut QuoteWat<'_>) -> Result<Instance, String> {
        let compiled = self.compile(module)?;
        Instance::new(&mut self.store, &compiled, &self.linker)
            .map_err(|e| format!("instantiation failed: {e}"))
    }

    fn instance(&self, name: Option<&str>) -> Result<&Instance, String> {
        match name {
            Some(name) => self
                .named
                .get(name)
                .ok_or_else(|| format!("no module named `{name}`")),
            None => self
                .current
                .as_ref()
                .ok_or_else(|| "no module instantiated yet".to_owned()),
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Outcome, String> {
        let args = invoke
            .args
            .iter()
            .map(|arg| {
                values::arg_value(arg)
                    .ok_or_else(|| format!("argument outside the profile: {arg:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let instance = *self.instance(invoke.module.map(|id| id.name()))?;
        instance
            .call(&mut self.store, invoke.name, &args, SCRIPT_GAS)
            .map_err(|e| format!("invoke `{}` failed: {e}", invoke.name))
    }

    fn assert_return(
        &mut self,
        exec: WastExecute<'_>,
        expected: &[WastRet<'_>],
    ) -> DirectiveResult {
        let actual = match exec {
            WastExecute::Invoke(invoke) => match self.invoke(&invoke)? {
                Outcome::Success { results, .. } => results,
                trap => {
                    return Err(format!(
                        "expected {}, got {}",
                        values::describe_expected(expected),
                        describe_outcome(&trap)
                    ));
                }
            },
            WastExecute::Get { module, global, .. } => {
                let instance = *self.instance(module.map(|id| id.name()))?;
                let value = instance
                    .get_global(&self.store, global)
                    .ok_or_else(|| format!("no global export `{global}`"))?;
                vec![value]
            }
            WastExecute::Wat(wat) => {
                self.instantiate(&mut QuoteWat::Wat(wat))?;
                Vec::new()
            }
        };
        let all_match = actual.len() == expected.len()
            && expected
                .iter()
                .zip(&actual)
                .all(|(e, a)| values::matches(e, a));
        if all_match {
            Ok(())
        } else {
            Err(format!(
                "expected {}, got {}",
                values::describe_expected(expected),
                values::describe_actual(&actual)
            ))
        }
    }

    fn assert_trap(&mut self, exec: WastExecute<'_>, message: &str) -> DirectiveResult {
        match exec {
            WastExecute::Invoke(invoke) => match self.invoke(&invoke)? {
                Outcome::Trap { kind, .. } if trap_matches(kind, message) => Ok(()),
                other => Err(format!(
                    "expected trap `{message}`, got {}",
                    describe_outcome(&other)
                )),
            },
            WastExecute::Wat(wat) => {
                let compiled = self.compile(&mut QuoteWat::Wat(wat))?;
                match Instance::new(&mut self.store, &compiled, &self.linker) {
                    Err(error) => match error.trap_kind() {
                        Some(kind) if trap_matches(kind, message) => Ok(()),
                        _ => Err(format!(
                            "expected instantiation trap `{message}`, got: {error}"
                        )),
                    },
                    Ok(_) => Err(format!(
                        "expected instantiation trap `{message}`, but it instantiated"
                    )),
                }
            }
            WastExecute::Get { global, .. } => Err(format!("`get {global}` cannot trap")),
        }
    }

    fn assert_rejected(&mut self, mut module: QuoteWat<'_>, message: &str) -> DirectiveResult {
        // Text that does not even parse or encode is malformed already.
        let Ok(bytes) = module.encode() else {
            return Ok(());
        };
        match Module::new(&self.engine, &bytes) {
            Err(Error::Rejected(_)) => Ok(()),
            Err(other) => Err(format!("expected rejection `{message}`, got: {other}")),
            Ok(_) => Err(format!(
                "expected rejection `{message}`, but the module was accepted"
            )),
        }
    }
}

fn wat_to_bytes(text: &str) -> Result<Vec<u8>, String> {
    let buffer = ParseBuffer::new(text).map_err(|e| e.to_string())?;
    let mut wat = parser::parse::<wast::Wat>(&buffer).map_err(|e| e.to_string())?;
    wat.encode().map_err(|e| e.to_string())
}

/// The spec's trap messages for each of our trap kinds. The spec words some
/// kinds more than one way (an out-of-bounds `call_indirect` index is an
/// "undefined element"), so a kind may accept several.
fn trap_matches(kind: TrapKind, message: &str) -> bool {
    let accepted: &[&str] = match kind {
        TrapKind::Unreachable => &["unreachable"],
        TrapKind::MemoryOutOfBounds => {
            &["out of bounds memory access", "memory access out of bounds"]
        }
        TrapKind::TableOutOfBounds => &["out of bounds table access", "undefined element"],
        TrapKind::UninitializedElement => &["uninitialized element", "undefined element"],
        TrapKind::IndirectCallTypeMismatch => &["indirect call type mismatch"],
        TrapKind::IntegerDivideByZero => &["integer divide by zero"],
        TrapKind::IntegerOverflow => &["integer overflow"],
        TrapKind::InvalidConversionToInteger => &["invalid conversion to integer"],
        TrapKind::StackOverflow => &["call stack exhausted"],
        _ => &[],
    };
    accepted.iter().any(|phrase| message.starts_with(phrase))
}

fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Success { results, .. } => format!("success {}", values::describe_actual(results)),
        Outcome::Trap { kind, .. } => format!("trap `{}`", kind.name()),
    }
}
