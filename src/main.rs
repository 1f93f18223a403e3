//! The `ontap-conform` binary: the command line ([`cli`]) over the library: parse the flags, hand
//! them to the library, render what it tells and map the outcome to an exit code.
use std::process::ExitCode;

mod cli;

/// The harness and the mock allocate per request; mimalloc halves what glibc's allocator costs them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
}
