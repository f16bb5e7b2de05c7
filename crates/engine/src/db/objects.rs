//! The `volumes`, `secrets` and `container_events` tables.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, TxError, from_json, to_json};
use crate::error::{Error, Result};

pub(super) const VOLUME_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    labels TEXT NOT NULL,
    options TEXT NOT NULL,
    anonymous INTEGER NOT NULL DEFAULT 0,
    seeded INTEGER NOT NULL DEFAULT 0
);
";

pub(super) const SECRET_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS secrets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    labels TEXT NOT NULL
);
";

/// A named volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeRecord {
    pub name: String,
    /// Unix nanoseconds.
    pub created_at: i64,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, image VOLUME).
    pub anonymous: bool,
    /// The image's content was copied in (done once).
    pub seeded: bool,
}

/// A secret's metadata (its value is a file only the engine reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRecord {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub size: u64,
    pub labels: BTreeMap<String, String>,
}

/// One event (`brig events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    pub seq: i64,
    /// Unix nanoseconds.
    pub time: i64,
    /// `container`, `volume` or `secret`.
    pub kind: String,
    pub actor_id: String,
    pub action: String,
    pub attributes: BTreeMap<String, String>,
}

impl Db {
    /// Adds a volume; `Ok(false)` if one of that name exists.
    pub fn insert_volume(&self, v: &VolumeRecord) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO volumes (name, created_at, labels, options, anonymous, seeded)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    v.name,
                    v.created_at,
                    to_json(&v.labels)?,
                    to_json(&v.options)?,
                    v.anonymous,
                    v.seeded
                ],
            )?;
            Ok(n > 0)
        })
    }

    pub fn volume(&self, name: &str) -> Result<Option<VolumeRecord>> {
        Ok(self.query_volumes(Some(name))?.pop())
    }

    pub fn volumes(&self) -> Result<Vec<VolumeRecord>> {
        self.query_volumes(None)
    }

    fn query_volumes(&self, name: Option<&str>) -> Result<Vec<VolumeRecord>> {
        type Row = (String, i64, String, String, bool, bool);
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT name, created_at, labels, options, anonymous, seeded FROM volumes
                 WHERE (?1 IS NULL OR name = ?1) ORDER BY name",
            )?;
            let rows: Vec<Row> = st
                .query_map([name], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(name, created_at, labels, options, anonymous, seeded)| {
                    Ok(VolumeRecord {
                        labels: from_json("volume labels", &labels)?,
                        options: from_json("volume options", &options)?,
                        name,
                        created_at,
                        anonymous,
                        seeded,
                    })
                })
                .collect()
        })
    }

    /// Marks a volume as seeded from an image; returns false if it already was.
    pub fn mark_volume_seeded(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE volumes SET seeded = 1 WHERE name = ?1 AND seeded = 0",
                [name],
            )? > 0)
        })
    }

    pub fn delete_volume(&self, name: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM volumes WHERE name = ?1", [name])? > 0))
    }

    /// Adds a secret; fails if the name is taken.
    pub fn insert_secret(&self, s: &SecretRecord) -> Result<()> {
        self.write(|tx| {
            let taken: Option<String> = tx
                .query_row("SELECT id FROM secrets WHERE name = ?1", [&s.name], |r| {
                    r.get(0)
                })
                .optional()?;
            if taken.is_some() {
                return Err(TxError::Engine(Error::SecretExists(s.name.clone())));
            }
            tx.execute(
                "INSERT INTO secrets (id, name, created_at, size, labels) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.id, s.name, s.created_at, s.size as i64, to_json(&s.labels)?],
            )?;
            Ok(())
        })
    }

    pub fn secrets(&self) -> Result<Vec<SecretRecord>> {
        self.read(|c| {
            let mut st =
                c.prepare("SELECT id, name, created_at, size, labels FROM secrets ORDER BY name")?;
            let rows: Vec<(String, String, i64, i64, String)> = st
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(id, name, created_at, size, labels)| {
                    Ok(SecretRecord {
                        labels: from_json("secret labels", &labels)?,
                        id,
                        name,
                        created_at,
                        size: size as u64,
                    })
                })
                .collect()
        })
    }

    pub fn delete_secret(&self, id: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM secrets WHERE id = ?1", [id])? > 0))
    }

    /// Records an event.
    pub fn add_event(
        &self,
        kind: &str,
        actor_id: &str,
        action: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO container_events (time, type, actor_id, action, attributes) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![crate::time::now_ns(), kind, actor_id, action, to_json(attributes)?],
            )?;
            Ok(())
        })
    }

    /// Events after sequence number `after_seq`, at or after `since` (Unix ns), oldest first.
    pub fn events(&self, after_seq: i64, since: i64) -> Result<Vec<EventRecord>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, time, type, actor_id, action, attributes FROM container_events
                 WHERE seq > ?1 AND time >= ?2 ORDER BY seq",
            )?;
            let rows: Vec<(i64, i64, String, String, String, String)> = st
                .query_map([after_seq, since], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(seq, time, kind, actor_id, action, attributes)| {
                    Ok(EventRecord {
                        attributes: from_json("event attributes", &attributes)?,
                        seq,
                        time,
                        kind,
                        actor_id,
                        action,
                    })
                })
                .collect()
        })
    }

    /// Drops events older than `before` (Unix ns), so the table stays small.
    pub fn trim_events(&self, before: i64) -> Result<usize> {
        self.write(|tx| Ok(tx.execute("DELETE FROM container_events WHERE time < ?1", [before])?))
    }
}
