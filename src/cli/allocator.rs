//! The `flowc` binary's allocator settings. The binary uses mimalloc (src/main.rs); the library
//! leaves the allocator to its host, and a host that also uses mimalloc may call [`tune`].

/// mimalloc's `mi_option_purge_delay` (the order of `mi_option_e` in its `mimalloc.h`, the same
/// in its v2 and v3; the Rust bindings give it no constant).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long memory freed is kept before it goes back to the OS, in milliseconds.
///
/// mimalloc's default is one second. Memory given back is zero-filled by the kernel when it is
/// touched again, so a host whose load comes in waves spent a tenth of its time in the kernel
/// zeroing pages it had just returned (perf of the runtime bench: `clear_page_erms` under
/// `mi_page_free_list_extend`). Ten seconds is jemalloc's default decay: the 5-step flow on two
/// workers went from 105,900-108,900 to 128,000-128,800 instances/s (docs/runtime.md, Figures).
/// The cost: after a burst, the resident size falls ten seconds later instead of one.
const PURGE_DELAY_MS: std::os::raw::c_long = 10_000;

/// Sets the allocator's options; call first thing in `main`, before any other thread starts
/// (mimalloc's options are not set atomically).
pub fn tune() {
    set_unless(std::env::var_os("MIMALLOC_PURGE_DELAY").is_some());
}

/// Sets the purge delay, unless an operator (or a test) set `MIMALLOC_PURGE_DELAY`: mimalloc
/// reads that itself, and the operator's choice wins.
fn set_unless(operator_set: bool) {
    if operator_set {
        return;
    }
    // SAFETY: a plain store into mimalloc's table of options, at an index that exists in every
    // version the bindings build; no other thread runs yet.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, not two: mimalloc's options are the process's.
    #[test]
    fn the_purge_delay_is_the_option_it_is_said_to_be_and_is_set_unless_an_operator_set_it() {
        // SAFETY: reads and stores of mimalloc's options.
        let before = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // mimalloc v3's default purge delay: the index names that option, not another.
            assert!(
                before == 1000 || before == PURGE_DELAY_MS,
                "option {PURGE_DELAY} is {before}, not mimalloc's purge delay"
            );
        }
        // A value neither mimalloc's default nor ours.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 1234) };
        set_unless(true);
        let kept = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        set_unless(false);
        let set = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        // `tune` asks the environment (read here, never set: other tests run meanwhile).
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 1234) };
        tune();
        let tuned = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, before) };
        assert_eq!(kept, 1234, "an operator's setting is left as it is");
        assert_eq!(set, PURGE_DELAY_MS);
        let operator = std::env::var_os("MIMALLOC_PURGE_DELAY").is_some();
        assert_eq!(tuned, if operator { 1234 } else { PURGE_DELAY_MS });
    }
}
