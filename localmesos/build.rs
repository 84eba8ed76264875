//! Tells the tests what this machine can run, so that a test that needs
//! something absent is reported ignored (never passed): `cfg(has_docker)`
//! when it has a Docker engine's socket; `cfg(runs_as_root)` when the
//! build (and so the tests after it) runs as root, which switching a
//! task's user needs; `cfg(has_memory_cgroups)` when it runs as root and
//! the machine has a cgroup memory controller (v1, or delegated in
//! cgroup2), which `--memory-limits` needs.

fn main() {
    const SOCKET: &str = "/var/run/docker.sock";
    println!("cargo::rustc-check-cfg=cfg(has_docker)");
    println!("cargo::rustc-check-cfg=cfg(runs_as_root)");
    println!("cargo::rustc-check-cfg=cfg(has_memory_cgroups)");
    println!("cargo::rerun-if-changed={SOCKET}");
    println!("cargo::rerun-if-changed=build.rs");
    if std::path::Path::new(SOCKET).exists() {
        println!("cargo::rustc-cfg=has_docker");
    }
    // /proc/self belongs to the process's effective user (the root
    // crate's build.rs asks the same way).
    if std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
        println!("cargo::rustc-cfg=runs_as_root");
        if has_memory_controller() {
            println!("cargo::rustc-cfg=has_memory_cgroups");
        }
    }
}

/// A v1 hierarchy with the memory controller is mounted, or cgroup2
/// delegates it below this process's cgroup.
fn has_memory_controller() -> bool {
    let v1 = std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|text| {
        text.lines().any(|line| {
            line.split_once(" - ").is_some_and(|(_, tail)| {
                let fields: Vec<&str> = tail.split(' ').collect();
                fields.first() == Some(&"cgroup") && fields.get(2).is_some_and(|o| o.split(',').any(|o| o == "memory"))
            })
        })
    });
    // On a pure cgroup2 machine: delegated to this process's cgroup's
    // children, where the launcher makes its own.
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| text.lines().find_map(|l| l.strip_prefix("0::").map(str::to_string)));
    let unified = own.is_some_and(|own| {
        let control = format!("/sys/fs/cgroup/{}/cgroup.subtree_control", own.trim_start_matches('/'));
        std::fs::read_to_string(control).is_ok_and(|text| text.split_whitespace().any(|c| c == "memory"))
    });
    v1 || unified
}
