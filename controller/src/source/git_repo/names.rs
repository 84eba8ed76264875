//! Validation of the names the mirror hands to git and the file system:
//! branch names (checked like `git check-ref-format`, and so that git
//! cannot misread them in a refspec) and commit ids (which also name
//! checkout directories, so nothing but a full hex id may pass).

use super::GitError;

/// Rejects branch names git would misread in a refspec or that are not
/// valid refs (after `git check-ref-format`).
pub(super) fn validate_branch(branch: &str) -> Result<(), GitError> {
    let bad = |reason| GitError::BadRef {
        what: "branch",
        value: branch.to_owned(),
        reason,
    };
    if branch.is_empty() {
        return Err(bad("it is empty"));
    }
    if branch.starts_with(['-', '/']) || branch.ends_with(['/', '.']) || branch.ends_with(".lock") {
        return Err(bad(
            "it may not start with '-' or '/', nor end with '/', '.' or '.lock'",
        ));
    }
    if branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch.contains("/.")
        || branch.starts_with('.')
    {
        return Err(bad(
            "it may not contain '..', '//', '@{' or a component starting with '.'",
        ));
    }
    if branch
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return Err(bad("it may not contain spaces, control characters or any of ~^:?*[\\"));
    }
    Ok(())
}

/// A full lowercase hex object id (SHA-1 or SHA-256); it also names a
/// directory, so nothing else may pass.
pub(super) fn validate_sha(sha: &str) -> Result<(), GitError> {
    let hex = sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if (sha.len() == 40 || sha.len() == 64) && hex {
        return Ok(());
    }
    Err(GitError::BadRef {
        what: "commit id",
        value: sha.to_owned(),
        reason: "expected a full lowercase hex commit id",
    })
}
