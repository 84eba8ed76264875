//! The task launchers: small processes, started with the master (a few,
//! taking turns), that start every `process` task and every COMMAND
//! health-check probe of one (`protocol::Role`), so that starting one
//! costs the same whatever the size of the process localmesos runs in (a
//! fork of the whole `sextant` process copies its page tables: 1.5 ms at
//! 13 MB, 19.5 ms at 525 MB), and each owns every process its tasks or
//! probes start.
//!
//! - `client.rs`: the master's side: starts the launchers, sends each
//!   one's requests from a writer thread and dispatches its answers from
//!   a reader thread (no fork, no blocking write on an async worker).
//! - `server.rs`: the launcher's loop; `direct.rs` with `cgroup.rs`: a
//!   task started by the launcher itself in a cgroup of its own, where the
//!   machine allows it, and `memory_limit.rs`: its memory limit
//!   (`--memory-limits`); `supervisor.rs` otherwise: the per-task subreaper
//!   that makes a task's processes unable to escape; `prepare.rs`: user,
//!   sandbox and program; `protocol.rs`: the messages.
//!
//! The launcher is the binary localmesos runs in, re-executed
//! (`/proc/self/exe`) with `LOCALMESOS_LAUNCHER=1` in its environment. A
//! constructor this crate puts in `.init_array` (below) sees the variable
//! before `main` and runs the launcher instead, so every binary that links
//! localmesos (`sextant`, a test, a bench) can be its own launcher with no
//! code of its own. `client::Launcher::start` refers to the constructor,
//! so the linker keeps it.

mod cgroup;
mod client;
mod direct;
mod memory_limit;
mod prepare;
mod protocol;
mod server;
mod supervisor;
mod vfork;

pub use client::{Isolation, Launcher, MAX_LAUNCHERS};
pub use prepare::DEFAULT_PATH;
pub use protocol::{Launch, Response, Role, Stop};

/// Set in the launcher's environment to make the binary run as launcher.
const LAUNCHER_ENV: &std::ffi::CStr = c"LOCALMESOS_LAUNCHER";

/// Runs before `main` in every binary that links this crate: as the
/// launcher (never returning) when `LOCALMESOS_LAUNCHER` is set, else
/// nothing.
extern "C" fn launcher_hook() {
    // SAFETY: getenv before main, while no other thread exists.
    let asked = unsafe { !libc::getenv(LAUNCHER_ENV.as_ptr()).is_null() };
    if asked {
        let code = server::run();
        // SAFETY: ends the process without running `main`.
        unsafe { libc::_exit(code) }
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static LAUNCHER_HOOK: extern "C" fn() = launcher_hook;

/// Makes the linker keep `LAUNCHER_HOOK` (an unreferenced object file of
/// a library may be left out of a binary).
fn keep_hook() {
    std::hint::black_box(&LAUNCHER_HOOK);
}
