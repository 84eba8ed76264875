//! The production quota (`--quota FILE`), end to end through `sextant up`:
//! a manifest, an apply and a scale that would put a namespace's
//! production apps over budget are refused for those apps, in words naming
//! the namespace, the budget and the use; preemptible apps do not count.

mod common;

use common::Up;

const QUOTA: &str = "namespaces:\n  default: {cpus: 0.5, mem: 1Gi}\n";

fn app(name: &str, instances: u32, priority: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: {name}\nspec:\n  instances: {instances}\n  \
         priority: {priority}\n  command: \"exec sleep 3600\"\n  resources: {{cpus: 0.1, mem: 16}}\n  \
         killGracePeriodSeconds: 1\n"
    )
}

fn synced(up: &Up, name: &str) -> Option<(String, String, String)> {
    let app = up.app(name)?;
    let c = app["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Synced")?
        .clone();
    Some((
        c["status"].as_str()?.to_string(),
        c["reason"].as_str().unwrap_or_default().to_string(),
        c["message"].as_str().unwrap_or_default().to_string(),
    ))
}

/// Guards Aurora's production quota: "an apply or sync that would exceed
/// it is refused for those apps with a message naming the namespace, the
/// budget and the use".
#[test]
fn over_the_production_quota_is_refused_for_the_apps_that_grow_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let quota = dir.path().join("quota.yaml");
    std::fs::write(&quota, QUOTA).expect("quota file");
    let up = Up::start_with(&["--quota", quota.to_str().expect("utf-8 path")]);

    // 3 × 0.1 cpus fits the 0.5 budget; 50 preemptible ones do not count.
    up.write_manifest("web.yaml", &app("web", 3, "production"));
    up.write_manifest("batch.yaml", &app("batch", 50, "preemptible"));
    up.wait_for("web synced", || synced(&up, "web").is_some_and(|(s, _, _)| s == "True"));
    up.wait_for("batch synced", || {
        synced(&up, "batch").is_some_and(|(s, _, _)| s == "True")
    });

    // A sync that grows web past the budget keeps its last good version.
    up.write_manifest("web.yaml", &app("web", 8, "production"));
    up.wait_for("web refused by the quota", || {
        synced(&up, "web").is_some_and(|(s, r, _)| s == "False" && r == "OverQuota")
    });
    let (_, _, message) = synced(&up, "web").unwrap_or_default();
    assert!(
        message.contains("namespace default is over its production quota: the budget is cpus 0.5, mem 1024 MiB")
            && message.contains("would use cpus 0.8")
            && message.contains("web.yaml"),
        "{message}"
    );
    assert_eq!(
        up.app("web").map(|a| a["instances"].clone()),
        Some(3.into()),
        "the last good version runs"
    );

    // An apply over budget changes nothing and says why.
    let applied = dir.path().join("api.yaml");
    std::fs::write(&applied, app("api", 3, "production")).expect("write");
    let (code, out, err) = up.cli(&["apply", "-f", applied.to_str().expect("utf-8")]);
    assert_ne!(code, 0, "{out}");
    assert!(
        format!("{out}{err}").contains("namespace default is over its production quota"),
        "{out}{err}"
    );
    assert!(up.app("api").is_none(), "nothing was applied");

    // What fits is applied; a scale past the budget is refused in words.
    std::fs::write(&applied, app("api", 1, "production")).expect("write");
    let (code, _, err) = up.cli(&["apply", "-f", applied.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = up.cli(&["scale", "app/api", "5"]);
    assert_ne!(code, 0);
    assert!(err.contains("namespace default is over its production quota"), "{err}");
}
