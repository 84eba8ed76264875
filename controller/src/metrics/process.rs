//! The process's own figures, read at each scrape:
//!
//! - `sextant_process_start_time_seconds`: Unix time the process set up
//!   its metrics (at start)
//! - `sextant_process_uptime_seconds`: seconds since then
//! - `sextant_process_resident_memory_bytes`: resident set size, from
//!   `/proc/self/statm` × the page size (Linux; left out elsewhere)
//!
//! Register it once per registry: a `sextant up` process serves one
//! registry, the standalone agent its own.

use std::fmt;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

/// Adds the process's figures to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(Process::now()));
}

/// When the process started, as far as its metrics know.
#[derive(Debug)]
struct Process {
    started: Instant,
    started_unix: f64,
}

impl Process {
    fn now() -> Self {
        Self {
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        }
    }
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        encoder
            .encode_descriptor(
                "sextant_process_start_time",
                "Unix time the process started (set up its metrics).",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?
            .encode_gauge(&self.started_unix)?;
        encoder
            .encode_descriptor(
                "sextant_process_uptime",
                "Seconds since the process started.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?
            .encode_gauge(&self.started.elapsed().as_secs_f64())?;
        if let Some(bytes) = resident_bytes() {
            encoder
                .encode_descriptor(
                    "sextant_process_resident_memory",
                    "Resident memory of the process.",
                    Some(&Unit::Bytes),
                    MetricType::Gauge,
                )?
                .encode_gauge(&bytes)?;
        }
        Ok(())
    }
}

/// Resident bytes: `/proc/self/statm`'s second field is resident pages.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|page| pages * page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_uptime_and_memory() {
        let mut registry = Registry::default();
        register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        assert!(text.contains("sextant_process_uptime_seconds "), "{text}");
        assert!(text.contains("sextant_process_start_time_seconds "), "{text}");
        if cfg!(target_os = "linux") {
            let line = text
                .lines()
                .find(|l| l.starts_with("sextant_process_resident_memory_bytes "))
                .expect("resident memory on Linux");
            let bytes: u64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number");
            assert!(bytes > 0, "{line}");
        }
    }
}
