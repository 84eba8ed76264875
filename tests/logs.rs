//! `sextant logs` end to end, under `sextant up`: a task's stdout and
//! stderr come from its sandbox through the controller, the agent and the
//! Mesos agent's `/files/read`; `--tail`, `--task`, and `-f` (which sees
//! lines written later, ends quietly when its reader goes away, and ends by
//! itself once the task ended).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{DEADLINE, Up};

/// An app whose task writes known lines, then one more line each time a
/// trigger file appears, and ends after the third.
fn printer(dir: &Path) -> String {
    let go = |n: u32| dir.join(format!("go{n}")).display().to_string();
    let wait = |n: u32| format!("while [ ! -e {} ]; do sleep 0.1; done", go(n));
    format!(
        "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: printer
spec:
  instances: 1
  command: \"echo out-1; echo out-2; echo out-3; echo err-1 >&2; {}; echo later; {}; echo even-later; {}; exit 0\"
  resources: {{cpus: 0.1, mem: 16}}
  killGracePeriodSeconds: 1
",
        wait(1),
        wait(2),
        wait(3)
    )
}

fn logs(up: &Up, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .arg("logs")
        .args(args)
        .args(["--server", &up.api])
        .output()
        .expect("run sextant logs")
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `sextant logs ARGS -f`, its stdout read line by line on a thread.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn start(up: &Up, args: &[&str]) -> Follower {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .arg("logs")
            .args(args)
            .args(["-f", "--server", &up.api])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sextant logs -f");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until `wanted` (panics naming what came instead).
    fn until(&mut self, wanted: &str) {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                let done = line == wanted;
                self.seen.push(line);
                if done {
                    return;
                }
            }
        }
        panic!("`sextant logs -f` never printed {wanted:?}; it printed {:?}", self.seen);
    }

    /// Waits for the process to exit by itself; returns whether it succeeded.
    fn exit_status(mut self, what: &str) -> bool {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("`sextant logs -f` did not exit {what}");
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Kills `child` (SIGKILL) unless the guard is dropped within `after`.
fn kill_after(child: &Child, after: Duration) -> mpsc::Sender<()> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(after) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    tx
}

/// Guards `sextant logs`: the same path as on a real cluster (the agent
/// reads the Mesos agent's `/files/read` at the address the offers gave).
#[test]
fn logs_show_a_tasks_output_tail_and_follow() {
    let up = Up::start();
    let triggers = up.dir.path().join("triggers");
    std::fs::create_dir_all(&triggers).expect("triggers dir");
    let touch = |n: u32| std::fs::write(triggers.join(format!("go{n}")), "").expect("trigger");
    up.write_manifest("printer.yaml", &printer(&triggers));
    up.wait_for("printer running", || up.running_in_controller("printer").len() == 1);
    let task = up.running_in_controller("printer")[0].clone();

    // RUNNING comes a moment before the shell writes.
    up.wait_for("the task's stdout", || {
        stdout_of(&logs(&up, &["app/printer"])) == "out-1\nout-2\nout-3\n"
    });
    let stderr = logs(&up, &["app/printer", "--stderr"]);
    assert!(stderr.status.success());
    assert_eq!(stdout_of(&stderr), "err-1\n");
    assert_eq!(stdout_of(&logs(&up, &["printer", "--tail", "2"])), "out-2\nout-3\n");
    assert_eq!(stdout_of(&logs(&up, &["app/printer", "--tail", "0"])), "");
    let by_id = logs(&up, &["app/printer", "--task", &task, "-n", "default"]);
    assert!(by_id.status.success());
    assert_eq!(stdout_of(&by_id), "out-1\nout-2\nout-3\n");

    let missing = logs(&up, &["app/nope"]);
    assert_eq!(missing.status.code(), Some(1));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(said.contains("app default/nope not found"), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
    let other = logs(&up, &["app/printer", "--task", "default.other.0a1b2c3d4e.x"]);
    assert_eq!(other.status.code(), Some(1));
    let said = String::from_utf8_lossy(&other.stderr);
    assert!(
        said.contains("task default.other.0a1b2c3d4e.x is not a task of app default/printer"),
        "{said}"
    );

    // -f sees what the task writes later.
    let mut follower = Follower::start(&up, &["app/printer"]);
    follower.until("out-3");
    touch(1);
    follower.until("later");
    drop(follower);

    // A reader that goes away ends the command quietly, with success.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["logs", "app/printer", "--tail", "1", "-f", "--server", &up.api])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sextant logs -f");
    let watchdog = kill_after(&child, DEADLINE);
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("a line");
    assert_eq!(first, "later\n", "--tail 1 with -f");
    drop(reader);
    touch(2);
    let status = child.wait().expect("wait");
    drop(watchdog);
    assert!(status.success(), "a closed pipe is not an error: {status}");

    // A followed task that ends ends the command.
    let mut follower = Follower::start(&up, &["app/printer", "--task", &task]);
    follower.until("even-later");
    touch(3);
    assert!(
        follower.exit_status("after the task ended"),
        "the end of a task is not an error"
    );
}
