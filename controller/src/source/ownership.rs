//! One owner per object: the single rule that decides whether a source
//! (a directory, a git repository, or `sextant apply`) may write an app.
//!
//! - A source may always write the apps it owns, and any app no one owns.
//! - An app owned by another *configured* source is refused, with a
//!   message that names the owner and, for files, where it is defined.
//! - An app whose owner is no longer configured (the directory or the
//!   repository URL changed) may be taken over by a source of the same
//!   kind, so moving a repository does not restart its apps. `apply` never
//!   takes over an app from files, and files never take over an applied
//!   app: that is owned by `apply` until `sextant delete` removes it.

use std::fmt;

use crate::desired::DesiredApp;

/// The name of the source that owns objects written by `sextant apply`.
pub const APPLY_SOURCE: &str = "apply";

/// Kinds of sources, from their names (`dir:…`, `git:…`, `apply`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A watched directory.
    Dir,
    /// A git repository.
    Git,
    /// `sextant apply`.
    Apply,
    /// A name this version does not know (a newer journal).
    Other,
}

impl SourceKind {
    /// The kind of the source named `name`.
    pub fn of(name: &str) -> Self {
        if name == APPLY_SOURCE {
            Self::Apply
        } else if name.starts_with("dir:") {
            Self::Dir
        } else if name.starts_with("git:") {
            Self::Git
        } else {
            Self::Other
        }
    }

    /// Lower-case name, as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dir => "dir",
            Self::Git => "git",
            Self::Apply => "apply",
            Self::Other => "other",
        }
    }
}

/// Why a source may not write an app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// `namespace/name`.
    pub key: String,
    /// The owner.
    pub owner: String,
    /// Where the owner defines it (file:line), when it is a file.
    pub defined_at: Option<String>,
    /// The source that was refused.
    pub claimant: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "app {} is owned by {}", self.key, self.owner)?;
        if let Some(at) = &self.defined_at {
            write!(f, " (defined at {at})")?;
        }
        match SourceKind::of(&self.owner) {
            SourceKind::Apply => {
                let (namespace, name) = self.key.split_once('/').unwrap_or(("default", &self.key));
                write!(
                    f,
                    "; it was applied by hand: `sextant delete app {name} -n {namespace}` first to let {} own it",
                    self.claimant
                )
            }
            SourceKind::Git | SourceKind::Dir => write!(f, "; change it there"),
            SourceKind::Other => Ok(()),
        }
    }
}

/// Where `app` is defined, as `file:line`, if it came from a file.
pub fn defined_at(app: &DesiredApp) -> Option<String> {
    let file = app.file.as_ref()?;
    Some(match app.line {
        Some(line) => format!("{}:{line}", file.display()),
        None => file.display().to_string(),
    })
}

/// Whether `claimant` may write the app whose current version is `current`
/// (`None`: no one has it). `configured` tells which sources run now.
pub fn may_write(
    key: &str,
    current: Option<&DesiredApp>,
    claimant: &str,
    configured: &dyn Fn(&str) -> bool,
) -> Result<(), Conflict> {
    let Some(current) = current else {
        return Ok(());
    };
    let owner = current.source.as_str();
    if owner == claimant {
        return Ok(());
    }
    let kind = SourceKind::of(owner);
    let files = matches!(kind, SourceKind::Dir | SourceKind::Git);
    if files && !configured(owner) && kind == SourceKind::of(claimant) {
        return Ok(());
    }
    Err(Conflict {
        key: key.to_string(),
        owner: owner.to_string(),
        defined_at: defined_at(current),
        claimant: claimant.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(source: &str) -> DesiredApp {
        let app: sextant_api::App = serde_yaml::from_str(
            "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec: {instances: 1, command: sleep 1}\n",
        )
        .expect("app");
        DesiredApp::new(app, source, Some("team/web.yaml".into()), Some(3))
    }

    fn only(name: &'static str) -> impl Fn(&str) -> bool {
        move |s| s == name
    }

    #[test]
    fn a_source_writes_its_own_and_unowned_apps() {
        assert!(may_write("default/web", None, "git:r", &only("git:r")).is_ok());
        let mine = app("git:r");
        assert!(may_write("default/web", Some(&mine), "git:r", &only("git:r")).is_ok());
    }

    #[test]
    fn apply_cannot_change_a_git_owned_app_and_is_told_where_it_lives() {
        let owned = app("git:https://example/repo");
        let err = may_write("default/web", Some(&owned), APPLY_SOURCE, &|_| true).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("git:https://example/repo"), "{text}");
        assert!(text.contains("team/web.yaml:3"), "{text}");
    }

    #[test]
    fn files_never_take_over_an_applied_app() {
        let applied = app(APPLY_SOURCE);
        let err = may_write("default/web", Some(&applied), "git:r", &|_| true).expect_err("refused");
        assert!(err.to_string().contains("sextant delete app"), "{err}");
    }

    /// Guards moving a repository: the new URL adopts the old one's apps
    /// instead of deleting and recreating them.
    #[test]
    fn an_unconfigured_source_of_the_same_kind_is_taken_over() {
        let old = app("git:old");
        assert!(may_write("default/web", Some(&old), "git:new", &only("git:new")).is_ok());
        // Not across kinds, and not while the old one still runs.
        assert!(may_write("default/web", Some(&old), "dir:/m", &only("dir:/m")).is_err());
        assert!(may_write("default/web", Some(&old), "git:new", &|_| true).is_err());
        // Apply never takes over files.
        assert!(may_write("default/web", Some(&old), APPLY_SOURCE, &|_| false).is_err());
    }

    #[test]
    fn kinds() {
        assert_eq!(SourceKind::of("dir:/x"), SourceKind::Dir);
        assert_eq!(SourceKind::of("git:https://x"), SourceKind::Git);
        assert_eq!(SourceKind::of("apply"), SourceKind::Apply);
        assert_eq!(SourceKind::of("what"), SourceKind::Other);
    }
}
