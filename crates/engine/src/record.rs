//! A container as the database records it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::ContainerConfig;
use crate::health::Health;
use crate::proc::ProcessId;

/// The life of a container. `Creating` and `Removing` are held only while a
/// `brig` process works on the container (its `owner`); if that process
/// dies, the next command finishes the removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Creating,
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Removing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Creating => "creating",
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Exited => "exited",
            State::Removing => "removing",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "creating" => State::Creating,
            "created" => State::Created,
            "running" => State::Running,
            "paused" => State::Paused,
            "restarting" => State::Restarting,
            "exited" => State::Exited,
            "removing" => State::Removing,
            _ => return None,
        })
    }

    /// A monitor process looks after the container in this state.
    pub fn has_monitor(self) -> bool {
        matches!(self, State::Running | State::Paused | State::Restarting)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One container row.
#[derive(Debug, Clone)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    /// Unique, without Docker's leading slash.
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// The image's ID (`sha256:...`).
    pub image_id: String,
    pub config: ContainerConfig,
    pub state: State,
    /// The container's init process on the host, while running.
    pub pid: Option<i32>,
    /// The monitor process, while it runs.
    pub monitor: Option<ProcessId>,
    /// The `brig` process creating or removing the container.
    pub owner: Option<ProcessId>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    /// Unix nanoseconds.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub restart_count: u32,
    /// `stop` or `kill` asked for the container to end: no restart.
    pub stop_requested: bool,
    pub health: Option<Health>,
    /// Why the last start failed.
    pub error: Option<String>,
}

impl ContainerRecord {
    /// "Up 3 minutes", "Exited (0) 2 seconds ago", as `docker ps` shows.
    pub fn status_text(&self, now_ns: i64) -> String {
        let ago = |t: Option<i64>| crate::time::human_duration(now_ns - t.unwrap_or(now_ns));
        let health = match &self.health {
            Some(h) if self.state == State::Running => format!(" ({})", h.status.as_str()),
            _ => String::new(),
        };
        match self.state {
            State::Creating => "Creating".to_owned(),
            State::Created => "Created".to_owned(),
            State::Running => format!("Up {}{health}", ago(self.started_at)),
            State::Paused => format!("Up {} (Paused)", ago(self.started_at)),
            State::Restarting => format!(
                "Restarting ({}) {} ago",
                self.exit_code.unwrap_or(0),
                ago(self.finished_at)
            ),
            State::Exited => format!(
                "Exited ({}) {} ago",
                self.exit_code.unwrap_or(0),
                ago(self.finished_at)
            ),
            State::Removing => "Removal In Progress".to_owned(),
        }
    }
}
