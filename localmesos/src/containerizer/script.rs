//! A simulated task's script: when it starts, when it exits and with what
//! code, and what its health check says. Read from the node's
//! `simulate=` setting, then the task's labels (`localmesos.sim/<key>`),
//! the labels winning.

use std::time::Duration;

/// The label prefix of a simulated task's script.
pub const LABEL_PREFIX: &str = "localmesos.sim/";
/// The keys, as labels (`localmesos.sim/start-delay`) and in `simulate=`.
pub const KEYS: [&str; 4] = ["start-delay", "exit-after", "exit-code", "healthy"];
/// Longest delay a script may ask for.
const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a simulated task does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    /// From launch to TASK_STARTING/TASK_RUNNING (default: at once).
    pub start_delay: Option<Duration>,
    /// From RUNNING to its exit (default: never).
    pub exit_after: Option<Duration>,
    /// Its exit code (default 0: TASK_FINISHED; others TASK_FAILED).
    pub exit_code: Option<i32>,
    /// What its health check says (default: healthy, when it has one).
    pub healthy: Option<bool>,
}

impl Script {
    /// Sets `key` from `value`; an error says what is wrong with it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "start-delay" => self.start_delay = Some(parse_duration(value)?),
            "exit-after" => self.exit_after = Some(parse_duration(value)?),
            "exit-code" => {
                self.exit_code = Some(
                    value
                        .trim()
                        .parse::<u8>()
                        .map(i32::from)
                        .map_err(|_| format!("exit-code {value:?} must be 0 to 255"))?,
                );
            }
            "healthy" => {
                self.healthy = Some(match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("healthy {value:?} must be true or false")),
                });
            }
            _ => {
                return Err(format!(
                    "unknown simulation key {key:?}; expected one of {}",
                    KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// A node's `simulate=` setting: `start-delay:1s,exit-after:5s,exit-code:1,healthy:false`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut script = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}`: expected KEY:VALUE"))?;
            script.set(key.trim(), value).map_err(|e| format!("`{part}`: {e}"))?;
        }
        Ok(script)
    }

    /// This script with the task's `localmesos.sim/…` labels applied.
    pub fn with_labels(&self, labels: &[(String, String)]) -> Result<Self, String> {
        let mut script = self.clone();
        for (key, value) in labels {
            if let Some(name) = key.strip_prefix(LABEL_PREFIX) {
                script
                    .set(name, value)
                    .map_err(|e| format!("label {key}={value}: {e}"))?;
            }
        }
        Ok(script)
    }
}

/// `250ms`, `1.5s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{text:?} is not a duration (as 250ms, 1.5s, 2m)")),
    };
    let seconds = number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("{text:?} is not a duration (as 250ms, 1.5s, 2m)"))?
        * scale;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| *d <= MAX_DELAY)
        .ok_or_else(|| format!("{text:?} is longer than a year"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1d").unwrap_err().contains("is not a duration"));
        assert!(parse_duration("9999999h").unwrap_err().contains("longer than a year"));
    }

    #[test]
    fn node_setting_then_labels() {
        let node = Script::parse("start-delay:1s, exit-code:3").unwrap();
        assert_eq!(node.start_delay, Some(Duration::from_secs(1)));
        assert_eq!(node.exit_code, Some(3));
        let labels = vec![
            ("localmesos.sim/exit-code".to_string(), "0".to_string()),
            ("localmesos.sim/healthy".to_string(), "false".to_string()),
            ("team".to_string(), "web".to_string()),
        ];
        let task = node.with_labels(&labels).unwrap();
        assert_eq!((task.exit_code, task.healthy), (Some(0), Some(false)));
        assert_eq!(task.start_delay, Some(Duration::from_secs(1)));
        let bad = vec![("localmesos.sim/exit-after".to_string(), "soon".to_string())];
        assert_eq!(
            node.with_labels(&bad).unwrap_err(),
            "label localmesos.sim/exit-after=soon: \"soon\" is not a duration (as 250ms, 1.5s, 2m)"
        );
        assert!(
            Script::parse("speed:fast")
                .unwrap_err()
                .contains("unknown simulation key")
        );
    }
}
