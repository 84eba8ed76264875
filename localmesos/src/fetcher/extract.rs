//! Unpacking a fetched archive into the sandbox, as the Mesos fetcher's
//! `extract` does (`.tar`, `.tgz`/`.tar.gz`, `.tbz2`/`.tar.bz2`,
//! `.txz`/`.tar.xz`, `.zip`, and a lone `.gz` file), but never writing
//! outside the sandbox: an entry with an absolute path or a `..`
//! component, or a link whose target is absolute or has a `..`, fails the
//! whole extraction; and no more than a size cap is written.
//!
//! Blocking: run it in `spawn_blocking`.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

/// What kind of archive a file name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    Tar,
    TarGz,
    TarBz2,
    TarXz,
    Zip,
    /// One gzip-compressed file (`name.gz` becomes `name`).
    Gz,
}

impl Archive {
    /// The archive `name` (a file name) is, by its extension.
    pub fn of(name: &str) -> Option<Archive> {
        let name = name.to_ascii_lowercase();
        let kinds = [
            (".tar.gz", Archive::TarGz),
            (".tgz", Archive::TarGz),
            (".tar.bz2", Archive::TarBz2),
            (".tbz2", Archive::TarBz2),
            (".tar.xz", Archive::TarXz),
            (".txz", Archive::TarXz),
            (".tar", Archive::Tar),
            (".zip", Archive::Zip),
            (".gz", Archive::Gz),
        ];
        kinds
            .into_iter()
            .find(|(suffix, _)| name.ends_with(suffix) && name.len() > suffix.len())
            .map(|(_, kind)| kind)
    }
}

/// Why an archive was not (fully) extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("archive entry '{0}' would be written outside the sandbox")]
    Escape(String),
    #[error("archive entry '{entry}' is a link to '{target}', which leaves the sandbox")]
    LinkEscape { entry: String, target: String },
    #[error("the archive holds more than the fetcher's limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("cannot extract the archive: {0}")]
    Io(#[from] io::Error),
    #[error("cannot read the zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// Extracts `archive` (of `kind`) into `into`, writing at most `limit`
/// bytes of file contents.
pub fn extract(archive: &Path, kind: Archive, into: &Path, limit: u64) -> Result<(), ExtractError> {
    let file = BufReader::new(File::open(archive)?);
    match kind {
        Archive::Tar => untar(file, into, limit),
        Archive::TarGz => untar(flate2::read::MultiGzDecoder::new(file), into, limit),
        Archive::TarBz2 => untar(bzip2::read::MultiBzDecoder::new(file), into, limit),
        Archive::TarXz => untar(lzma_rust2::XzReader::new(file, true), into, limit),
        Archive::Zip => unzip(archive, into, limit),
        Archive::Gz => gunzip(file, archive, into, limit),
    }
}

/// `entry` as a path relative to the sandbox, if it stays inside it.
pub(super) fn inside(entry: &Path) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for component in entry.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(relative)
}

/// A link target that cannot lead out of the sandbox: relative, without
/// `..` (so every hop goes deeper, whatever other links say).
fn safe_link_target(target: &Path) -> bool {
    target
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Copies at most `remaining` bytes; more is an error.
fn copy_capped(
    from: &mut impl Read,
    to: &mut impl io::Write,
    remaining: &mut u64,
    limit: u64,
) -> Result<(), ExtractError> {
    let copied = io::copy(&mut from.take(remaining.saturating_add(1)), to)?;
    if copied > *remaining {
        return Err(ExtractError::TooLarge { limit });
    }
    *remaining -= copied;
    Ok(())
}

fn untar(reader: impl Read, into: &Path, limit: u64) -> Result<(), ExtractError> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    let mut remaining = limit;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let name = path.display().to_string();
        if inside(&path).is_none() {
            return Err(ExtractError::Escape(name));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name()?.map(|t| t.into_owned()).unwrap_or_default();
            if !safe_link_target(&target) {
                return Err(ExtractError::LinkEscape {
                    entry: name,
                    target: target.display().to_string(),
                });
            }
        }
        let size = entry.header().size()?;
        if size > remaining {
            return Err(ExtractError::TooLarge { limit });
        }
        remaining -= size;
        // `unpack_in` also refuses to write through a link that leads
        // outside `into`.
        if !entry.unpack_in(into)? {
            return Err(ExtractError::Escape(name));
        }
    }
    Ok(())
}

fn unzip(archive: &Path, into: &Path, limit: u64) -> Result<(), ExtractError> {
    let mut zip = zip::ZipArchive::new(BufReader::new(File::open(archive)?))?;
    let mut remaining = limit;
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index)?;
        let name = entry.name()?.into_owned();
        let Some(relative) = entry.enclosed_name().as_deref().and_then(inside) else {
            return Err(ExtractError::Escape(name));
        };
        let path = into.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if entry.is_symlink() {
            let mut target = String::new();
            entry.read_to_string(&mut target)?;
            if !safe_link_target(Path::new(&target)) {
                return Err(ExtractError::LinkEscape { entry: name, target });
            }
            let _ = std::fs::remove_file(&path);
            std::os::unix::fs::symlink(&target, &path)?;
            continue;
        }
        let _ = std::fs::remove_file(&path);
        let mut out = File::create(&path)?;
        copy_capped(&mut entry, &mut out, &mut remaining, limit)?;
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))?;
        }
    }
    Ok(())
}

/// `name.gz` → `name`, next to it (Mesos: `gzip -dc`).
fn gunzip(reader: impl Read, archive: &Path, into: &Path, limit: u64) -> Result<(), ExtractError> {
    let name = archive.file_name().map(Path::new).unwrap_or(archive);
    let stem = name.with_extension("");
    let Some(relative) = archive
        .parent()
        .and_then(|parent| parent.strip_prefix(into).ok())
        .map(|parent| parent.join(&stem))
    else {
        return Err(ExtractError::Escape(stem.display().to_string()));
    };
    let mut out = File::create(into.join(relative))?;
    let mut remaining = limit;
    copy_capped(
        &mut flate2::read::MultiGzDecoder::new(reader),
        &mut out,
        &mut remaining,
        limit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_known_by_extension() {
        assert_eq!(Archive::of("app.tar.gz"), Some(Archive::TarGz));
        assert_eq!(Archive::of("APP.TGZ"), Some(Archive::TarGz));
        assert_eq!(Archive::of("a.tar.bz2"), Some(Archive::TarBz2));
        assert_eq!(Archive::of("a.txz"), Some(Archive::TarXz));
        assert_eq!(Archive::of("a.tar"), Some(Archive::Tar));
        assert_eq!(Archive::of("a.zip"), Some(Archive::Zip));
        assert_eq!(Archive::of("a.gz"), Some(Archive::Gz));
        assert_eq!(Archive::of("a.txt"), None);
        assert_eq!(Archive::of(".zip"), None);
    }

    #[test]
    fn only_paths_below_the_sandbox_are_inside() {
        assert_eq!(inside(Path::new("./a/b")), Some(PathBuf::from("a/b")));
        assert_eq!(inside(Path::new("../escape")), None);
        assert_eq!(inside(Path::new("a/../../b")), None);
        assert_eq!(inside(Path::new("/etc/passwd")), None);
        assert!(safe_link_target(Path::new("lib/x.so")));
        assert!(!safe_link_target(Path::new("../x")));
        assert!(!safe_link_target(Path::new("/etc")));
    }
}
