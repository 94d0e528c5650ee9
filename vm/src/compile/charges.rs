//! The charge sites instrumentation handed on with a function body
//! (`docs/vm.md`, "Pipeline"): where the compiler lowers a fixed charge as
//! one unit. Sites are found by position, never by the shape of the code.

use detvm_metering::{ChargeSite, Counter};
use wasmparser::OperatorsReader;

use crate::vmctx::TrapCode;

/// The charge sites of one function body.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Charges<'a> {
    /// In increasing order of offset.
    sites: &'a [ChargeSite],
    /// The reader position of the body's first byte, from which site
    /// offsets count.
    base: u64,
}

/// A site that does not end on an instruction boundary of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Misplaced;

impl<'a> Charges<'a> {
    /// The sites of the body whose first byte is at reader position
    /// `body_start`.
    pub(crate) fn new(sites: &'a [ChargeSite], body_start: u64) -> Self {
        Self {
            sites,
            base: body_start,
        }
    }

    /// If a site starts where `ops` is, moves `ops` to its end and returns
    /// it.
    pub(crate) fn take(
        &self,
        ops: &mut OperatorsReader<'_>,
    ) -> Result<Option<ChargeSite>, Misplaced> {
        let Some(rel) = ops
            .original_position()
            .checked_sub(self.base)
            .and_then(|rel| u32::try_from(rel).ok())
        else {
            return Ok(None);
        };
        let i = self.sites.partition_point(|site| site.offset < rel);
        let Some(&site) = self.sites.get(i).filter(|site| site.offset == rel) else {
            return Ok(None);
        };
        let end = ops.original_position() + u64::from(site.len);
        while ops.original_position() < end {
            ops.read().map_err(|_| Misplaced)?;
        }
        if ops.original_position() != end {
            return Err(Misplaced);
        }
        Ok(Some(site))
    }

    /// Like [`Self::take`] for a gas charge only; leaves `ops` as it was
    /// when none starts there. For the loop analyses, which read ahead.
    pub(crate) fn take_gas(&self, ops: &mut OperatorsReader<'_>) -> Option<u64> {
        let mut ahead = ops.clone();
        match self.take(&mut ahead) {
            Ok(Some(site)) if site.counter == Counter::Gas => {
                *ops = ahead;
                Some(site.amount)
            }
            _ => None,
        }
    }
}

/// The counter's slot in `Translator::counters` (0: gas, 1: stack) and the
/// trap its charge takes when short.
pub(crate) fn counter_slot(counter: Counter) -> (usize, TrapCode) {
    match counter {
        Counter::Gas => (0, TrapCode::OutOfGas),
        Counter::Stack => (1, TrapCode::StackOverflow),
    }
}

/// The charge sites of modules whose instrumentation the compiler's unit
/// tests write by hand: what instrumentation would hand on, found from the
/// shape. Only tests look for it.
#[cfg(test)]
pub(crate) mod by_shape {
    use detvm_metering::{ChargeSite, Counter, abi};
    use wasmparser::{BlockType, Operator, OperatorsReader};

    /// Reads a whole fixed charge sequence from `ops` if one is next.
    fn read_fixed(ops: &mut OperatorsReader<'_>) -> Option<(Counter, u64)> {
        let mut next = || ops.read().ok();
        let Operator::GlobalGet { global_index } = next()? else {
            return None;
        };
        let (counter, trap) = match global_index {
            abi::GAS_LEFT_GLOBAL => (Counter::Gas, abi::OUT_OF_GAS_FUNC),
            abi::STACK_LEFT_GLOBAL => (Counter::Stack, abi::STACK_OVERFLOW_FUNC),
            _ => return None,
        };
        let Operator::I64Const { value: amount } = next()? else {
            return None;
        };
        let rest = [
            Operator::I64LtU,
            Operator::If {
                blockty: BlockType::Empty,
            },
            Operator::Call {
                function_index: trap,
            },
            Operator::End,
            Operator::GlobalGet { global_index },
            Operator::I64Const { value: amount },
            Operator::I64Sub,
            Operator::GlobalSet { global_index },
        ];
        for expected in rest {
            if next()? != expected {
                return None;
            }
        }
        Some((counter, amount as u64))
    }

    /// The sites of one body.
    pub(crate) fn of_body(body: &wasmparser::FunctionBody<'_>) -> Vec<ChargeSite> {
        let base = body.range().start;
        let mut sites = Vec::new();
        let mut ops = body.get_operators_reader().expect("operators");
        while !ops.eof() {
            let at = ops.original_position();
            let mut ahead = ops.clone();
            if let Some((counter, amount)) = read_fixed(&mut ahead) {
                sites.push(ChargeSite {
                    offset: (at - base) as u32,
                    len: (ahead.original_position() - at) as u32,
                    counter,
                    amount,
                });
                ops = ahead;
            } else {
                ops.read().expect("operator");
            }
        }
        sites
    }

    /// The sites of every body of `wasm`, in order.
    pub(crate) fn of_module(wasm: &[u8]) -> Vec<Vec<ChargeSite>> {
        wasmparser::Parser::new(0)
            .parse_all(wasm)
            .filter_map(|payload| match payload.expect("decodes") {
                wasmparser::Payload::CodeSectionEntry(body) => Some(of_body(&body)),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-body module and its sites, found by shape.
    fn body_and_sites(wat: &str) -> (Vec<u8>, Vec<ChargeSite>) {
        let wasm = wat::parse_str(wat).expect("wat");
        let sites = by_shape::of_module(&wasm).remove(0);
        (wasm, sites)
    }

    fn reader(wasm: &[u8]) -> (OperatorsReader<'_>, u64) {
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
                let start = body.range().start;
                return (body.get_operators_reader().expect("operators"), start);
            }
        }
        panic!("no body")
    }

    const WAT: &str = r#"(module
        (import "detvm" "out_of_gas" (func $oog))
        (import "detvm" "stack_overflow" (func $so))
        (import "detvm" "gas_left" (global $gas (mut i64)))
        (import "detvm" "stack_left" (global $stack (mut i64)))
        (func (local i32)
            global.get $stack i64.const 9 i64.lt_u if call $so end
            global.get $stack i64.const 9 i64.sub global.set $stack
            nop
            global.get $gas i64.const 300 i64.lt_u if call $oog end
            global.get $gas i64.const 300 i64.sub global.set $gas))"#;

    #[test]
    fn a_site_is_taken_whole_where_it_starts() {
        let (wasm, sites) = body_and_sites(WAT);
        assert_eq!(sites.len(), 2);
        let (mut ops, start) = reader(&wasm);
        let charges = Charges::new(&sites, start);
        assert_eq!(charges.take_gas(&mut ops), None, "a stack site is not gas");
        let stack = charges.take(&mut ops).expect("placed").expect("a site");
        assert_eq!((stack.counter, stack.amount), (Counter::Stack, 9));
        assert_eq!(charges.take(&mut ops), Ok(None), "no site at the nop");
        assert!(matches!(ops.read(), Ok(wasmparser::Operator::Nop)));
        assert_eq!(charges.take_gas(&mut ops), Some(300));
        assert!(matches!(ops.read(), Ok(wasmparser::Operator::End)));
        assert!(ops.eof());
    }

    #[test]
    fn a_site_off_the_instruction_boundaries_is_an_error() {
        let (wasm, sites) = body_and_sites(WAT);
        let (ops, start) = reader(&wasm);
        // The `nop` after the site is one byte, the `global.get` after it two.
        for len in [sites[0].len - 1, sites[0].len + 2, 1, 10_000] {
            let wrong = [ChargeSite { len, ..sites[0] }];
            let charges = Charges::new(&wrong, start);
            assert_eq!(charges.take(&mut ops.clone()), Err(Misplaced), "len {len}");
            let mut ahead = ops.clone();
            assert_eq!(charges.take_gas(&mut ahead), None);
            assert_eq!(ahead.original_position(), ops.original_position());
        }
        // A site that starts inside an instruction is never reached.
        let inside = [ChargeSite {
            offset: sites[0].offset + 1,
            ..sites[0]
        }];
        let mut ops = ops;
        let charges = Charges::new(&inside, start);
        while !ops.eof() {
            assert_eq!(charges.take(&mut ops), Ok(None));
            ops.read().expect("operator");
        }
    }
}
