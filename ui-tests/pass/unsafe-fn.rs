//! `unsafe fn` and `unsafe` blocks in instrumented bodies.

#![deny(unsafe_op_in_unsafe_fn)]

/// # Safety
/// `pointer` must be valid for reads.
#[instrument_runtime::timed(name = "unsafe_read")]
unsafe fn read(pointer: *const u32) -> u32 {
    // SAFETY: the caller guarantees `pointer` is valid for reads.
    unsafe { *pointer }
}

/// # Safety
/// `pointer` must be valid for reads.
#[instrument_runtime::counted(name = "unsafe_checked_read")]
#[instrument_runtime::budget(p99 = "1s")]
unsafe fn checked_read(pointer: *const u32) -> Result<u32, &'static str> {
    if pointer.is_null() {
        return Err("null");
    }
    // SAFETY: the caller guarantees `pointer` is valid for reads.
    Ok(unsafe { *pointer })
}

#[instrument_runtime::counted(name = "unsafe_block_in_safe_fn")]
fn via_block(value: &u32) -> u32 {
    let pointer: *const u32 = value;
    // SAFETY: `pointer` comes from a reference.
    unsafe { read(pointer) }
}

fn main() {
    let value = 7;
    // SAFETY: a reference is valid for reads.
    assert_eq!(unsafe { read(&value) }, 7);
    // SAFETY: a reference is valid for reads; null is checked.
    assert_eq!(unsafe { checked_read(&value) }, Ok(7));
    // SAFETY: null is checked before reading.
    assert_eq!(unsafe { checked_read(std::ptr::null()) }, Err("null"));
    assert_eq!(via_block(&value), 7);
}
