//! Where the strings of a parsed dump live.
//!
//! A dump read from memory borrows its strings from the text (`Borrow`). A dump read
//! from a stream cannot: each block of input is dropped once read, so the few
//! strings the model keeps (function names, file paths, states, labels; each
//! distinct one once) are copied into an `Arena` the caller owns.

use std::sync::Mutex;

use rustc_hash::FxHashSet;

/// Turns a string borrowed from the input (`'b`) into one the model may keep (`'a`).
pub trait Keep<'b, 'a> {
    fn keep(&mut self, s: &'b str) -> &'a str;
}

/// The input outlives the model: keep the slice itself.
pub struct Borrow;

impl<'a> Keep<'a, 'a> for Borrow {
    fn keep(&mut self, s: &'a str) -> &'a str {
        s
    }
}

/// Append-only storage for strings that must outlive the input they were read from.
/// Shared by the threads of one parse (allocation is rare: once per distinct string
/// per thread).
#[derive(Default)]
pub struct Arena {
    /// Each from `Box::into_raw`, freed in `drop` and never before: a `Box` kept
    /// here would be moved as the vector grows, and moving a `Box` asserts it is the
    /// only way to its string, which the references handed out deny.
    strings: Mutex<Vec<*mut str>>,
}

// SAFETY: the arena owns its strings (like `Vec<Box<str>>`, which is Send and Sync),
// never changes them after handing out shared references, and touches the list
// only under the mutex.
unsafe impl Send for Arena {}
// SAFETY: as above: `alloc` takes `&self` and mutates only the list, under the mutex.
unsafe impl Sync for Arena {}

impl Arena {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of `s` that lives as long as the arena.
    pub fn alloc(&self, s: &str) -> &str {
        let raw: *mut str = Box::into_raw(Box::<str>::from(s));
        self.strings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(raw);
        // SAFETY: `raw` came from `Box::into_raw` just above and is freed only when
        // the arena is dropped; nothing writes through it; the reference cannot
        // outlive `&self`.
        unsafe { &*raw }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let strings = std::mem::take(self.strings.get_mut().unwrap_or_else(|e| e.into_inner()));
        for raw in strings {
            // SAFETY: each pointer came from `Box::into_raw` in `alloc` and is freed
            // once, here; no reference into the arena outlives it (`&self` bounds them).
            drop(unsafe { Box::from_raw(raw) });
        }
    }
}

/// Copies into an arena, each distinct string once per keeper.
pub struct InArena<'a> {
    arena: &'a Arena,
    seen: FxHashSet<&'a str>,
}

impl<'a> InArena<'a> {
    pub fn new(arena: &'a Arena) -> Self {
        InArena {
            arena,
            seen: FxHashSet::default(),
        }
    }
}

impl<'b, 'a> Keep<'b, 'a> for InArena<'a> {
    fn keep(&mut self, s: &'b str) -> &'a str {
        if let Some(k) = self.seen.get(s) {
            return k;
        }
        let k = self.arena.alloc(s);
        self.seen.insert(k);
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_strings_outlive_their_source_and_are_shared() {
        let arena = Arena::new();
        let mut keep = InArena::new(&arena);
        let (a, b) = {
            let source = String::from("main.(*T).Lock main.(*T).Lock");
            (keep.keep(&source[..14]), keep.keep(&source[15..]))
        };
        assert_eq!(a, "main.(*T).Lock");
        assert!(std::ptr::eq(a, b), "one copy per distinct string");
    }
}
