//! The builtins compiled code calls for operations too large to inline.
//!
//! Each one validates every operand and reports failure by storing a trap
//! code in the shared `VMRuntime` and returning; none may unwind or abort,
//! since they are called from native code across the C ABI. Indices that
//! only a compiler bug could get wrong (segment and table numbers) are still
//! checked, and trap rather than touch memory.

use super::host;
use super::instance::InstanceData;
use super::memory::{MemoryData, checked_range};
use super::table::TableData;
use crate::vmctx::{TrapCode, VMBuiltins, VMContext, VMHostContext, ValRaw};

/// The builtin table every `VMContext` points at.
pub(crate) static BUILTINS: VMBuiltins = VMBuiltins {
    memory_grow,
    memory_fill,
    memory_copy,
    memory_init,
    data_drop,
    table_grow,
    table_fill,
    table_copy,
    table_init,
    elem_drop,
    call_host,
};

/// Sets the pending trap.
///
/// # Safety
/// `vmctx` must be a live `VMContext` (or `VMHostContext`) of this runtime.
unsafe fn trap(vmctx: *mut VMContext, code: TrapCode) {
    // SAFETY: caller's contract; `runtime` is the first field of both
    // context types and points at the store's live `VMRuntime`.
    unsafe { (*(*vmctx).runtime).trap_code = code as u32 };
}

/// # Safety
/// `vmctx` must be a live `VMContext`; no other reference to its memory
/// may be live (compiled code is suspended in this builtin).
unsafe fn memory<'a>(vmctx: *mut VMContext) -> Option<&'a mut MemoryData> {
    // SAFETY: caller's contract. `memory` is null or points at the `vm`
    // field, the first of a `#[repr(C)]` `MemoryData` owned by the store.
    unsafe { (*vmctx).memory.cast::<MemoryData>().as_mut() }
}

/// # Safety
/// As [`memory`], for the instance object.
unsafe fn instance<'a>(vmctx: *mut VMContext) -> Option<&'a mut InstanceData> {
    // SAFETY: caller's contract: `instance` points at the `InstanceData`
    // owning this `VMContext`.
    unsafe { (*vmctx).instance.cast::<InstanceData>().as_mut() }
}

/// The table at `index` of the instance's table index space.
///
/// # Safety
/// As [`memory`].
unsafe fn table(vmctx: *mut VMContext, index: u32) -> Option<*mut TableData> {
    // SAFETY: caller's contract; `instance` is checked for the number of
    // tables before `tables` is indexed.
    unsafe {
        let instance = instance(vmctx)?;
        let ptr = *instance.table_ptrs.get(index as usize)?;
        Some(ptr.cast::<TableData>())
    }
}

unsafe extern "C" fn memory_grow(vmctx: *mut VMContext, delta: u32) -> u32 {
    // SAFETY: called by compiled code with its own live `vmctx`.
    match unsafe { memory(vmctx) } {
        Some(memory) => memory
            .grow(u64::from(delta))
            .map_or(u32::MAX, |old| old as u32),
        None => u32::MAX,
    }
}

unsafe extern "C" fn memory_fill(vmctx: *mut VMContext, dst: u32, val: u32, len: u32) {
    // SAFETY: called by compiled code with its own live `vmctx`.
    let memory = unsafe { memory(vmctx) };
    let bytes = memory.map_or(&mut [][..], |m| m.bytes_mut());
    match checked_range(u64::from(dst), u64::from(len), bytes.len()) {
        Some(range) => bytes[range].fill(val as u8),
        // SAFETY: as above.
        None => unsafe { trap(vmctx, TrapCode::MemoryOutOfBounds) },
    }
}

unsafe extern "C" fn memory_copy(vmctx: *mut VMContext, dst: u32, src: u32, len: u32) {
    // SAFETY: called by compiled code with its own live `vmctx`.
    let memory = unsafe { memory(vmctx) };
    let bytes = memory.map_or(&mut [][..], |m| m.bytes_mut());
    let size = bytes.len();
    match (
        checked_range(u64::from(src), u64::from(len), size),
        checked_range(u64::from(dst), u64::from(len), size),
    ) {
        (Some(from), Some(to)) => bytes.copy_within(from, to.start),
        // SAFETY: as above.
        _ => unsafe { trap(vmctx, TrapCode::MemoryOutOfBounds) },
    }
}

unsafe extern "C" fn memory_init(vmctx: *mut VMContext, seg: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: called by compiled code with its own live `vmctx`; the
    // instance and its memory are distinct objects.
    let (instance, memory) = unsafe { (instance(vmctx), memory(vmctx)) };
    let segment = instance.and_then(|i| i.data_segment(seg));
    let Some(segment) = segment else {
        // SAFETY: as above.
        return unsafe { trap(vmctx, TrapCode::MemoryOutOfBounds) };
    };
    let bytes = memory.map_or(&mut [][..], |m| m.bytes_mut());
    match (
        checked_range(u64::from(src), u64::from(len), segment.len()),
        checked_range(u64::from(dst), u64::from(len), bytes.len()),
    ) {
        (Some(from), Some(to)) => bytes[to].copy_from_slice(&segment[from]),
        // SAFETY: as above.
        _ => unsafe { trap(vmctx, TrapCode::MemoryOutOfBounds) },
    }
}

unsafe extern "C" fn data_drop(vmctx: *mut VMContext, seg: u32) {
    // SAFETY: called by compiled code with its own live `vmctx`.
    if let Some(instance) = unsafe { instance(vmctx) } {
        instance.drop_data(seg);
    }
}

unsafe extern "C" fn table_grow(vmctx: *mut VMContext, index: u32, init: usize, delta: u32) -> u32 {
    // SAFETY: called by compiled code with its own live `vmctx`; the table
    // is owned by the store and not otherwise referenced right now.
    match unsafe { table(vmctx, index).and_then(|t| t.as_mut()) } {
        Some(table) => table
            .grow(u64::from(delta), init)
            .map_or(u32::MAX, |old| old as u32),
        None => u32::MAX,
    }
}

unsafe extern "C" fn table_fill(vmctx: *mut VMContext, index: u32, dst: u32, val: usize, len: u32) {
    // SAFETY: as in `table_grow`.
    let table = unsafe { table(vmctx, index).and_then(|t| t.as_mut()) };
    let elements = table.map_or(&mut [][..], |t| t.elements_mut());
    match checked_range(u64::from(dst), u64::from(len), elements.len()) {
        Some(range) => elements[range].fill(val),
        // SAFETY: as above.
        None => unsafe { trap(vmctx, TrapCode::TableOutOfBounds) },
    }
}

unsafe extern "C" fn table_copy(
    vmctx: *mut VMContext,
    dst_index: u32,
    src_index: u32,
    dst: u32,
    src: u32,
    len: u32,
) {
    // SAFETY: called by compiled code with its own live `vmctx`.
    let (dst_table, src_table) = unsafe { (table(vmctx, dst_index), table(vmctx, src_index)) };
    let (Some(dst_table), Some(src_table)) = (dst_table, src_table) else {
        // SAFETY: as above.
        return unsafe { trap(vmctx, TrapCode::TableOutOfBounds) };
    };
    if core::ptr::eq(dst_table, src_table) {
        // SAFETY: a live table of the store, referenced nowhere else now.
        let elements = unsafe { (*dst_table).elements_mut() };
        let size = elements.len();
        match (
            checked_range(u64::from(src), u64::from(len), size),
            checked_range(u64::from(dst), u64::from(len), size),
        ) {
            (Some(from), Some(to)) => elements.copy_within(from, to.start),
            // SAFETY: as above.
            _ => unsafe { trap(vmctx, TrapCode::TableOutOfBounds) },
        }
        return;
    }
    // SAFETY: two distinct live tables of the store, so the shared and the
    // mutable borrow do not overlap.
    let (to_elements, from_elements) =
        unsafe { ((*dst_table).elements_mut(), (*src_table).elements()) };
    match (
        checked_range(u64::from(src), u64::from(len), from_elements.len()),
        checked_range(u64::from(dst), u64::from(len), to_elements.len()),
    ) {
        (Some(from), Some(to)) => to_elements[to].copy_from_slice(&from_elements[from]),
        // SAFETY: as above.
        _ => unsafe { trap(vmctx, TrapCode::TableOutOfBounds) },
    }
}

unsafe extern "C" fn table_init(
    vmctx: *mut VMContext,
    index: u32,
    seg: u32,
    dst: u32,
    src: u32,
    len: u32,
) {
    // SAFETY: called by compiled code with its own live `vmctx`; the
    // instance and the table are distinct objects.
    let (instance, table) = unsafe { (instance(vmctx), table(vmctx, index)) };
    let instance = instance.map(|i| &*i);
    let segment = instance.and_then(|i| Some((i, i.element_segment(seg)?)));
    // SAFETY: a live table of the store, referenced nowhere else now.
    let table = table.and_then(|t| unsafe { t.as_mut() });
    let (Some((instance, segment)), Some(table)) = (segment, table) else {
        // SAFETY: as above.
        return unsafe { trap(vmctx, TrapCode::TableOutOfBounds) };
    };
    let elements = table.elements_mut();
    match (
        checked_range(u64::from(src), u64::from(len), segment.len()),
        checked_range(u64::from(dst), u64::from(len), elements.len()),
    ) {
        // Segments hold instance-independent items; each is turned into
        // this instance's reference as it is copied, so the work is per
        // element copied, which `table.init` is charged for.
        (Some(from), Some(to)) => {
            for (slot, item) in elements[to].iter_mut().zip(&segment[from]) {
                *slot = instance.item_ref(*item);
            }
        }
        // SAFETY: as above.
        _ => unsafe { trap(vmctx, TrapCode::TableOutOfBounds) },
    }
}

unsafe extern "C" fn elem_drop(vmctx: *mut VMContext, seg: u32) {
    // SAFETY: called by compiled code with its own live `vmctx`.
    if let Some(instance) = unsafe { instance(vmctx) } {
        instance.drop_elements(seg);
    }
}

unsafe extern "C" fn call_host(ctx: *mut VMHostContext, values: *mut ValRaw) {
    // SAFETY: host stubs pass the `VMHostContext` of the `VMFuncRef` they
    // were called through, which the runtime made from a live
    // `HostFuncData`, and an argument array sized for the type.
    unsafe { host::call_host(ctx, values) }
}
