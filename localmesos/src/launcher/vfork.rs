//! Starting a task's process without copying the launcher: `clone` with
//! `CLONE_VM | CLONE_VFORK`, as `posix_spawn` does. The child runs on a
//! stack of its own in the launcher's memory until it execs (or exits),
//! and the launcher waits until then, so nothing of the launcher is
//! copied at the fork nor unmapped at the exec.
//!
//! Why: a `fork` copies the launcher's page tables and the exec then
//! unmaps them, and the launcher grows with the tasks it runs (4.5 MB
//! resident at the start of issue 17's 5,000-task benchmark, 5.6 MB at its
//! end), so each launch cost more than the one before.
//!
//! The child shares the launcher's memory: it may only make system calls
//! on memory prepared before the clone (no allocation, no lock), which is
//! what `supervisor::exec_task` does.

use std::ffi::c_void;
use std::io;

/// The child's stack: mapped once, below a guard page, and reused (the
/// launcher is single-threaded and waits for each child's exec).
pub struct ChildStack {
    base: *mut c_void,
    size: usize,
}

/// Enough for `exec_task` and the calls it makes, with room to spare.
const STACK_SIZE: usize = 256 * 1024;
const GUARD_SIZE: usize = 4096;

impl ChildStack {
    pub fn new() -> io::Result<ChildStack> {
        let size = STACK_SIZE + GUARD_SIZE;
        // SAFETY: a new anonymous mapping; the result is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, size };
        // SAFETY: the lowest page of the mapping above. A child that
        // overflows its stack faults there instead of writing over the
        // launcher's memory.
        if unsafe { libc::mprotect(base, GUARD_SIZE, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The stack's top (it grows down), 16-byte aligned.
    fn top(&mut self) -> *mut c_void {
        // SAFETY: one past the end of the mapping, which is page-aligned.
        unsafe { self.base.cast::<u8>().add(self.size).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, used by no child any more
        // (each one exec'd or exited before `spawn` returned).
        unsafe { libc::munmap(self.base, self.size) };
    }
}

/// Runs `child` in a new process that shares this one's memory until it
/// execs or exits, and returns its pid once it has. `child` should exec
/// or `_exit` (if it returns, the child ends with status 127), and must
/// not allocate or take a lock.
///
/// Every signal is blocked around the clone so that no handler runs in the
/// child on the launcher's memory; `child` sets the mask its program gets.
pub fn spawn<F: FnMut()>(stack: &mut ChildStack, child: &mut F) -> io::Result<libc::pid_t> {
    extern "C" fn trampoline<F: FnMut()>(arg: *mut c_void) -> libc::c_int {
        // SAFETY: `arg` is the `&mut F` given to `spawn`, alive and not
        // used by the parent until the child has exec'd or exited.
        let child = unsafe { &mut *arg.cast::<F>() };
        child();
        // `clone` ends the child with this status if `child` returns.
        127
    }
    // SAFETY: plain calls with valid sets; the clone's stack is ours and
    // unused, and the parent is suspended while the child runs on it.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut before: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, &mut before);
        let pid = libc::clone(
            trampoline::<F>,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (child as *mut F).cast(),
        );
        let error = io::Error::last_os_error();
        libc::sigprocmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
        if pid < 0 { Err(error) } else { Ok(pid) }
    }
}
