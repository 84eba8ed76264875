//! Quota for the production tier (Aurora's production quota): a cpus and
//! mem budget per namespace for its production apps (`instances` × the
//! task's resources; preemptible apps are not counted).
//!
//! Judged on what is desired, before it is written: a sync, an apply or a
//! scale that would leave a namespace's production apps over its budget is
//! refused for the apps that grow it (new ones, or more instances or
//! resources than now); apps that shrink or stay are written, so a lowered
//! budget never blocks a scale-down. Namespaces not in the file have no
//! budget.
//!
//! The file (`--quota FILE`):
//!
//! ```yaml
//! namespaces:
//!   shop: {cpus: 8, mem: 16Gi}
//!   batch: {cpus: "500m", mem: 1024}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sextant_api::app::Priority;
use sextant_api::quantity::Quantity;

use crate::desired::DesiredApp;

/// The largest quota file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// One namespace's budget, in cores and MiB.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Budget {
    pub cpus: f64,
    pub mem: f64,
}

/// The budgets in force (none: no quota).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quota {
    budgets: BTreeMap<String, Budget>,
}

/// Why the quota file was not taken.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("cannot read the quota file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("quota file {path} is larger than 1 MiB")]
    TooLarge { path: PathBuf },
    #[error("{path}:{line}:{col}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    namespaces: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    cpus: Quantity,
    mem: Quantity,
}

impl Quota {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Quota, QuotaError> {
        let read = |source| QuotaError::Read {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_FILE_BYTES {
            return Err(QuotaError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Quota::parse(&text).map_err(|(line, col, message)| QuotaError::Invalid {
            path: path.to_path_buf(),
            line,
            col,
            message,
        })
    }

    /// Parses the file's text; errors carry their line and column.
    pub fn parse(text: &str) -> Result<Quota, (usize, usize, String)> {
        let file: File = serde_yaml::from_str(text).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            (line, col, e.to_string())
        })?;
        let mut budgets = BTreeMap::new();
        for (namespace, entry) in file.namespaces {
            let invalid = |field: &str, e: String| (1, 1, format!("namespaces.{namespace}.{field}: {e}"));
            let cpus = entry.cpus.to_cpus().map_err(|e| invalid("cpus", e.to_string()))?;
            let mem = entry.mem.to_mib().map_err(|e| invalid("mem", e.to_string()))?;
            budgets.insert(namespace, Budget { cpus, mem });
        }
        Ok(Quota { budgets })
    }

    pub fn is_empty(&self) -> bool {
        self.budgets.is_empty()
    }

    /// The apps of `writes` refused for the quota, with why (by key).
    /// `existing` is what is stored now; `removes` the keys about to go.
    pub fn refusals(
        &self,
        existing: &BTreeMap<String, DesiredApp>,
        writes: &[DesiredApp],
        removes: &[String],
    ) -> BTreeMap<String, String> {
        let mut refused = BTreeMap::new();
        if self.budgets.is_empty() {
            return refused;
        }
        for (namespace, budget) in &self.budgets {
            let in_ns = |a: &DesiredApp| a.namespace() == namespace;
            let now = existing
                .values()
                .filter(|a| in_ns(a))
                .map(use_of)
                .fold(Budget::default(), add);
            let mut after: BTreeMap<&str, Budget> = existing
                .iter()
                .filter(|(k, a)| in_ns(a) && !removes.contains(k))
                .map(|(k, a)| (k.as_str(), use_of(a)))
                .collect();
            let keys: Vec<String> = writes.iter().map(DesiredApp::key).collect();
            for (key, app) in keys.iter().zip(writes).filter(|(_, a)| in_ns(a)) {
                after.insert(key.as_str(), use_of(app));
            }
            let total = after.values().copied().fold(Budget::default(), add);
            if fits(total, *budget) {
                continue;
            }
            for (key, app) in keys.iter().zip(writes).filter(|(_, a)| in_ns(a)) {
                let was = existing.get(key).map(use_of).unwrap_or_default();
                let will = use_of(app);
                if will.cpus > was.cpus + EPS || will.mem > was.mem + EPS {
                    refused.insert(
                        key.clone(),
                        format!(
                            "namespace {namespace} is over its production quota: the budget is cpus {}, mem {} MiB; \
                             with this its production apps would use cpus {}, mem {} MiB (now cpus {}, mem {} MiB); \
                             not applied (lower instances or resources, use priority: preemptible, or raise the quota)",
                            number(budget.cpus),
                            number(budget.mem),
                            number(total.cpus),
                            number(total.mem),
                            number(now.cpus),
                            number(now.mem),
                        ),
                    );
                }
            }
        }
        refused
    }
}

const EPS: f64 = 1e-6;

fn fits(used: Budget, budget: Budget) -> bool {
    used.cpus <= budget.cpus + EPS && used.mem <= budget.mem + EPS
}

fn add(a: Budget, b: Budget) -> Budget {
    Budget {
        cpus: a.cpus + b.cpus,
        mem: a.mem + b.mem,
    }
}

/// What a production app asks for in all; nothing for a preemptible one.
fn use_of(app: &DesiredApp) -> Budget {
    let spec = &app.app.spec;
    if spec.priority != Priority::Production {
        return Budget::default();
    }
    let n = f64::from(spec.instances);
    Budget {
        cpus: spec.resources.cpus.to_cpus().unwrap_or(0.0) * n,
        mem: spec.resources.mem.to_mib().unwrap_or(0.0) * n,
    }
}

fn number(v: f64) -> String {
    format!("{}", (v * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(namespace: &str, name: &str, instances: u32, cpus: &str, priority: &str) -> DesiredApp {
        let yaml = format!(
            "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
             spec: {{instances: {instances}, command: 'sleep 1', priority: {priority}, resources: {{cpus: '{cpus}', mem: 128}}}}\n"
        );
        let loaded = sextant_api::load::load_str(Path::new("test.yaml"), &yaml).expect("a valid app");
        DesiredApp::new(loaded[0].app.clone(), "apply", None, None)
    }

    fn quota() -> Quota {
        Quota::parse("namespaces:\n  shop: {cpus: 2, mem: 1Gi}\n").expect("parses")
    }

    fn stored(apps: &[DesiredApp]) -> BTreeMap<String, DesiredApp> {
        apps.iter().map(|a| (a.key(), a.clone())).collect()
    }

    #[test]
    fn a_production_app_over_the_budget_is_refused_naming_namespace_budget_and_use() {
        let existing = stored(&[app("shop", "web", 2, "500m", "production")]);
        let refused = quota().refusals(&existing, &[app("shop", "api", 3, "500m", "production")], &[]);
        assert_eq!(
            refused.get("shop/api").map(String::as_str),
            Some(
                "namespace shop is over its production quota: the budget is cpus 2, mem 1024 MiB; with this its \
                 production apps would use cpus 2.5, mem 640 MiB (now cpus 1, mem 256 MiB); not applied (lower \
                 instances or resources, use priority: preemptible, or raise the quota)"
            )
        );
    }

    #[test]
    fn preemptible_apps_other_namespaces_and_shrinking_apps_pass() {
        let existing = stored(&[app("shop", "web", 8, "500m", "production")]);
        let q = quota();
        assert!(
            q.refusals(&existing, &[app("shop", "batch", 50, "1", "preemptible")], &[])
                .is_empty()
        );
        assert!(
            q.refusals(&existing, &[app("other", "x", 50, "1", "production")], &[])
                .is_empty()
        );
        // Already over (the budget was lowered): scaling down is allowed.
        assert!(
            q.refusals(&existing, &[app("shop", "web", 6, "500m", "production")], &[])
                .is_empty()
        );
        // Room made by a removal in the same sync counts.
        assert!(
            q.refusals(
                &existing,
                &[app("shop", "api", 4, "500m", "production")],
                &["shop/web".to_string()]
            )
            .is_empty()
        );
    }

    #[test]
    fn a_bad_file_says_where() {
        let (line, _, message) =
            Quota::parse("namespaces:\n  shop: {cpus: 2, memory: 1Gi}\n").expect_err("unknown field");
        assert_eq!(line, 2);
        assert!(message.contains("memory"), "{message}");
        let (_, _, message) = Quota::parse("namespaces:\n  shop: {cpus: lots, mem: 1Gi}\n").expect_err("bad quantity");
        assert!(message.contains("cpus") || message.contains("lots"), "{message}");
    }
}
