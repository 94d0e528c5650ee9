//! Globals: one 16-byte cell each, the value at offset 0.

use super::store::Store;
use super::{AccessError, Error, GlobalType, ValType, Value};
use crate::vmctx::{VMGlobal, ValRaw};

/// A global's storage. `cell` comes first so that the `*mut VMGlobal`
/// compiled code holds is also a pointer to the whole object.
#[repr(C)]
pub(crate) struct GlobalData {
    pub cell: VMGlobal,
    pub ty: GlobalType,
}

impl GlobalData {
    pub fn new(ty: GlobalType, raw: ValRaw) -> Box<Self> {
        let mut global = Box::new(Self {
            cell: VMGlobal::default(),
            ty,
        });
        global.set_raw(raw);
        global
    }

    /// The value's raw bits: 4 bytes for `i32`/`f32`, 8 otherwise, as
    /// compiled code reads and writes them.
    pub fn get_raw(&self) -> ValRaw {
        let bytes = &self.cell.bytes;
        match self.ty.content {
            ValType::I32 | ValType::F32 => {
                u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            _ => u64::from_le_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            ]),
        }
    }

    pub fn set_raw(&mut self, raw: ValRaw) {
        self.cell.bytes[..8].copy_from_slice(&raw.to_le_bytes());
    }
}

/// A global in a [`Store`]: an instance's export, or created by the host
/// with [`Global::new`] to be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Global {
    pub(crate) store_id: u64,
    pub(crate) index: u32,
}

impl Global {
    /// Creates a global of type `ty` holding `value`.
    pub fn new<T>(store: &mut Store<T>, ty: GlobalType, value: Value) -> Result<Global, Error> {
        if value.ty() != ty.content {
            return Err(AccessError::GlobalTypeMismatch {
                expected: ty.content,
                actual: value.ty(),
            }
            .into());
        }
        let objects = store.objects_mut();
        let raw = objects.value_to_raw(value)?;
        Ok(objects.push_global(GlobalData::new(ty, raw)))
    }

    /// The global's type.
    pub fn ty<T>(&self, store: &Store<T>) -> Result<GlobalType, Error> {
        Ok(store.objects().global(*self)?.ty)
    }

    /// The current value.
    pub fn get<T>(&self, store: &Store<T>) -> Result<Value, Error> {
        let objects = store.objects();
        let global = objects.global(*self)?;
        Ok(Value::from_raw(
            global.get_raw(),
            global.ty.content,
            objects.id,
        ))
    }

    /// Sets a mutable global.
    pub fn set<T>(&self, store: &mut Store<T>, value: Value) -> Result<(), Error> {
        let objects = store.objects_mut();
        let raw = objects.value_to_raw(value)?;
        let global = objects.global_mut(*self)?;
        if !global.ty.mutable {
            return Err(AccessError::ImmutableGlobal.into());
        }
        if value.ty() != global.ty.content {
            return Err(AccessError::GlobalTypeMismatch {
                expected: global.ty.content,
                actual: value.ty(),
            }
            .into());
        }
        global.set_raw(raw);
        Ok(())
    }
}
