//! A hint to the cache, shared by the reader's fold and the histograms it writes: the one place
//! that knows the target's prefetch instruction.

/// Asks the cache for the line holding `address`, without waiting for it: a hint, which reads
/// nothing and cannot fault.
pub(crate) fn prefetch<T>(address: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no effect on memory, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(address.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
