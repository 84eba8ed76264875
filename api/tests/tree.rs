//! Loading a tree of manifests file by file (`load_tree`): each file's
//! outcome on its own, with paths relative to the root.

use std::fs;
use std::path::Path;

use sextant_api::load::{FileLoad, MAX_DEPTH, MAX_DOCUMENTS, MAX_FILE_BYTES, load_tree};

fn manifest(name: &str) -> String {
    format!("apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: {name}}}\nspec: {{command: sleep 1}}\n")
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, text).unwrap();
}

fn names(files: &[FileLoad]) -> Vec<String> {
    files.iter().map(|f| f.file.display().to_string()).collect()
}

#[test]
fn a_broken_file_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a.yaml"), &manifest("a"));
    write(&root.join("bad.yaml"), &manifest("b").replace("sleep 1", "[unclosed"));
    write(
        &root.join("team-a/web.yaml"),
        &format!("{}---\n{}", manifest("web"), manifest("Web")),
    );
    write(&root.join("team-a/worker.yml"), &manifest("worker"));
    write(&root.join(".git/x.yaml"), "not: [valid");
    write(&root.join("notes.txt"), "not: [valid");

    let files = load_tree(root).unwrap();
    assert_eq!(
        names(&files),
        ["a.yaml", "bad.yaml", "team-a/web.yaml", "team-a/worker.yml"]
    );
    assert!(files.iter().all(|f| !f.io && !f.empty));

    let a = files[0].result.as_ref().unwrap();
    assert_eq!(a[0].name(), "a");
    assert_eq!(a[0].file, Path::new("a.yaml"));

    let bad = files[1].result.as_ref().unwrap_err();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].file, Path::new("bad.yaml"));
    assert!(bad[0].to_string().starts_with("bad.yaml:4:"), "{}", bad[0]);

    // One bad document fails its file, with every error in it.
    let web = files[2].result.as_ref().unwrap_err();
    assert_eq!(web.len(), 1);
    assert!(
        web[0]
            .to_string()
            .starts_with("team-a/web.yaml:8:12: metadata.name: invalid name \"Web\""),
        "{}",
        web[0]
    );

    let worker = files[3].result.as_ref().unwrap();
    assert_eq!(worker[0].file, Path::new("team-a/worker.yml"));
    assert_eq!(worker[0].line, 1);
}

#[test]
fn apps_defined_twice_are_the_callers_to_judge() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("one.yaml"), &manifest("web"));
    write(&dir.path().join("two.yaml"), &manifest("web"));
    let files = load_tree(dir.path()).unwrap();
    assert!(
        files
            .iter()
            .all(|f| f.result.as_ref().is_ok_and(|apps| apps.len() == 1))
    );
}

#[test]
fn empty_files() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("blank.yaml"), " \n\t\n");
    write(&dir.path().join("comment.yaml"), "# nothing yet\n");
    write(&dir.path().join("zero.yaml"), "");
    let files = load_tree(dir.path()).unwrap();
    assert_eq!(names(&files), ["blank.yaml", "comment.yaml", "zero.yaml"]);
    let empty: Vec<bool> = files.iter().map(|f| f.empty).collect();
    assert_eq!(empty, [true, false, true]);
    assert!(files.iter().all(|f| f.result == Ok(vec![])));
}

#[cfg(unix)]
#[test]
fn an_unreadable_directory_is_an_io_outcome_of_its_own() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a.yaml"), &manifest("a"));
    write(&root.join("locked/web.yaml"), &manifest("web"));
    write(&root.join("locked.yaml"), &manifest("l"));
    write(&root.join("z/z.yaml"), &manifest("z"));
    let locked = root.join("locked");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let readable = fs::read_dir(&locked).is_ok();
    let files = load_tree(root);
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    if readable {
        // Running as root: permissions do not stop reads.
        return;
    }
    let files = files.unwrap();
    assert_eq!(names(&files), ["a.yaml", "locked", "locked.yaml", "z/z.yaml"]);
    let locked = &files[1];
    assert!(locked.io && !locked.empty);
    let e = locked.result.as_ref().unwrap_err();
    assert_eq!(e[0].file, Path::new("locked"));
    assert!(
        e[0].to_string().starts_with("locked: cannot read directory: "),
        "{}",
        e[0]
    );
    assert!(
        files
            .iter()
            .filter(|f| f.file != Path::new("locked"))
            .all(|f| f.result.is_ok())
    );
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_an_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yaml");
    write(&file, &manifest("web"));
    fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).unwrap();
    let readable = fs::read(&file).is_ok();
    let files = load_tree(dir.path()).unwrap();
    if readable {
        return;
    }
    assert!(files[0].io);
    let e = files[0].result.as_ref().unwrap_err();
    assert!(e[0].to_string().starts_with("web.yaml: cannot read: "), "{}", e[0]);
}

#[test]
fn bad_content_is_not_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("big.yaml"), &"#".repeat(MAX_FILE_BYTES as usize + 1));
    fs::write(root.join("bin.yaml"), [0xff, 0xfe]).unwrap();
    let mut deep = root.to_path_buf();
    for i in 0..=MAX_DEPTH {
        deep.push(format!("d{i}"));
    }
    write(&deep.join("x.yaml"), &manifest("x"));
    let files = load_tree(root).unwrap();
    let messages: Vec<String> = files
        .iter()
        .map(|f| {
            assert!(!f.io && !f.empty, "{f:?}");
            f.result.as_ref().unwrap_err()[0].to_string()
        })
        .collect();
    assert!(messages[0].starts_with("big.yaml: file is "), "{}", messages[0]);
    assert!(messages[1].starts_with("bin.yaml: not valid UTF-8"), "{}", messages[1]);
    assert!(messages[2].ends_with(&format!(
        "d{MAX_DEPTH}: directories nested deeper than 32 levels are not read"
    )));
    assert!(messages[2].starts_with("d0/d1/"), "{}", messages[2]);
}

#[test]
fn the_root_must_be_a_readable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = load_tree(&missing).unwrap_err();
    assert!(e.to_string().contains("cannot read directory"), "{e}");
    assert_eq!(e.file, missing);
    let file = dir.path().join("x.yaml");
    write(&file, &manifest("x"));
    assert!(
        load_tree(&file)
            .unwrap_err()
            .to_string()
            .ends_with("x.yaml: not a directory")
    );
    assert_eq!(load_tree(dir.path()).unwrap().len(), 1);
}

#[test]
fn the_document_limit_counts_across_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let per_file = 1000;
    let text: String = (0..per_file).map(|_| format!("---\n{}", manifest("a"))).collect();
    for f in 0..MAX_DOCUMENTS / per_file {
        write(&dir.path().join(format!("f{f:02}.yaml")), &text);
    }
    // At the limit exactly: every file loads.
    write(&dir.path().join("g.yaml"), "# no documents\n");
    let files = load_tree(dir.path()).unwrap();
    let apps: usize = files.iter().map(|f| f.result.as_ref().map_or(0, Vec::len)).sum();
    assert_eq!(apps, MAX_DOCUMENTS);

    // Beyond it, the files holding more documents fail.
    write(&dir.path().join("g.yaml"), &format!("# one more\n{}", manifest("b")));
    write(&dir.path().join("h.yaml"), &manifest("c"));
    write(&dir.path().join("i.yaml"), "");
    let files = load_tree(dir.path()).unwrap();
    let n = files.len();
    assert!(files[..n - 3].iter().all(|f| f.result.is_ok()));
    let message = format!("more than {MAX_DOCUMENTS} documents in this set of manifests; larger sets are rejected");
    let g = files[n - 3].result.as_ref().unwrap_err();
    assert_eq!(g[0].to_string(), format!("g.yaml:2:1: {message}"));
    let h = files[n - 2].result.as_ref().unwrap_err();
    assert_eq!(h[0].to_string(), format!("h.yaml:1:1: {message}"));
    assert_eq!(files[n - 1].result, Ok(vec![]));
}
