//! `rename`, `update`, `events`, `healthcheck run`.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
};

use crate::config::RestartPolicy;
use crate::db::EventRecord;
use crate::engine::{Engine, validate_name};
use crate::error::{Error, IoContext, Result};
use crate::health::{HealthResult, MAX_OUTPUT};
use crate::host::RealHost;
use crate::options::CreateOptions;
use crate::options::misc::parse_restart;
use crate::record::{ContainerRecord, State};

/// `brig update` flags (unset ones stay as they are).
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpus: Option<String>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub pids_limit: Option<i64>,
    pub restart: Option<String>,
}

/// What `events` shows.
#[derive(Debug, Clone, Default)]
pub struct EventOptions {
    /// Unix ns; default: now (only new events, when following).
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// `container=`, `type=`, `event=` filters.
    pub filters: Vec<String>,
}

impl Engine {
    /// `brig rename OLD NEW`.
    pub fn rename(&self, reference: &str, new_name: &str) -> Result<()> {
        validate_name(new_name)?;
        let rec = self.find(reference)?;
        self.ctx.db.rename(&rec.id, new_name)?;
        self.ctx
            .event(&rec, "rename", &[("oldName", rec.name.clone())]);
        Ok(())
    }

    /// `brig update`: changes the record, and a running container's cgroup.
    pub fn update(&self, reference: &str, u: &UpdateOptions) -> Result<ContainerRecord> {
        let found = self.find(reference)?;
        let _lock = self.ctx.lock(&found.id)?;
        let rec = self.find(&found.id)?;
        let probe = RealHost { db: &self.ctx.db };
        let as_create = CreateOptions {
            memory: u
                .memory
                .clone()
                .or_else(|| rec.config.resources.memory.map(|m| m.to_string())),
            memory_swap: u.memory_swap.clone(),
            memory_reservation: u.memory_reservation.clone(),
            cpus: u.cpus.clone(),
            cpu_shares: u.cpu_shares,
            cpuset_cpus: u.cpuset_cpus.clone(),
            pids_limit: u.pids_limit,
            ..Default::default()
        };
        let checked = crate::options::build::resources_of(&as_create, &probe)?;
        let restart = u.restart.as_deref().map(parse_restart).transpose()?;
        if rec.config.auto_remove && restart.is_some_and(|r| r != RestartPolicy::No) {
            return Err(Error::ConflictingOptions(
                "--restart on a container created with --rm: it is removed when it exits".into(),
            ));
        }
        let updated = self.ctx.db.modify(&rec.id, |r| {
            let res = &mut r.config.resources;
            if u.memory.is_some() {
                res.memory = checked.memory;
            }
            if u.memory_swap.is_some() {
                res.memory_swap = checked.memory_swap;
            }
            if u.memory_reservation.is_some() {
                res.memory_reservation = checked.memory_reservation;
            }
            if u.cpus.is_some() {
                res.nano_cpus = checked.nano_cpus;
            }
            if u.cpu_shares.is_some() {
                res.cpu_shares = checked.cpu_shares;
            }
            if u.cpuset_cpus.is_some() {
                res.cpuset_cpus = checked.cpuset_cpus.clone();
            }
            if u.pids_limit.is_some() {
                res.pids_limit = checked.pids_limit;
            }
            if let Some(p) = restart {
                r.config.restart = p;
            }
            Ok(r.clone())
        })?;
        if matches!(rec.state, State::Running | State::Paused) {
            self.apply_resources(&updated, u)?;
        }
        self.ctx.event(&updated, "update", &[]);
        Ok(updated)
    }

    /// `runtime update --resources FILE` with only the changed limits.
    fn apply_resources(&self, rec: &ContainerRecord, u: &UpdateOptions) -> Result<()> {
        let res = &rec.config.resources;
        let spec_err = |e: oci_spec::OciSpecError| Error::Spec(e.to_string());
        let mut b = LinuxResourcesBuilder::default();
        if u.memory.is_some() || u.memory_swap.is_some() || u.memory_reservation.is_some() {
            let mut m = LinuxMemoryBuilder::default();
            if let Some(v) = res.memory {
                m = m.limit(v);
            }
            if let Some(v) = res.memory_swap {
                m = m.swap(v);
            }
            if let Some(v) = res.memory_reservation {
                m = m.reservation(v);
            }
            b = b.memory(m.build().map_err(spec_err)?);
        }
        if u.cpus.is_some() || u.cpu_shares.is_some() || u.cpuset_cpus.is_some() {
            let mut c = LinuxCpuBuilder::default();
            if let Some(n) = res.nano_cpus {
                c = c.quota(n / 10_000).period(100_000u64);
            }
            if let Some(s) = res.cpu_shares {
                c = c.shares(s);
            }
            if let Some(s) = &res.cpuset_cpus {
                c = c.cpus(s);
            }
            b = b.cpu(c.build().map_err(spec_err)?);
        }
        if u.pids_limit.is_some() {
            let limit = match res.pids_limit {
                Some(0) => -1,
                Some(n) => n,
                None => crate::spec::DEFAULT_PIDS_LIMIT,
            };
            b = b.pids(
                LinuxPidsBuilder::default()
                    .limit(limit)
                    .build()
                    .map_err(spec_err)?,
            );
        }
        let resources = b.build().map_err(spec_err)?;
        let file = self.ctx.paths.bundle(&rec.id).join("update.json");
        let json = serde_json::to_vec(&resources).map_err(|e| Error::json("resources", e))?;
        std::fs::write(&file, json).ctx("write", &file)?;
        let result = self.ctx.runtime(rec).update(&rec.id, &file);
        let _ = std::fs::remove_file(&file);
        result
    }

    /// Events after `since` (oldest first), filtered; with `follow`, waits
    /// for new ones until `until` or until `sink` fails.
    pub fn events(
        &self,
        opts: &EventOptions,
        follow: bool,
        sink: &mut dyn FnMut(&EventRecord) -> std::io::Result<()>,
    ) -> Result<()> {
        let mut filters: Vec<(String, String)> = Vec::new();
        for f in &opts.filters {
            let (k, v) = f
                .split_once('=')
                .filter(|(k, _)| matches!(*k, "container" | "type" | "event"))
                .ok_or_else(|| {
                    Error::invalid(
                        "--filter",
                        f,
                        "supported: container=NAME|ID, type=container|volume|secret, event=ACTION",
                    )
                })?;
            filters.push((k.to_owned(), v.to_owned()));
        }
        let containers = self.ctx.db.containers()?;
        let keep = |e: &EventRecord| {
            filters.iter().all(|(k, v)| match k.as_str() {
                "type" => e.kind == *v,
                "event" => e.action == *v || e.action.split(':').next() == Some(v),
                _ => {
                    e.actor_id.starts_with(v.as_str())
                        || e.attributes.get("name") == Some(v)
                        || containers
                            .iter()
                            .any(|c| c.name == *v && c.id == e.actor_id)
                }
            })
        };
        let mut since = opts
            .since
            .unwrap_or_else(|| if follow { crate::time::now_ns() } else { 0 });
        let mut seq = 0;
        loop {
            for e in self.ctx.db.events(seq, since)? {
                seq = e.seq;
                if opts.until.is_some_and(|u| e.time >= u) {
                    return Ok(());
                }
                if keep(&e) && sink(&e).is_err() {
                    return Ok(());
                }
            }
            since = 0;
            if !follow || opts.until.is_some_and(|u| crate::time::now_ns() >= u) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `healthcheck run`: one check now; records it and returns its result.
    pub fn healthcheck_run(&self, reference: &str) -> Result<HealthResult> {
        let rec = self.find(reference)?;
        let Some(health) = rec.config.healthcheck.clone() else {
            return Err(Error::wrong_state(
                &rec.id,
                "without a health check",
                "create it with --health-cmd",
            ));
        };
        if rec.state != State::Running {
            return Err(Error::wrong_state(&rec.id, rec.state, "it is not running"));
        }
        let started = crate::time::now_ns();
        let (mut reader, writer) = std::io::pipe().ctx("create pipe", "healthcheck")?;
        let writer2 = writer.try_clone().ctx("dup", "healthcheck")?;
        let mut child = self
            .ctx
            .runtime(&rec)
            .command(None)
            .arg("exec")
            .arg(&rec.id)
            .args(health.command())
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer2)
            .spawn()
            .ctx("run", "the OCI runtime")?;
        let deadline = Instant::now() + health.timeout;
        let status = loop {
            if let Some(s) = child.try_wait().ctx("wait for", "the health check")? {
                break Some(s);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut output = Vec::new();
        let _ = (&mut reader)
            .take(MAX_OUTPUT as u64)
            .read_to_end(&mut output);
        let (exit_code, text) = match status {
            Some(s) => (
                s.code().unwrap_or(1),
                String::from_utf8_lossy(&output).into_owned(),
            ),
            None => (
                -1,
                format!(
                    "Health check exceeded timeout ({}s)",
                    health.timeout.as_secs_f64()
                ),
            ),
        };
        let result = HealthResult {
            start: crate::time::rfc3339_nanos(started),
            end: crate::time::rfc3339_nanos(crate::time::now_ns()),
            exit_code,
            output: text,
        };
        let in_start = rec
            .started_at
            .is_some_and(|s| (crate::time::now_ns() - s) < health.start_period.as_nanos() as i64);
        let changed = self.ctx.db.modify(&rec.id, |r| {
            let h = r.health.get_or_insert_with(Default::default);
            Ok(h.record(result.clone(), in_start, health.retries)
                .then_some(h.status))
        })?;
        if let Some(status) = changed {
            self.ctx
                .event(&rec, &format!("health_status: {}", status.as_str()), &[]);
        }
        Ok(result)
    }
}
