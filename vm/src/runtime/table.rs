//! Tables: growable arrays of raw references.

use super::module::table_max;
use super::store::Store;
use super::{AccessError, Error, ResourceError, TableType, ValType, Value};
use crate::vmctx::VMTable;

/// A table's storage. `vm` comes first so that the `*mut VMTable` compiled
/// code and builtins hold is also a pointer to the whole object.
#[repr(C)]
pub(crate) struct TableData {
    pub vm: VMTable,
    elements: Vec<usize>,
    element: ValType,
    max: u64,
    declared_max: Option<u64>,
}

impl TableData {
    /// A table of `size` elements, all `init`, growable to `max`.
    pub fn new(
        element: ValType,
        size: u64,
        declared_max: Option<u64>,
        max: u64,
        init: usize,
    ) -> Result<Box<Self>, Error> {
        let fail = || ResourceError::TableAllocation { size };
        if size > max {
            return Err(ResourceError::TableOverMaximum { size, max }.into());
        }
        let len = usize::try_from(size).map_err(|_| fail())?;
        let mut elements = Vec::new();
        elements.try_reserve_exact(len).map_err(|_| fail())?;
        elements.resize(len, init);
        let mut table = Box::new(Self {
            vm: VMTable {
                elements: core::ptr::null_mut(),
                length: 0,
            },
            elements,
            element,
            max,
            declared_max,
        });
        table.sync();
        Ok(table)
    }

    fn sync(&mut self) {
        self.vm.elements = self.elements.as_mut_ptr();
        self.vm.length = self.elements.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.elements.len() as u64
    }

    pub fn element(&self) -> ValType {
        self.element
    }

    pub fn elements(&self) -> &[usize] {
        &self.elements
    }

    pub fn elements_mut(&mut self) -> &mut [usize] {
        &mut self.elements
    }

    /// `table.grow`: the old size, or `None` (table unchanged) beyond the
    /// maximum or if it cannot be allocated.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.len();
        let new = old.checked_add(delta)?;
        if new > self.max {
            return None;
        }
        let new_len = usize::try_from(new).ok()?;
        self.elements
            .try_reserve_exact(new_len - self.elements.len())
            .ok()?;
        self.elements.resize(new_len, init);
        self.sync();
        Some(old)
    }

    pub fn ty(&self) -> TableType {
        TableType {
            element: self.element,
            minimum: self.len(),
            maximum: self.declared_max,
        }
    }
}

/// A table in a [`Store`]: an instance's export, or created by the host
/// with [`Table::new`] to be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Table {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl Table {
    /// Creates a table of `ty.minimum` elements set to `init`, growable to
    /// `ty.maximum` capped by the engine's `table_elements` limit.
    pub fn new<T>(store: &mut Store<T>, ty: TableType, init: Value) -> Result<Table, Error> {
        if !ty.element.is_ref() || init.ty() != ty.element {
            return Err(ResourceError::TableElementType {
                element: ty.element,
                init: init.ty(),
            }
            .into());
        }
        if ty.maximum.is_some_and(|max| max < ty.minimum) {
            return Err(ResourceError::InvalidTableLimits {
                minimum: ty.minimum,
                maximum: ty.maximum,
            }
            .into());
        }
        let objects = store.objects_mut();
        let raw = objects.value_to_raw(init)? as usize;
        let limit = objects.engine.config().limits.table_elements;
        let data = TableData::new(
            ty.element,
            ty.minimum,
            ty.maximum,
            table_max(ty.maximum, limit),
            raw,
        )?;
        Ok(objects.push_table(data))
    }

    /// The current type: current size and declared maximum.
    pub fn ty<T>(&self, store: &Store<T>) -> Result<TableType, Error> {
        Ok(store.objects().table(*self)?.ty())
    }

    /// Current size in elements.
    pub fn size<T>(&self, store: &Store<T>) -> Result<u64, Error> {
        Ok(store.objects().table(*self)?.len())
    }

    /// Element `index`.
    pub fn get<T>(&self, store: &Store<T>, index: u64) -> Result<Value, Error> {
        let objects = store.objects();
        let table = objects.table(*self)?;
        let raw = usize::try_from(index)
            .ok()
            .and_then(|i| table.elements().get(i))
            .ok_or(AccessError::TableOutOfBounds {
                index,
                size: table.len(),
            })?;
        Ok(Value::from_raw(*raw as u64, table.element(), objects.id))
    }

    /// Sets element `index`.
    pub fn set<T>(&self, store: &mut Store<T>, index: u64, value: Value) -> Result<(), Error> {
        let objects = store.objects_mut();
        let raw = objects.value_to_raw(value)? as usize;
        let table = objects.table_mut(*self)?;
        if value.ty() != table.element() {
            return Err(AccessError::TableTypeMismatch {
                expected: table.element(),
                actual: value.ty(),
            }
            .into());
        }
        let size = table.len();
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| table.elements_mut().get_mut(i))
            .ok_or(AccessError::TableOutOfBounds { index, size })?;
        *slot = raw;
        Ok(())
    }
}
