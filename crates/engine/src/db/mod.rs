//! The engine's tables in the shared SQLite database (`<root>/brig.db`,
//! next to brig-image's `image*` tables): `containers`, `container_events`,
//! `container_userns`, `volumes` and `secrets`.
//!
//! Concurrent `brig` processes and monitors share it: WAL mode lets readers
//! run beside one writer, a busy timeout makes writers queue, and every
//! change is one `BEGIN IMMEDIATE` transaction (read-modify-write included),
//! so two processes never interleave inside one change. Schema versions are
//! kept per component in `schema_versions`, as brig-image does.

mod containers;
mod objects;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};

pub use containers::Liveness;
pub use objects::{EventRecord, SecretRecord, VolumeRecord};

const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Schema versions this build writes, per component.
const COMPONENTS: &[(&str, i64, &str)] = &[
    ("container", 1, containers::SCHEMA),
    ("volume", 1, objects::VOLUME_SCHEMA),
    ("secret", 1, objects::SECRET_SCHEMA),
    ("network", 1, crate::network::store::SCHEMA),
];

/// The engine's view of the database.
#[derive(Debug)]
pub struct Db {
    path: PathBuf,
    /// `None` after [`Db::release`]; reopened on the next use.
    conn: Mutex<Option<Connection>>,
}

/// What a write transaction's body returns: a database error, or an engine
/// error decided inside the transaction (which then rolls back).
pub(crate) enum TxError {
    Sql(rusqlite::Error),
    Engine(Error),
}

impl From<rusqlite::Error> for TxError {
    fn from(e: rusqlite::Error) -> Self {
        TxError::Sql(e)
    }
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Engine(e)
    }
}

pub(crate) type TxResult<T> = std::result::Result<T, TxError>;

impl Db {
    /// Opens (creating if needed) the database and brings the engine's
    /// tables to this build's schema.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Db {
            path: path.to_owned(),
            conn: Mutex::new(Some(connect(path)?)),
        };
        db.migrate()?;
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies the WAL's pages into the database without waiting for
    /// anyone (PASSIVE), so the WAL restarts short. Worth it off the
    /// critical path (a monitor whose caller was answered): the first
    /// connection of every `brig` command rebuilds its index by reading
    /// the whole WAL (~2 ms at its 1000-page automatic checkpoint).
    pub fn checkpoint(&self) {
        let _ =
            self.read(|conn| Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?));
    }

    /// Closes the connection until the next use (a monitor, idle for the
    /// container's life, keeps none of SQLite's memory meanwhile).
    pub fn release(&self) {
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn guard(&self) -> Result<std::sync::MutexGuard<'_, Option<Connection>>> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(connect(&self.path)?);
        }
        Ok(guard)
    }

    fn migrate(&self) -> Result<()> {
        // Nearly always current: a read then, not a write transaction
        // that every `brig` command would queue for.
        if self.is_current()? {
            return Ok(());
        }
        self.write(|tx| {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);",
            )?;
            for &(component, version, schema) in COMPONENTS {
                let found: Option<i64> = tx
                    .query_row(
                        "SELECT version FROM schema_versions WHERE component = ?1",
                        [component],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(found) = found
                    && found > version
                {
                    return Err(TxError::Engine(Error::DatabaseTooNew {
                        path: self.path.clone(),
                        component,
                        found,
                        supported: version,
                    }));
                }
                if found != Some(version) {
                    tx.execute_batch(schema)?;
                    tx.execute(
                        "INSERT OR REPLACE INTO schema_versions (component, version) VALUES (?1, ?2)",
                        rusqlite::params![component, version],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Whether every component's schema is at the version we know.
    fn is_current(&self) -> Result<bool> {
        self.read(|conn| {
            let mut stmt = match conn.prepare("SELECT component, version FROM schema_versions") {
                Ok(s) => s,
                // No table yet: a new database.
                Err(_) => return Ok(false),
            };
            let found: Vec<(String, i64)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(COMPONENTS.iter().all(|&(component, version, _)| {
                found.iter().any(|(c, v)| c == component && *v == version)
            }))
        })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction; an error rolls back.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let mut guard = self.guard()?;
        let Some(conn) = guard.as_mut() else {
            return Err(self.err(rusqlite::Error::InvalidQuery));
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        match f(&tx) {
            Ok(out) => {
                tx.commit().map_err(|e| self.err(e))?;
                Ok(out)
            }
            Err(TxError::Sql(e)) => Err(self.err(e)),
            Err(TxError::Engine(e)) => Err(e),
        }
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> TxResult<T>) -> Result<T> {
        let guard = self.guard()?;
        let Some(conn) = guard.as_ref() else {
            return Err(self.err(rusqlite::Error::InvalidQuery));
        };
        match f(conn) {
            Ok(out) => Ok(out),
            Err(TxError::Sql(e)) => Err(self.err(e)),
            Err(TxError::Engine(e)) => Err(e),
        }
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Database {
            path: self.path.clone(),
            source,
        }
    }
}

/// A connection in WAL mode with a busy timeout.
fn connect(path: &Path) -> Result<Connection> {
    let db_err = |source| Error::Database {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(db_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
    // Switching to WAL needs a write lock; another process may hold it
    // while it does the same, and the busy handler does not cover this.
    let mut tries = 0;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => break,
            Err(e) if tries < 100 && is_busy(&e) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(db_err(e)),
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(db_err)?;
    // The last connection to close would checkpoint and delete the WAL,
    // and the next command would create and fsync it again: every `brig`
    // command paid both. Automatic checkpoints (every 200 pages, not
    // SQLite's 1000: each command's first read scans the WAL) and the
    // monitors' (`Db::checkpoint`) keep the WAL short.
    conn.pragma_update(None, "wal_autocheckpoint", 200)
        .map_err(db_err)?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(db_err)?;
    Ok(conn)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A JSON column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> TxResult<String> {
    serde_json::to_string(value).map_err(|e| TxError::Engine(Error::json("encode a record", e)))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> TxResult<T> {
    serde_json::from_str(text).map_err(|e| TxError::Engine(Error::json(what.to_owned(), e)))
}
