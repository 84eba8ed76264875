//! Stopping a benched `sextant up` as a person does (shared by the bench
//! binaries through `#[path]`): SIGINT, then wait for the exit.

use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Sends SIGINT to `child` and waits up to `within` for it to exit, then
/// kills it; how long the stop took.
pub fn interrupt_and_wait(mut child: Child, within: Duration) -> Duration {
    let start = Instant::now();
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
    }
    while start.elapsed() < within {
        if let Ok(Some(_)) = child.try_wait() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("sextant up did not stop within {within:?} of SIGINT; killing it");
    let _ = child.kill();
    let _ = child.wait();
    start.elapsed()
}
