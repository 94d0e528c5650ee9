//! The panic handler: every panic ends the call through `panic_utf8`.

use core::fmt::{self, Write};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // A static message (`panic!("...")`, `expect`, most of core's) needs no
    // formatting. Anything else is formatted into a fixed buffer on the
    // stack, never the heap: the panic may come from a failed allocation.
    // The location is left out on purpose: it would embed build paths.
    match info.message().as_str() {
        Some(message) => crate::abort(message),
        None => {
            let mut buffer = FixedBuffer::<256>::new();
            let _ = write!(buffer, "{}", info.message());
            crate::abort(buffer.as_str())
        }
    }
}

/// A string of at most `N` bytes; writes past the end are cut at a character
/// boundary.
struct FixedBuffer<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> FixedBuffer<N> {
    fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole characters are ever copied in (see `write_str`).
        let bytes = self.bytes.get(..self.len).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or("panic")
    }
}

impl<const N: usize> Write for FixedBuffer<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        // `get_mut`, not indexing: a panic inside the panic handler would
        // abort without the message.
        if let (Some(to), Some(from)) = (
            self.bytes.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            to.copy_from_slice(from);
            self.len += take;
        }
        if take < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}
