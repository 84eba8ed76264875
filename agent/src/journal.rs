//! The agent's durable state, a sled database under its state directory:
//! the framework id Mesos gave it, and, per task it launched, the launch
//! request and what placement gave it (Mesos agent, hostname, host ports),
//! so that a restarted agent knows its tasks' specs and resources again.
//!
//! A framework id that cannot be trusted (unreadable, not an id Mesos
//! would give, too long, a path) is an error naming where it is and what
//! to do: registering anew instead would leave the old framework's tasks
//! running unmanaged for its whole failover timeout, beside new copies.

use std::path::{Path, PathBuf};

use mesos::types::FrameworkId;
use prost::Message;
use sextant_proto::proto::{HostPort, LaunchRequest};

/// The journal's sled directory under the state directory.
pub const JOURNAL_DIR: &str = "agent.sled";
/// The file earlier releases kept the framework id in; read once, then
/// renamed to `framework-id.migrated`.
pub const LEGACY_ID_FILE: &str = "framework-id";
/// Mesos ids are `<master uuid>-<number>` (about 41 characters); anything
/// much longer is not one.
pub const MAX_FRAMEWORK_ID_LEN: usize = 128;
/// sled's page cache: the journal holds one record per live task.
const CACHE_BYTES: u64 = 4 * 1024 * 1024;

const META_TREE: &str = "meta";
const LAUNCHES_TREE: &str = "launches";
const FRAMEWORK_ID_KEY: &[u8] = b"framework_id";

/// What to do about an id that cannot be used.
const ID_HINT: &str = "restore the id Mesos gave this framework (the master's /master/frameworks lists it), \
     or, to register as a new framework, remove it: the old framework's tasks then run unmanaged until its failover timeout ends";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open the agent's journal at {path}: {cause}{hint}")]
    Open {
        path: PathBuf,
        cause: String,
        hint: &'static str,
    },
    #[error("the framework id in {path} {problem}; {ID_HINT}")]
    BadFrameworkId { path: PathBuf, problem: String },
    #[error("cannot read the framework id file {path}: {cause}")]
    ReadLegacy { path: PathBuf, cause: std::io::Error },
    #[error("cannot rename {path} after moving its framework id into the journal: {cause}")]
    Migrate { path: PathBuf, cause: std::io::Error },
    #[error("the agent's journal at {path}: cannot {action}: {}", sled_words(.cause))]
    Sled {
        path: PathBuf,
        action: &'static str,
        cause: sled::Error,
    },
}

/// One launch as the journal keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct JournaledLaunch {
    pub request: LaunchRequest,
    /// The Mesos agent (node) it was placed on.
    pub agent_id: String,
    pub hostname: String,
    pub ports: Vec<HostPort>,
}

/// The record's wire shape: the contract's request, prost-encoded, with
/// the placement beside it.
#[derive(Clone, PartialEq, prost::Message)]
struct LaunchRecord {
    #[prost(message, optional, tag = "1")]
    request: Option<LaunchRequest>,
    #[prost(string, tag = "2")]
    agent_id: String,
    #[prost(string, tag = "3")]
    hostname: String,
    #[prost(message, repeated, tag = "4")]
    ports: Vec<HostPort>,
}

/// The agent's journal. Cheap to clone (one database underneath).
#[derive(Clone, Debug)]
pub struct Journal {
    path: PathBuf,
    meta: sled::Tree,
    launches: sled::Tree,
    db: sled::Db,
}

impl Journal {
    /// Opens (or creates) the journal under `dir`, moving the framework id
    /// of an earlier release's `framework-id` file into it.
    pub fn open(dir: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let dir = dir.as_ref();
        let path = dir.join(JOURNAL_DIR);
        std::fs::create_dir_all(dir).map_err(|cause| JournalError::Open {
            path: path.clone(),
            cause: format!("cannot create {}: {cause}", dir.display()),
            hint: "",
        })?;
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| open_error(&path, &e))?;
        let journal = Self::with_db(path, db)?;
        journal.migrate(&dir.join(LEGACY_ID_FILE))?;
        Ok(journal)
    }

    /// A journal that lives as long as the process (no state directory).
    pub fn temporary() -> Result<Journal, JournalError> {
        let path = PathBuf::from("(temporary)");
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| open_error(&path, &e))?;
        Self::with_db(path, db)
    }

    fn with_db(path: PathBuf, db: sled::Db) -> Result<Journal, JournalError> {
        let tree = |name: &str| {
            db.open_tree(name).map_err(|cause| JournalError::Sled {
                path: path.clone(),
                action: "open its trees",
                cause,
            })
        };
        Ok(Journal {
            meta: tree(META_TREE)?,
            launches: tree(LAUNCHES_TREE)?,
            path: path.clone(),
            db,
        })
    }

    /// Where the journal is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sled(&self, action: &'static str) -> impl FnOnce(sled::Error) -> JournalError + '_ {
        move |cause| JournalError::Sled {
            path: self.path.clone(),
            action,
            cause,
        }
    }

    /// The framework id, if one was ever given; an id that cannot be one
    /// is an error, never `None`.
    pub fn framework_id(&self) -> Result<Option<FrameworkId>, JournalError> {
        let Some(raw) = self
            .meta
            .get(FRAMEWORK_ID_KEY)
            .map_err(self.sled("read the framework id"))?
        else {
            return Ok(None);
        };
        let id = parse_framework_id(&raw).map_err(|problem| JournalError::BadFrameworkId {
            path: self.path.clone(),
            problem,
        })?;
        Ok(Some(id))
    }

    /// Stores the framework id, on disk before it returns.
    pub fn set_framework_id(&self, id: &FrameworkId) -> Result<(), JournalError> {
        // Never write what could not be read back.
        parse_framework_id(id.value.as_bytes()).map_err(|problem| JournalError::BadFrameworkId {
            path: self.path.clone(),
            problem: format!("from the master {problem}"),
        })?;
        self.meta
            .insert(FRAMEWORK_ID_KEY, id.value.as_bytes())
            .map_err(self.sled("store the framework id"))?;
        self.flush("flush the framework id")
    }

    /// Forgets the framework id (the master removed the framework), on
    /// disk before it returns: the next subscription registers anew.
    pub fn clear_framework_id(&self) -> Result<(), JournalError> {
        self.meta
            .remove(FRAMEWORK_ID_KEY)
            .map_err(self.sled("forget the framework id"))?;
        self.flush("flush the framework id")
    }

    /// Records a launch sent to Mesos, with where it was placed. Written
    /// through sled's periodic flush (every 500 ms); `flush` to wait.
    pub fn record_launch(
        &self,
        request: &LaunchRequest,
        agent_id: &str,
        hostname: &str,
        ports: &[HostPort],
    ) -> Result<(), JournalError> {
        let record = LaunchRecord {
            request: Some(request.clone()),
            agent_id: agent_id.to_string(),
            hostname: hostname.to_string(),
            ports: ports.to_vec(),
        };
        self.launches
            .insert(request.task_id.as_bytes(), record.encode_to_vec())
            .map_err(self.sled("record a launch"))?;
        Ok(())
    }

    /// Forgets a task (it ended, or never reached Mesos).
    pub fn forget(&self, task_id: &str) -> Result<(), JournalError> {
        self.launches
            .remove(task_id.as_bytes())
            .map_err(self.sled("forget a task"))?;
        Ok(())
    }

    /// Every launch recorded and not forgotten, by task id. A record that
    /// cannot be read is skipped with a warning, not an error: its task is
    /// still adopted from Mesos, only without its spec.
    pub fn launches(&self) -> Result<Vec<JournaledLaunch>, JournalError> {
        let mut launches = Vec::with_capacity(self.launches.len());
        for entry in self.launches.iter() {
            let (key, value) = entry.map_err(self.sled("read the launches"))?;
            let task_id = String::from_utf8_lossy(&key).into_owned();
            let readable = match LaunchRecord::decode(value.as_ref()) {
                Ok(record) => match &record.request {
                    Some(request) if request.task_id == task_id => Some((request.clone(), record)),
                    _ => None,
                },
                Err(_) => None,
            };
            let Some((request, record)) = readable else {
                tracing::warn!(journal = %self.path.display(), task_id, "skipping an unreadable launch record; the task is adopted from Mesos without its spec");
                continue;
            };
            launches.push(JournaledLaunch {
                request,
                agent_id: record.agent_id,
                hostname: record.hostname,
                ports: record.ports,
            });
        }
        Ok(launches)
    }

    /// Waits until everything written is on disk.
    pub fn flush(&self, action: &'static str) -> Result<(), JournalError> {
        self.db.flush().map_err(self.sled(action))?;
        Ok(())
    }

    /// Moves an earlier release's framework id file into the journal, once:
    /// the file is renamed afterwards. The journal's own id wins.
    fn migrate(&self, file: &Path) -> Result<(), JournalError> {
        let raw = match std::fs::read(file) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(cause) => {
                return Err(JournalError::ReadLegacy {
                    path: file.to_path_buf(),
                    cause,
                });
            }
        };
        if self.framework_id()?.is_none() {
            let id = parse_framework_id(&raw).map_err(|problem| JournalError::BadFrameworkId {
                path: file.to_path_buf(),
                problem,
            })?;
            self.set_framework_id(&id)?;
            tracing::info!(path = %file.display(), framework_id = %id.value, "framework id moved into the journal");
        }
        std::fs::rename(file, file.with_extension("migrated")).map_err(|cause| JournalError::Migrate {
            path: file.to_path_buf(),
            cause,
        })
    }
}

/// A framework id as stored (surrounding whitespace allowed), or what is
/// wrong with it, in words that follow "the framework id in PATH".
pub fn parse_framework_id(raw: &[u8]) -> Result<FrameworkId, String> {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err("is not valid UTF-8 text".to_string());
    };
    let id = text.trim();
    if id.is_empty() {
        return Err("is empty".to_string());
    }
    if id.len() > MAX_FRAMEWORK_ID_LEN {
        return Err(format!(
            "is {} bytes long, more than the {MAX_FRAMEWORK_ID_LEN} of any Mesos id",
            id.len()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{id:?} holds {bad:?}: a Mesos id has only letters, digits, '-', '_' and '.'"
        ));
    }
    if id.starts_with('.') || id.contains("..") {
        return Err(format!("{id:?} looks like a path, not a Mesos id"));
    }
    Ok(FrameworkId::new(id.to_string()))
}

/// A sled error in words (no `Debug` dump of the OS error).
fn sled_words(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => io.to_string(),
        sled::Error::Corruption { .. } => "it is corrupt".into(),
        sled::Error::Unsupported(what) => what.clone(),
        sled::Error::ReportableBug(what) => format!("sled bug: {what}"),
        sled::Error::CollectionNotFound(name) => format!("tree {} not found", String::from_utf8_lossy(name)),
    }
}

fn open_error(path: &Path, e: &sled::Error) -> JournalError {
    let (cause, hint) = match e {
        // sled words a held lock as "could not acquire lock on ...".
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("could not acquire lock") =>
        {
            (
                "it is locked by another process".to_string(),
                "; another `sextant agent` or `sextant up` uses this data dir: stop it, or pass another --data-dir",
            )
        }
        sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => (
            sled_words(e),
            "; move the directory away and start again (the framework id is then lost: see the master's /master/frameworks)",
        ),
        other => (sled_words(other), ""),
    };
    JournalError::Open {
        path: path.to_path_buf(),
        cause,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_proto::proto::TaskSpec;

    fn request(id: &str) -> LaunchRequest {
        LaunchRequest {
            task_id: id.into(),
            namespace: "default".into(),
            app: "web".into(),
            revision: "0a1b2c3d4e".into(),
            spec: Some(TaskSpec {
                command: "sleep 100".into(),
                cpus: 0.5,
                mem: 64.0,
                ..TaskSpec::default()
            }),
        }
    }

    #[test]
    fn the_framework_id_and_launches_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        assert_eq!(journal.framework_id().unwrap(), None);
        journal
            .set_framework_id(&FrameworkId::new("5b3f0c1e-7d2a-4c8e-9f10-1a2b3c4d5e6f-0000"))
            .unwrap();
        let port = HostPort {
            name: "http".into(),
            port: 31005,
        };
        journal
            .record_launch(
                &request("default.web.0a1b2c3d4e.a"),
                "S1",
                "node-1",
                std::slice::from_ref(&port),
            )
            .unwrap();
        journal
            .record_launch(&request("default.web.0a1b2c3d4e.b"), "S2", "node-2", &[])
            .unwrap();
        journal.forget("default.web.0a1b2c3d4e.b").unwrap();
        journal.flush("flush").unwrap();
        drop(journal);

        let journal = Journal::open(dir.path()).unwrap();
        assert_eq!(
            journal.framework_id().unwrap().map(|id| id.value),
            Some("5b3f0c1e-7d2a-4c8e-9f10-1a2b3c4d5e6f-0000".to_string())
        );
        let launches = journal.launches().unwrap();
        assert_eq!(
            launches,
            vec![JournaledLaunch {
                request: request("default.web.0a1b2c3d4e.a"),
                agent_id: "S1".into(),
                hostname: "node-1".into(),
                ports: vec![port],
            }]
        );
        journal.clear_framework_id().unwrap();
        assert_eq!(journal.framework_id().unwrap(), None);
    }

    #[test]
    fn an_earlier_releases_id_file_is_moved_in_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEGACY_ID_FILE), "abc-0001\n").unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        assert_eq!(
            journal.framework_id().unwrap().map(|id| id.value).as_deref(),
            Some("abc-0001")
        );
        assert!(!dir.path().join(LEGACY_ID_FILE).exists());
        assert!(dir.path().join("framework-id.migrated").exists());
    }

    /// Each of these once made the agent register as a new framework, or
    /// retry forever: now each stops it, naming the file and the problem.
    #[test]
    fn an_id_file_that_cannot_be_an_id_is_an_error_naming_it() {
        let cases: [(&[u8], &str); 6] = [
            (b"", "is empty"),
            (b"  \n", "is empty"),
            (b"\xff\xfe-0000", "not valid UTF-8"),
            (b"../../etc/passwd", "holds '/'"),
            (b"..", "looks like a path"),
            (&[b'a'; 10 * 1024], "10240 bytes long"),
        ];
        for (content, problem) in cases {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(LEGACY_ID_FILE);
            std::fs::write(&file, content).unwrap();
            let message = Journal::open(dir.path()).unwrap_err().to_string();
            assert!(
                message.contains(&file.display().to_string()) && message.contains(problem),
                "{message}"
            );
            assert!(
                message.contains("to register as a new framework, remove it"),
                "{message}"
            );
            assert!(file.exists(), "a bad file is left as it is");
        }
    }

    #[test]
    fn an_unreadable_id_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: reading it fails for root too.
        std::fs::create_dir(dir.path().join(LEGACY_ID_FILE)).unwrap();
        let message = Journal::open(dir.path()).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "cannot read the framework id file {}",
                dir.path().join(LEGACY_ID_FILE).display()
            )),
            "{message}"
        );
    }

    #[test]
    fn a_corrupt_id_in_the_journal_is_an_error_not_a_new_framework() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        journal.meta.insert(FRAMEWORK_ID_KEY, &b"\x00\x01"[..]).unwrap();
        let message = journal.framework_id().unwrap_err().to_string();
        assert!(
            message.contains("agent.sled") && message.contains("holds '\\0'"),
            "{message}"
        );
    }

    #[test]
    fn a_journal_in_use_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let _held = Journal::open(dir.path()).unwrap();
        // sled's lock is per process in the same process too (flock).
        let message = Journal::open(dir.path()).map(drop).unwrap_err().to_string();
        assert!(message.contains("another `sextant agent`"), "{message}");
    }

    #[test]
    fn an_unreadable_launch_record_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        journal
            .record_launch(&request("default.web.0a1b2c3d4e.a"), "S1", "n", &[])
            .unwrap();
        journal
            .launches
            .insert("default.web.0a1b2c3d4e.b", &b"\xff\xff\xff"[..])
            .unwrap();
        // A readable record filed under another task's id.
        let misfiled = LaunchRecord {
            request: Some(request("default.web.0a1b2c3d4e.a")),
            ..LaunchRecord::default()
        };
        journal
            .launches
            .insert("default.web.0a1b2c3d4e.c", misfiled.encode_to_vec())
            .unwrap();
        let ids: Vec<String> = journal
            .launches()
            .unwrap()
            .into_iter()
            .map(|l| l.request.task_id)
            .collect();
        assert_eq!(ids, ["default.web.0a1b2c3d4e.a"]);
    }

    #[test]
    fn mesos_ids_pass() {
        for id in ["20261201-123456-16777343-5050-1234-0000", "abc_DEF.1-0001"] {
            assert_eq!(parse_framework_id(id.as_bytes()).unwrap().value, id);
        }
    }
}
