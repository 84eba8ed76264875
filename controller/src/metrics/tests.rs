//! The controller's families as encoded: names, labels, an app's series
//! gone with the app, and one registry holding other parts' families.

use prometheus_client::metrics::counter::Counter;

use super::*;

fn scrape(m: &Metrics) -> String {
    exposition::openmetrics(&m.registry()).expect("encode")
}

#[test]
fn every_step_and_cause_shows_from_the_start() {
    let m = Metrics::default();
    let text = scrape(&m);
    for step in RolloutStep::ALL {
        let line = format!("sextant_rollouts_total{{outcome=\"{}\"}} 0", step.name());
        assert!(text.contains(&line), "{line} in {text}");
    }
    for cause in Cause::ALL {
        let line = format!("sextant_drift_corrections_total{{kind=\"{}\"}} 0", cause.name());
        assert!(text.contains(&line), "{line} in {text}");
    }
    m.rollout(RolloutStep::RolledBack);
    m.corrected(Cause::KillUnreachable);
    let text = scrape(&m);
    assert!(
        text.contains("sextant_rollouts_total{outcome=\"rolled_back\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sextant_drift_corrections_total{kind=\"kill_unreachable\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("sextant_tasks"),
        "no index yet, no index figures: {text}"
    );
}

#[test]
fn a_forgotten_app_has_no_series() {
    let m = Metrics::default();
    m.reconciled("default/web", Duration::from_millis(3));
    m.reconciled("default/api", Duration::from_millis(1));
    let text = scrape(&m);
    assert!(
        text.contains("sextant_reconcile_duration_seconds_count{namespace=\"default\",app=\"web\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("# UNIT sextant_reconcile_duration_seconds seconds"),
        "{text}"
    );
    m.forget_app("default/web");
    let text = scrape(&m);
    assert!(!text.contains("app=\"web\""), "{text}");
    assert!(text.contains("app=\"api\""), "{text}");
}

#[test]
fn sources_count_their_syncs() {
    let m = Metrics::default();
    let sources = m.sources();
    sources.synced("git:https://x/r", Duration::from_millis(20));
    sources.failed("git:https://x/r");
    let text = scrape(&m);
    assert!(
        text.contains("sextant_source_sync_duration_seconds_count{source=\"git:https://x/r\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sextant_source_sync_errors_total{source=\"git:https://x/r\"} 1"),
        "{text}"
    );
}

#[test]
fn one_registry_holds_what_was_registered_before() {
    let mut registry = Registry::default();
    let offers = Counter::<u64>::default();
    registry.register("sextant_offers_received", "Offers", offers.clone());
    let m = Metrics::new(registry);
    offers.inc();
    let text = scrape(&m);
    assert!(text.contains("sextant_offers_received_total 1"), "{text}");
    assert!(text.contains("sextant_process_uptime_seconds"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1);
}

#[test]
fn app_labels_split_the_key() {
    assert_eq!(
        AppLabels::of("team-a/web"),
        AppLabels {
            namespace: "team-a".into(),
            app: "web".into()
        }
    );
}
