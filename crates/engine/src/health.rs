//! Health status and how check results move it: `starting` until the first
//! success, then `healthy`; `unhealthy` after `retries` failures in a row.
//! Failures during the start period do not count (as in Docker).

use serde::{Deserialize, Serialize};

/// How many results `inspect` keeps (Docker keeps 5).
const KEEP_RESULTS: usize = 5;
/// How much of a check's output is kept.
pub const MAX_OUTPUT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    /// RFC 3339.
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// The health of a running container, as `inspect` shows it (`State.Health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }
}

impl Health {
    /// Records a result; `in_start_period` failures are logged but not
    /// counted. Returns whether the status changed.
    pub fn record(&mut self, result: HealthResult, in_start_period: bool, retries: u32) -> bool {
        let before = self.status;
        if result.exit_code == 0 {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !in_start_period || self.status != HealthStatus::Starting {
            self.failing_streak += 1;
            if self.failing_streak >= retries.max(1) {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        if self.log.len() > KEEP_RESULTS {
            self.log.remove(0);
        }
        before != self.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn starting_then_healthy_then_unhealthy_after_retries() {
        let mut h = Health::default();
        assert_eq!(h.status, HealthStatus::Starting);
        assert!(h.record(result(0), false, 3));
        assert_eq!(h.status, HealthStatus::Healthy);
        assert!(!h.record(result(1), false, 3));
        assert!(!h.record(result(1), false, 3));
        assert_eq!(h.status, HealthStatus::Healthy);
        assert!(h.record(result(1), false, 3));
        assert_eq!(h.status, HealthStatus::Unhealthy);
        assert!(h.record(result(0), false, 3));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        assert_eq!(h.log.len(), 5);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let mut h = Health::default();
        for _ in 0..5 {
            h.record(result(1), true, 1);
        }
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        h.record(result(1), false, 1);
        assert_eq!(h.status, HealthStatus::Unhealthy);
    }
}
