//! `spec.restartBackoff`: Marathon-style crash-loop backoff.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How long to wait before relaunching a task that failed: `initialSeconds`
/// after the first failure, multiplied by `factor` after each further
/// consecutive failure, at most `maxSeconds`. A task that ran healthy for a
/// while resets the delay.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestartBackoff {
    /// Delay after the first failure, in seconds. Default 1.
    #[serde(default = "default_initial")]
    pub initial_seconds: u32,
    /// Multiplier applied to the delay after each consecutive failure;
    /// at least 1. Default 2.
    #[serde(default = "default_factor")]
    pub factor: f64,
    /// Longest delay, in seconds; at least `initialSeconds`. Default 300.
    #[serde(default = "default_max")]
    pub max_seconds: u32,
}

impl Default for RestartBackoff {
    fn default() -> Self {
        Self {
            initial_seconds: default_initial(),
            factor: default_factor(),
            max_seconds: default_max(),
        }
    }
}

impl RestartBackoff {
    /// Seconds to wait before the next launch after `failures` consecutive
    /// failures (0 failures: no delay).
    pub fn delay_seconds(&self, failures: u32) -> f64 {
        if failures == 0 {
            return 0.0;
        }
        let factor = if self.factor.is_finite() {
            self.factor.max(1.0)
        } else {
            1.0
        };
        let exp = i32::try_from(failures - 1).unwrap_or(i32::MAX);
        let delay = f64::from(self.initial_seconds) * factor.powi(exp);
        delay.min(f64::from(self.max_seconds.max(self.initial_seconds)))
    }
}

fn default_initial() -> u32 {
    1
}
fn default_factor() -> f64 {
    2.0
}
fn default_max() -> u32 {
    300
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap() {
        let b = RestartBackoff::default();
        let d: Vec<f64> = (0..12).map(|n| b.delay_seconds(n)).collect();
        assert_eq!(
            d,
            vec![0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]
        );
        assert_eq!(b.delay_seconds(u32::MAX), 300.0);
        let odd = RestartBackoff {
            initial_seconds: 10,
            factor: f64::NAN,
            max_seconds: 1,
        };
        assert_eq!(odd.delay_seconds(5), 10.0);
    }
}
