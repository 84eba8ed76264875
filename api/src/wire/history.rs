//! The metrics' recent past (`GET /api/v1/metrics/history`): the series
//! the controller keeps in memory and the points of those asked for.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The answer of `GET /api/v1/metrics/history`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    /// Seconds between two samples.
    pub interval_seconds: f64,
    /// Points kept per series at most (older ones drop off).
    pub max_points: usize,
    /// Every series kept, sorted (the `/vars` names).
    pub names: Vec<String>,
    /// The series asked for with `?series=`, in the order asked.
    pub series: Vec<SeriesView>,
}

/// One series' points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesView {
    /// Its `/vars` name.
    pub name: String,
    /// `[unixSeconds, value]`, oldest first.
    pub points: Vec<[f64; 2]>,
}
