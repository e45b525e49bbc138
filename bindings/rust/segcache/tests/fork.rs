//! In a child process after fork() (without exec) the library refuses every
//! call with Error::Forked instead of hanging in its runtime, and the parent
//! is unaffected. std::process forks and execs at once, so the test calls
//! fork(2) itself.
use core::ffi::c_int;

use segcache::{Cache, Error};

extern "C" {
    fn fork() -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn alarm(seconds: u32) -> u32;
    fn _exit(status: c_int) -> !;
}

/// Runs in the child: returns the exit status (0 when every check held).
fn child(cache: &Cache) -> c_int {
    // A hang (the library entering its runtime) ends in SIGALRM.
    unsafe { alarm(60) };
    let checks = [
        cache.set("k", "child", 0) == Err(Error::Forked),
        cache.get("k") == Err(Error::Forked),
        cache.delete("k") == Err(Error::Forked),
        cache.incr("n", 1) == Err(Error::Forked),
        cache.stats().err() == Some(Error::Forked),
        cache.clear() == Err(Error::Forked),
        Cache::new().err() == Some(Error::Forked),
        Error::Forked.code() == segcache::sys::SEGCACHE_EFORKED,
        Error::Forked
            .to_string()
            .starts_with("called in a child process after fork()"),
    ];
    match checks.iter().position(|ok| !ok) {
        None => 0,
        Some(i) => 10 + i as c_int, // which check failed
    }
}

#[test]
fn calls_in_a_forked_child_fail_with_forked() {
    let cache = Cache::new().expect("open");
    cache.set("k", "parent", 0).unwrap();
    let pid = unsafe { fork() };
    if pid == 0 {
        // _exit: no destructors or test-harness code run in the child.
        unsafe { _exit(child(&cache)) }
    }
    assert!(pid > 0, "fork failed");
    let mut status: c_int = -1;
    assert_eq!(unsafe { waitpid(pid, &mut status, 0) }, pid);
    // 0: exited with status 0 (WIFEXITED && WEXITSTATUS == 0).
    assert_eq!(
        status,
        0,
        "child wait status {status:#x} (exit code {})",
        (status >> 8) & 0xff
    );
    // The parent keeps working, its cache intact.
    assert_eq!(cache.get("k").unwrap().as_deref(), Some(&b"parent"[..]));
    cache.set("k2", "v", 0).unwrap();
    Cache::new().expect("open in the parent").close().unwrap();
}
