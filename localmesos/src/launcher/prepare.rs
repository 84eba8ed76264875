//! What the launcher does for a task before forking it: resolve the
//! task's user (and whether this process may become it), create the
//! sandbox (0750, owned by that user) with `stdout` and `stderr` (0640),
//! find the program in the task's `PATH`, and turn it all into the C
//! strings the forked child needs (it must not allocate). A probe
//! (`Role::Probe`) leaves the existing sandbox alone and writes to
//! `/dev/null`.

use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::protocol::{Launch, Role};

/// The `PATH` a task gets when its environment sets none (Mesos').
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The ids a task runs with; `switch` when they must be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<libc::gid_t>,
    pub switch: bool,
}

/// Everything the forked child needs, ready to use.
pub struct Prepared {
    pub program: CString,
    #[allow(dead_code, reason = "owns what `argv_pointers` points at")]
    pub argv: Vec<CString>,
    #[allow(dead_code, reason = "owns what `env_pointers` points at")]
    pub env: Vec<CString>,
    pub cwd: CString,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub ids: Ids,
    /// `argv` and `env` as the null-terminated pointer arrays `execve`
    /// takes (pointing into the strings above, whose buffers never move).
    pub argv_pointers: Vec<*const libc::c_char>,
    pub env_pointers: Vec<*const libc::c_char>,
}

fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Prepares `launch`, or says (as a task's message) why it cannot run.
pub fn prepare(launch: &Launch) -> Result<Prepared, String> {
    let ids = resolve_user(&launch.user)?;
    let (stdout, stderr) = match launch.role {
        Role::Task => create_sandbox(&launch.sandbox, &ids)
            .map_err(|e| format!("Failed to launch container: cannot create the sandbox: {e}"))?,
        Role::Probe => discarded_output().map_err(|e| format!("cannot open /dev/null: {e}"))?,
    };
    let path = launch
        .env
        .iter()
        .find(|(name, _)| name == "PATH")
        .map_or(DEFAULT_PATH, |(_, value)| value.as_str());
    let program = find_program(&launch.program, path);
    let c = |text: &str| {
        CString::new(text).map_err(|_| format!("Failed to launch container: {text:?} contains a NUL byte"))
    };
    let argv: Vec<CString> = launch.argv.iter().map(|arg| c(arg)).collect::<Result<_, _>>()?;
    let env: Vec<CString> = launch
        .env
        .iter()
        .map(|(name, value)| c(&format!("{name}={value}")))
        .collect::<Result<_, _>>()?;
    Ok(Prepared {
        argv_pointers: pointers(&argv),
        env_pointers: pointers(&env),
        argv,
        env,
        program: CString::new(program.as_os_str().as_encoded_bytes())
            .map_err(|_| "Failed to launch container: the program contains a NUL byte".to_string())?,
        cwd: CString::new(launch.sandbox.as_os_str().as_encoded_bytes())
            .map_err(|_| "Failed to launch container: the sandbox path contains a NUL byte".to_string())?,
        stdout,
        stderr,
        ids,
    })
}

/// The ids of `user` and whether to switch to them. As a Mesos agent
/// with `--switch_user` (its default): as root, the task runs as its
/// user; otherwise only the launcher's own user can run tasks, and a task
/// of another user fails. An unknown user fails either way.
pub fn resolve_user(user: &str) -> Result<Ids, String> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if user.is_empty() {
        // SAFETY: as above.
        let egid = unsafe { libc::getegid() };
        return Ok(Ids {
            uid: euid,
            gid: egid,
            groups: Vec::new(),
            switch: false,
        });
    }
    let Some((uid, gid)) = lookup(user) else {
        return Err(format!(
            "Failed to launch container: user '{user}' does not exist on this node"
        ));
    };
    if euid == 0 {
        return Ok(Ids {
            uid,
            gid,
            groups: groups_of(user, gid),
            switch: true,
        });
    }
    if uid != euid {
        return Err(format!(
            "Failed to launch container: cannot run the task as user '{user}': localmesos runs as uid {euid}, not root, so it cannot switch user"
        ));
    }
    Ok(Ids {
        uid,
        gid,
        groups: Vec::new(),
        switch: false,
    })
}

/// `getpwnam_r`: the user's uid and primary gid.
fn lookup(user: &str) -> Option<(u32, u32)> {
    let name = CString::new(user).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value to be overwritten.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buf.len()` is its
    // size.
    let rc = unsafe { libc::getpwnam_r(name.as_ptr(), &mut entry, buf.as_mut_ptr(), buf.len(), &mut result) };
    (rc == 0 && !result.is_null()).then_some((entry.pw_uid, entry.pw_gid))
}

/// `getgrouplist`: the supplementary groups of `user` (with `gid`).
fn groups_of(user: &str, gid: u32) -> Vec<libc::gid_t> {
    let Ok(name) = CString::new(user) else {
        return vec![gid];
    };
    let mut count: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; usize::try_from(count).unwrap_or(64)];
        let mut n = count;
        // SAFETY: `groups` holds `n` entries; getgrouplist writes at most
        // that many and sets `n` to the number needed.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(usize::try_from(n).unwrap_or(0));
            return groups;
        }
        if n <= count || n > 65536 {
            return vec![gid];
        }
        count = n;
    }
}

/// Creates the sandbox (mode 0750) and its `stdout` / `stderr` (0640),
/// all owned by the task's user, with what the fetcher put there before
/// (as a Mesos agent gives the fetched files to the task's user); points
/// `runs/latest` at it.
fn create_sandbox(sandbox: &Path, ids: &Ids) -> std::io::Result<(OwnedFd, OwnedFd)> {
    fs::create_dir_all(sandbox)?;
    fs::set_permissions(sandbox, fs::Permissions::from_mode(0o750))?;
    if ids.switch {
        give_tree(sandbox, ids)?;
    }
    if let Some(runs) = sandbox.parent() {
        let latest = runs.join("latest");
        let _ = fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(sandbox, &latest);
    }
    let open = |name: &str| -> std::io::Result<OwnedFd> {
        let path = sandbox.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&path)?;
        file.set_permissions(fs::Permissions::from_mode(0o640))?;
        if ids.switch {
            std::os::unix::fs::fchown(&file, Some(ids.uid), Some(ids.gid))?;
        }
        Ok(file.into())
    };
    Ok((open("stdout")?, open("stderr")?))
}

/// A probe's stdout and stderr: `/dev/null`, so that nothing of the
/// task's sandbox is touched.
fn discarded_output() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let open = || -> std::io::Result<OwnedFd> { Ok(OpenOptions::new().write(true).open("/dev/null")?.into()) };
    Ok((open()?, open()?))
}

/// Gives `path` and, for a directory, everything below it to the task's
/// user; links are changed themselves, never followed.
fn give_tree(path: &Path, ids: &Ids) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(ids.uid), Some(ids.gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            give_tree(&entry?.path(), ids)?;
        }
    }
    Ok(())
}

/// `program` itself when it names a path, else the first executable of
/// that name in `path` (or the bare name, for exec to fail on).
fn find_program(program: &str, path: &str) -> PathBuf {
    if program.contains('/') || program.is_empty() {
        return PathBuf::from(program);
    }
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        if is_executable(&candidate) {
            return candidate;
        }
    }
    PathBuf::from(program)
}

fn is_executable(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string.
    let ok = unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } == 0;
    ok && path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_in_the_tasks_path() {
        assert_eq!(find_program("sh", "/nonexistent:/bin"), PathBuf::from("/bin/sh"));
        assert_eq!(find_program("/bin/true", ""), PathBuf::from("/bin/true"));
        assert_eq!(
            find_program("no-such-program-x", DEFAULT_PATH),
            PathBuf::from("no-such-program-x")
        );
    }

    #[test]
    fn an_unknown_user_is_named() {
        let error = resolve_user("no-such-user-x").expect_err("unknown");
        assert!(error.contains("'no-such-user-x'"), "{error}");
    }

    fn launch(sandbox: &Path, role: Role) -> Launch {
        Launch {
            id: 1,
            program: "/bin/true".to_string(),
            argv: vec!["/bin/true".to_string()],
            env: Vec::new(),
            sandbox: sandbox.to_path_buf(),
            user: String::new(),
            role,
            memory_limit: None,
        }
    }

    /// Guards a probe leaving its running task's sandbox as it is: the
    /// task's output kept, its mode kept, nothing created.
    #[test]
    fn a_probe_leaves_the_sandbox_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = dir.path().join("runs").join("run-1");
        prepare(&launch(&sandbox, Role::Task)).expect("task prepared");
        fs::write(sandbox.join("stdout"), "task output\n").expect("write");
        fs::set_permissions(&sandbox, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::remove_file(dir.path().join("runs").join("latest")).expect("latest linked");

        prepare(&launch(&sandbox, Role::Probe)).expect("probe prepared");
        assert_eq!(
            fs::read_to_string(sandbox.join("stdout")).expect("read"),
            "task output\n"
        );
        let mode = fs::metadata(&sandbox).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        assert!(!dir.path().join("runs").join("latest").exists());

        let missing = dir.path().join("missing");
        prepare(&launch(&missing, Role::Probe)).expect("probe prepared");
        assert!(!missing.exists(), "a probe creates no sandbox");
    }

    #[test]
    fn the_empty_user_is_the_current_one() {
        let ids = resolve_user("").expect("current user");
        assert!(!ids.switch);
    }
}
