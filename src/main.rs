//! The `ontap-conform` binary: the command line ([`cli`]) over the library: parse the flags, hand
//! them to the library, render what it tells and map the outcome to an exit code.
use std::process::ExitCode;

mod cli;

/// The harness and the mock allocate per request; mimalloc halves what glibc's allocator costs them.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// mimalloc, asked through its C API the way that is fastest for each request: plain `mi_malloc`
/// when the alignment is one every mimalloc block has (8 bytes, a word), `mi_malloc_aligned`
/// only beyond. The `mimalloc` crate's allocator asks `mi_malloc_aligned` for everything, and
/// mimalloc serves an aligned request over 1 KiB whose size is not a power of two by
/// over-allocating on its slow path (a boxed future, an answer's buffer): in
/// `bench/harness_rps.sh`, allocating cost the harness 118 M instructions that way, 78 M this way
/// (callgrind, `--cases 2000`).
struct MiMalloc;

/// The alignment of every block mimalloc hands out (`MI_INTPTR_SIZE`): its smallest size
/// class is a word, and a page's blocks start at multiples of their size.
const MI_WORD_ALIGN: usize = 8;

// SAFETY: every pointer comes from mimalloc with at least the layout's size and alignment
// (plain `mi_malloc` only for alignments every block has), and goes back to `mi_free` or
// mimalloc's realloc of the same family.
unsafe impl std::alloc::GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        // SAFETY: mimalloc's allocation functions take any size and a power-of-two alignment.
        unsafe {
            match layout.align() <= MI_WORD_ALIGN {
                true => mi::mi_malloc(layout.size()),
                false => mi::mi_malloc_aligned(layout.size(), layout.align()),
            }
        }
        .cast()
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        // SAFETY: as in `alloc`.
        unsafe {
            match layout.align() <= MI_WORD_ALIGN {
                true => mi::mi_zalloc(layout.size()),
                false => mi::mi_zalloc_aligned(layout.size(), layout.align()),
            }
        }
        .cast()
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from this allocator, that is from mimalloc.
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys as mi;
        // SAFETY: `ptr` came from mimalloc; the block keeps the layout's alignment.
        unsafe {
            match layout.align() <= MI_WORD_ALIGN {
                true => mi::mi_realloc(ptr.cast(), new_size),
                false => mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()),
            }
        }
        .cast()
    }
}

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (the version libmimalloc-sys builds;
/// the crate does not export the v3 option numbers, and the test below proves this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// For `run`, memory the process frees goes back to the system after [`RUN_PURGE_DELAY_MS`]
/// rather than a second later (mimalloc v3's default). A run against a large cluster frees pages
/// of decoded records as fast as it reads them; with a second's delay, those freed pages still
/// counted in its RSS (10,000 SVMs: about 140 MB peak, 102 to 108 MB without a delay). Without
/// any delay, though, every page freed is faulted in and zeroed again moments later: at 100,000
/// SVMs (`bench/scale.sh`) the harness spent 19.7 to 20.9 s of CPU with no delay, 14.0 to 15.9 s
/// with 50 ms, 14.9 s with 200 ms and 17.0 s with a second, for a peak RSS of 239 to 242, 249
/// to 257, 246 and 257 MB. The mock keeps the default: it allocates and frees per request at
/// tens of thousands of requests a second, and purging at once cost it 30% of its throughput
/// (`bench/mock_rps.sh`). `MIMALLOC_PURGE_DELAY` in the environment still wins.
///
/// `run` also turns transparent huge pages off for itself (`prctl(PR_SET_THP_DISABLE)`, the
/// kernel's per-process switch; `MIMALLOC_ALLOW_THP=0` does the same). mimalloc asks for huge
/// pages on its arenas (`MADV_HUGEPAGE`), so with the kernel's usual `madvise` setting every page
/// purged and touched again was faulted back in as 2 MiB, zeroed whole: 12% of the harness's
/// samples in `bench/harness_rps.sh` were the kernel clearing pages. At 100,000 SVMs
/// (`bench/scale.sh`'s run, one mock, runs alternated, four with huge pages and four without)
/// the harness went from 3.6 to 6.7 s of system CPU to 1.7 to 3.2 s, and from 244 to 254 MB
/// peak RSS to 203 to 207 MB.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's global options; no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, RUN_PURGE_DELAY_MS) };
    }
    // SAFETY: sets a flag of this process's memory map; no memory is touched. Where the kernel
    // lacks the switch the call fails and huge pages stay as they were: nothing else depends on it.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0)
    };
}

/// How long `run` keeps freed memory before it goes back to the system (see [`tune_allocator`]).
const RUN_PURGE_DELAY_MS: std::os::raw::c_long = 50;

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "run") {
        tune_allocator();
    }
    cli::main()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number names the purge delay: its default is 1,000 (ms; no other option of
    /// mimalloc v3 defaults to that), and setting it reads back. An upgrade of mimalloc that renumbered its options fails here, not silently.
    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        // SAFETY (both blocks): reads a global option.
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
            1000,
            "mimalloc v3's purge delay defaults to 1,000 ms (unset MIMALLOC_PURGE_DELAY to run this test)"
        );
        tune_allocator();
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
            RUN_PURGE_DELAY_MS
        );
        // SAFETY: reads a flag of this process's memory map.
        #[cfg(target_os = "linux")]
        assert_eq!(
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
            1,
            "run turns transparent huge pages off for itself"
        );
    }

    /// Every block the allocator hands out has the layout's alignment, holds what was written
    /// into it, and keeps both through a realloc: for every size up to 4 KiB and some above,
    /// with alignments from 1 to 4,096 (plain `mi_malloc` for those up to a word, which this
    /// shows every mimalloc block meets, whatever its size class).
    #[test]
    fn every_block_has_its_layouts_alignment_and_keeps_its_bytes() {
        use std::alloc::{GlobalAlloc, Layout};
        let sizes = (1..=4096).chain([5000, 8191, 8192, 20_000, 65_537, 300_000]);
        let mut held = Vec::new();
        for size in sizes {
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; each block is written within its size, checked,
                // grown with realloc and freed once with its layout.
                unsafe {
                    let zeroed = size % 7 == 0;
                    let p = match zeroed {
                        true => GLOBAL.alloc_zeroed(layout),
                        false => GLOBAL.alloc(layout),
                    };
                    assert!(!p.is_null(), "{size} bytes at {align}");
                    assert_eq!(p as usize % align, 0, "{size} bytes at {align}");
                    if zeroed {
                        assert!(std::slice::from_raw_parts(p, size).iter().all(|b| *b == 0));
                    }
                    std::ptr::write_bytes(p, (size % 251) as u8, size);
                    let q = GLOBAL.realloc(p, layout, size * 2 + 1);
                    assert_eq!(q as usize % align, 0, "{size} bytes at {align}, grown");
                    assert!(
                        std::slice::from_raw_parts(q, size)
                            .iter()
                            .all(|b| *b == (size % 251) as u8)
                    );
                    // Some blocks stay until the end, so that later ones come from used pages.
                    match size % 3 {
                        0 => held.push((q, Layout::from_size_align(size * 2 + 1, align).unwrap())),
                        _ => {
                            GLOBAL.dealloc(q, Layout::from_size_align(size * 2 + 1, align).unwrap())
                        }
                    }
                }
            }
        }
        for (p, layout) in held {
            // SAFETY: each held block is freed once, with the layout it was last given.
            unsafe { GLOBAL.dealloc(p, layout) }
        }
    }
}
