//! The `containers` table: one row per container, changed only by
//! read-modify-write transactions ([`Db::modify`]).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Db, TxError, TxResult, from_json, to_json};
use crate::error::{Error, Result};
use crate::proc::ProcessId;
use crate::record::{ContainerRecord, State};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image TEXT NOT NULL,
    image_id TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL,
    pid INTEGER,
    monitor_pid INTEGER,
    monitor_start INTEGER,
    owner_pid INTEGER,
    owner_start INTEGER,
    exit_code INTEGER,
    oom_killed INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    restart_count INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    health TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS container_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    attributes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS container_userns (
    container_id TEXT PRIMARY KEY,
    host_start INTEGER NOT NULL UNIQUE,
    size INTEGER NOT NULL
);
";

const COLUMNS: &str = "id, name, image, image_id, config, state, pid, monitor_pid, monitor_start,
    owner_pid, owner_start, exit_code, oom_killed, created_at, started_at, finished_at,
    restart_count, stop_requested, health, error";

fn process(pid: Option<i32>, start: Option<i64>) -> Option<ProcessId> {
    Some(ProcessId {
        pid: pid?,
        start: start? as u64,
    })
}

/// A container's state and the processes that must be alive for it.
#[derive(Debug, Clone)]
pub struct Liveness {
    pub id: String,
    pub state: State,
    pub monitor: Option<ProcessId>,
    pub owner: Option<ProcessId>,
}

impl Liveness {
    /// Whether the process in charge of this state is gone.
    pub fn orphaned(&self) -> bool {
        match self.state {
            State::Creating | State::Removing => self.owner.is_none_or(|o| !o.is_alive()),
            s if s.has_monitor() => self.monitor.is_none_or(|m| !m.is_alive()),
            _ => false,
        }
    }
}

fn from_row(r: &Row<'_>) -> TxResult<ContainerRecord> {
    let id: String = r.get(0)?;
    let state: String = r.get(5)?;
    let config: String = r.get(4)?;
    let health: Option<String> = r.get(18)?;
    Ok(ContainerRecord {
        name: r.get(1)?,
        image: r.get(2)?,
        image_id: r.get(3)?,
        config: from_json(&format!("config of container {id}"), &config)?,
        state: State::parse(&state).unwrap_or(State::Exited),
        pid: r.get(6)?,
        monitor: process(r.get(7)?, r.get(8)?),
        owner: process(r.get(9)?, r.get(10)?),
        exit_code: r.get(11)?,
        oom_killed: r.get(12)?,
        created_at: r.get(13)?,
        started_at: r.get(14)?,
        finished_at: r.get(15)?,
        restart_count: r.get(16)?,
        stop_requested: r.get(17)?,
        health: health
            .map(|h| from_json(&format!("health of container {id}"), &h))
            .transpose()?,
        error: r.get(19)?,
        id,
    })
}

fn query(c: &Connection, filter: &str, p: impl rusqlite::Params) -> TxResult<Vec<ContainerRecord>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM containers {filter} ORDER BY created_at DESC"
    ))?;
    let mut rows = st.query(p)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(from_row(row)?);
    }
    Ok(out)
}

fn name_holder(c: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    c.query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
}

fn store(tx: &Connection, rec: &ContainerRecord, insert: bool) -> TxResult<()> {
    let verb = if insert { "INSERT" } else { "REPLACE" };
    tx.execute(
        &format!("{verb} INTO containers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"),
        params![
            rec.id,
            rec.name,
            rec.image,
            rec.image_id,
            to_json(&rec.config)?,
            rec.state.as_str(),
            rec.pid,
            rec.monitor.map(|p| p.pid),
            rec.monitor.map(|p| p.start as i64),
            rec.owner.map(|p| p.pid),
            rec.owner.map(|p| p.start as i64),
            rec.exit_code,
            rec.oom_killed,
            rec.created_at,
            rec.started_at,
            rec.finished_at,
            rec.restart_count,
            rec.stop_requested,
            rec.health.as_ref().map(to_json).transpose()?,
            rec.error,
        ],
    )?;
    Ok(())
}

impl Db {
    /// Adds a container; fails with [`Error::NameInUse`] if its name is
    /// taken (of concurrent inserts of one name, exactly one succeeds).
    pub fn insert_container(&self, rec: &ContainerRecord) -> Result<()> {
        self.write(|tx| {
            if let Some(id) = name_holder(tx, &rec.name)? {
                return Err(TxError::Engine(Error::NameInUse {
                    name: rec.name.clone(),
                    id,
                }));
            }
            store(tx, rec, true)
        })
    }

    /// The container with this full ID.
    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        self.read(|c| Ok(query(c, "WHERE id = ?1", [id])?.pop()))
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        self.read(|c| query(c, "", []))
    }

    /// Containers in one of `states`.
    /// Who must be alive for the containers in `states`: what finding
    /// orphans needs, without decoding every container's configuration
    /// (every command looks, so this stays cheap with many containers).
    pub fn liveness_in(&self, states: &[State]) -> Result<Vec<Liveness>> {
        let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT id, state, monitor_pid, monitor_start, owner_pid, owner_start
                 FROM containers WHERE state IN ({})",
                list.join(",")
            ))?;
            let rows = st.query_map([], |r| {
                let state: String = r.get(1)?;
                Ok(Liveness {
                    id: r.get(0)?,
                    state: State::parse(&state).unwrap_or(State::Exited),
                    monitor: process(r.get(2)?, r.get(3)?),
                    owner: process(r.get(4)?, r.get(5)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn containers_in(&self, states: &[State]) -> Result<Vec<ContainerRecord>> {
        let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        self.read(|c| query(c, &format!("WHERE state IN ({})", list.join(",")), []))
    }

    /// Finds a container by full ID, name (a leading `/` is ignored) or
    /// unique ID prefix, as Docker does.
    pub fn find(&self, reference: &str) -> Result<ContainerRecord> {
        let name = reference.strip_prefix('/').unwrap_or(reference);
        self.read(|c| {
            let exact = query(c, "WHERE id = ?1 OR name = ?2", [reference, name])?;
            if let Some(rec) = exact.into_iter().next() {
                return Ok(rec);
            }
            let hex = !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_hexdigit());
            let mut found = if hex {
                query(c, "WHERE id LIKE ?1", [format!("{reference}%")])?
            } else {
                Vec::new()
            };
            match found.len() {
                0 => Err(Error::NoSuchContainer(reference.to_owned()).into()),
                1 => Ok(found.remove(0)),
                count => Err(Error::AmbiguousContainer {
                    reference: reference.to_owned(),
                    count,
                }
                .into()),
            }
        })
    }

    /// Reads the container, lets `f` change it, writes it back: all in one
    /// transaction. `f`'s error leaves the row as it was.
    pub fn modify<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut ContainerRecord) -> Result<T>,
    ) -> Result<T> {
        self.write(|tx| {
            let mut rec = query(tx, "WHERE id = ?1", [id])?
                .pop()
                .ok_or_else(|| Error::NoSuchContainer(id.to_owned()))?;
            let out = f(&mut rec)?;
            store(tx, &rec, false)?;
            Ok(out)
        })
    }

    /// Renames a container; the new name must be free.
    pub fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        self.write(|tx| {
            if let Some(holder) = name_holder(tx, new_name)? {
                return Err(TxError::Engine(Error::NameInUse {
                    name: new_name.to_owned(),
                    id: holder,
                }));
            }
            tx.execute(
                "UPDATE containers SET name = ?2 WHERE id = ?1",
                [id, new_name],
            )?;
            Ok(())
        })
    }

    /// Deletes the row (and its user namespace range).
    pub fn delete_container(&self, id: &str) -> Result<bool> {
        self.write(|tx| {
            tx.execute("DELETE FROM container_userns WHERE container_id = ?1", [id])?;
            Ok(tx.execute("DELETE FROM containers WHERE id = ?1", [id])? > 0)
        })
    }

    /// Gives the container a range of `size` host IDs no other container
    /// has, from `base` up; returns the range's first ID.
    pub fn allocate_userns(&self, id: &str, base: u32, size: u32) -> Result<u32> {
        self.write(|tx| {
            if let Some(start) = tx
                .query_row(
                    "SELECT host_start FROM container_userns WHERE container_id = ?1",
                    [id],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
            {
                return Ok(start as u32);
            }
            let mut st =
                tx.prepare("SELECT host_start FROM container_userns ORDER BY host_start")?;
            let used: Vec<i64> = st
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut start = i64::from(base);
            for u in used {
                if u == start {
                    start += i64::from(size);
                } else if u > start {
                    break;
                }
            }
            if start + i64::from(size) > i64::from(u32::MAX) {
                return Err(TxError::Engine(Error::invalid(
                    "--userns",
                    "auto",
                    "no free range of host IDs is left; remove containers that use --userns auto",
                )));
            }
            tx.execute(
                "INSERT INTO container_userns (container_id, host_start, size) VALUES (?1, ?2, ?3)",
                params![id, start, size],
            )?;
            Ok(start as u32)
        })
    }

    /// The container's host ID range (`--userns auto`), if it has one.
    pub fn userns_range(&self, id: &str) -> Result<Option<(u32, u32)>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT host_start, size FROM container_userns WHERE container_id = ?1",
                [id],
                |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32)),
            )
            .optional()?)
        })
    }
}
