//! Name resolution for imports: host functions and items of other
//! instances, by module and field name.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::call::Func;
use super::host::{HostCallback, HostFuncDef};
use super::store::Store;
use super::{
    Caller, Engine, Error, FuncType, Global, HostError, Instance, Memory, Table, ValType, Value,
};

/// An item that can satisfy an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A linear memory.
    Memory(Memory),
    /// A global.
    Global(Global),
}

impl From<Func> for Extern {
    fn from(f: Func) -> Self {
        Self::Func(f)
    }
}

impl From<Table> for Extern {
    fn from(t: Table) -> Self {
        Self::Table(t)
    }
}

impl From<Memory> for Extern {
    fn from(m: Memory) -> Self {
        Self::Memory(m)
    }
}

impl From<Global> for Extern {
    fn from(g: Global) -> Self {
        Self::Global(g)
    }
}

pub(crate) enum Definition<T> {
    Extern(Extern),
    Host(HostFuncDef<T>),
}

/// Definitions for imports, by module and field name. A later definition of
/// the same name replaces the earlier one.
///
/// Host functions are defined once and bound to a store per import when an
/// instance is created; items of instances ([`Extern`]) belong to one store
/// and can only satisfy imports of instances in that store.
pub struct Linker<T> {
    engine: Engine,
    definitions: BTreeMap<(String, String), Definition<T>>,
}

impl<T> std::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker")
            .field("definitions", &self.definitions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<T> Linker<T> {
    /// An empty linker for modules of `engine`.
    pub fn new(engine: &Engine) -> Self {
        Self {
            engine: engine.clone(),
            definitions: BTreeMap::new(),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Defines host function `module`.`name` of type `params -> results`.
    ///
    /// The closure gets the arguments (already of the parameter types) and
    /// must return values of the result types; anything else, an `Err`, or a
    /// panic traps the call with [`TrapKind::Host`](crate::TrapKind::Host).
    pub fn func<F>(
        &mut self,
        module: &str,
        name: &str,
        params: &[ValType],
        results: &[ValType],
        callback: F,
    ) -> &mut Self
    where
        F: Fn(&mut Caller<'_, T>, &[Value]) -> Result<Vec<Value>, HostError>
            + Send
            + Sync
            + 'static,
    {
        let ty = FuncType::new(params, results);
        let type_id = self.engine.register_signature(&ty);
        let callback: Arc<HostCallback<T>> = Arc::new(callback);
        self.definitions.insert(
            (module.to_string(), name.to_string()),
            Definition::Host(HostFuncDef {
                ty: Arc::new(ty),
                type_id,
                callback,
            }),
        );
        self
    }

    /// Defines `module`.`name` as an item of a store.
    pub fn define(&mut self, module: &str, name: &str, item: impl Into<Extern>) -> &mut Self {
        self.definitions.insert(
            (module.to_string(), name.to_string()),
            Definition::Extern(item.into()),
        );
        self
    }

    /// Defines every export of `instance` under module name `module`.
    pub fn instance(
        &mut self,
        store: &Store<T>,
        module: &str,
        instance: &Instance,
    ) -> Result<&mut Self, Error> {
        for (name, item) in instance.exports(store)? {
            self.define(module, &name, item);
        }
        Ok(self)
    }

    pub(crate) fn get(&self, module: &str, name: &str) -> Option<&Definition<T>> {
        // Keys are owned strings; a lookup by borrowed pair needs a range
        // query, so look up with an owned key (imports are few).
        self.definitions
            .get(&(module.to_string(), name.to_string()))
    }
}
