//! The model file mapped into memory, so that weights held as the file stores them are read
//! in place: loading costs no copy, and the pages are shared with the operating system's file
//! cache (a model opened again starts at once).
#![allow(unsafe_code)]

use std::fs::File;

use memmap2::Mmap;

/// `file` mapped read-only.
pub(crate) fn map(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the mapping is only read. Its bytes change if another program rewrites the file
    // while the model is loaded (then the weights change as they would had the file been read
    // at that moment), and reading past a point where another program truncated it ends the
    // process; llama.cpp and candle map model files under the same terms. The app puts models
    // in place only by renaming a finished copy over the name, which leaves a mapped file
    // intact.
    unsafe { Mmap::map(file) }
}

/// Gives the whole pages of `range` of the mapping back to the system: weights repacked from
/// the mapped file are held as the copy, and the pages they were read from would otherwise
/// count in the process's memory beside it until the system needed them.
pub(crate) fn release(map: &Mmap, range: std::ops::Range<usize>) {
    const PAGE: usize = 4096;
    let start = range.start.div_ceil(PAGE) * PAGE;
    let end = range.end.min(map.len()) / PAGE * PAGE;
    if end <= start {
        return;
    }
    // SAFETY: the mapping is private and read-only: the pages given back hold no changes,
    // and reading them again fetches the same bytes from the file, so every reference into
    // the mapping stays valid and reads what it read before.
    let _ = unsafe {
        map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
    };
}
