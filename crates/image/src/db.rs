//! Image records in SQLite: which names point to which image, and which
//! blobs and layers each image holds (the roots of garbage collection).
//!
//! The database file is shared with the rest of the engine, so every table
//! here starts with `image` and the schema version is kept per component in
//! `schema_versions`. WAL mode and a busy timeout let concurrent `brig`
//! processes read while one writes; every write is one `BEGIN IMMEDIATE`
//! transaction.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::digest::{Digest, parse_digest};
use crate::error::{Error, Result};

const SCHEMA_VERSION: i64 = 1;
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    index_digest TEXT,
    created TEXT,
    size INTEGER NOT NULL,
    os TEXT,
    architecture TEXT,
    added_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS image_names (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS image_names_image ON image_names(image_id);
CREATE TABLE IF NOT EXISTS image_blobs (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY (image_id, digest)
);
CREATE INDEX IF NOT EXISTS image_blobs_digest ON image_blobs(digest);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    blob_digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    blob_size INTEGER NOT NULL,
    diff_id TEXT NOT NULL,
    chain_id TEXT NOT NULL,
    PRIMARY KEY (image_id, position)
);
";

/// One stored image. Its ID is the digest of its config, as in Docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub id: Digest,
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    /// The index (manifest list) the manifest was chosen from, if any.
    pub index_digest: Option<Digest>,
    /// The config's `created` time (RFC 3339), if it has one.
    pub created: Option<String>,
    /// Bytes of the config and layer blobs as stored.
    pub size: u64,
    pub os: Option<String>,
    pub architecture: Option<String>,
    /// When this store recorded the image (Unix seconds).
    pub added_at: i64,
    /// Canonical names: `repo:tag` and `repo@digest`, sorted.
    pub names: Vec<String>,
}

impl ImageRecord {
    /// Names of the form `repo:tag`.
    pub fn repo_tags(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(String::as_str)
            .filter(|n| !n.contains('@'))
    }

    /// Names of the form `repo@digest`.
    pub fn repo_digests(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(String::as_str)
            .filter(|n| n.contains('@'))
    }
}

/// One layer of a stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    pub blob_digest: Digest,
    pub media_type: String,
    pub blob_size: u64,
    pub diff_id: Digest,
    pub chain_id: Digest,
}

/// What [`ImageDb::put_image`] stores.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub record: ImageRecord,
    /// Every blob the image needs (index, manifest, config, layers).
    pub blobs: Vec<Digest>,
    pub layers: Vec<LayerRecord>,
}

/// The image tables of the engine database.
#[derive(Debug)]
pub struct ImageDb {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl ImageDb {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db_err = |source| Error::Database {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(db_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err)?;
        let db = ImageDb {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&self) -> Result<()> {
        self.write(|tx| {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);",
            )?;
            let found: Option<i64> = tx
                .query_row(
                    "SELECT version FROM schema_versions WHERE component = 'image'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(v) = found
                && v > SCHEMA_VERSION
            {
                return Ok(Err(v));
            }
            tx.execute_batch(SCHEMA)?;
            tx.execute(
                "INSERT OR REPLACE INTO schema_versions (component, version) VALUES ('image', ?1)",
                [SCHEMA_VERSION],
            )?;
            Ok(Ok(()))
        })?
        .map_err(|found| Error::DatabaseTooNew {
            path: self.path.clone(),
            found,
            supported: SCHEMA_VERSION,
        })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (waits for other writers).
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let run = |conn: &mut Connection| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run(&mut conn).map_err(|source| self.err(source))
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|source| self.err(source))
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores an image (replacing an earlier record with the same ID) and
    /// points each of its `record.names` at it, moving names away from other
    /// images. Returns the IDs of images left without any name by the move.
    pub fn put_image(&self, image: &NewImage) -> Result<Vec<Digest>> {
        let r = &image.record;
        let orphans: Vec<String> = self.write(|tx| {
            tx.execute(
                "INSERT INTO images (id, manifest_digest, manifest_media_type, index_digest, created, size, os, architecture, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(id) DO UPDATE SET manifest_digest = ?2, manifest_media_type = ?3,
                    index_digest = ?4, created = ?5, size = ?6, os = ?7, architecture = ?8",
                params![
                    r.id.as_ref(),
                    r.manifest_digest.as_ref(),
                    r.manifest_media_type,
                    r.index_digest.as_ref().map(|d| d.to_string()),
                    r.created,
                    r.size as i64,
                    r.os,
                    r.architecture,
                    r.added_at
                ],
            )?;
            tx.execute("DELETE FROM image_blobs WHERE image_id = ?1", [r.id.as_ref()])?;
            tx.execute("DELETE FROM image_layers WHERE image_id = ?1", [r.id.as_ref()])?;
            for blob in &image.blobs {
                tx.execute(
                    "INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?1, ?2)",
                    params![r.id.as_ref(), blob.as_ref()],
                )?;
            }
            for (i, l) in image.layers.iter().enumerate() {
                tx.execute(
                    "INSERT INTO image_layers (image_id, position, blob_digest, media_type, blob_size, diff_id, chain_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        r.id.as_ref(),
                        i as i64,
                        l.blob_digest.as_ref(),
                        l.media_type,
                        l.blob_size as i64,
                        l.diff_id.as_ref(),
                        l.chain_id.as_ref()
                    ],
                )?;
            }
            let mut previous = Vec::new();
            for name in &r.names {
                if let Some(old) = set_name(tx, name, r.id.as_ref())? {
                    previous.push(old);
                }
            }
            orphans_among(tx, previous)
        })?;
        orphans.iter().map(|s| self.parse(s)).collect()
    }

    /// Points `name` at image `id`. Returns the image it pointed to before,
    /// if that image now has no name left.
    pub fn add_name(&self, name: &str, id: &Digest) -> Result<Option<Digest>> {
        let orphan = self.write(|tx| {
            let previous = set_name(tx, name, id.as_ref())?;
            Ok(orphans_among(tx, previous.into_iter().collect())?.pop())
        })?;
        orphan.map(|s| self.parse(&s)).transpose()
    }

    /// Removes a name; returns whether it existed.
    pub fn remove_name(&self, name: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM image_names WHERE name = ?1", [name])? > 0))
    }

    /// Removes an image record with its names, blob and layer rows.
    pub fn delete_image(&self, id: &Digest) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM images WHERE id = ?1", [id.as_ref()])? > 0))
    }

    /// The image a canonical name points to.
    pub fn image_by_name(&self, name: &str) -> Result<Option<ImageRecord>> {
        let id: Option<String> = self.read(|c| {
            c.query_row(
                "SELECT image_id FROM image_names WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
        })?;
        match id {
            Some(id) => self.image(&self.parse(&id)?),
            None => Ok(None),
        }
    }

    /// Images whose ID's hex starts with `prefix` (Docker's short IDs).
    pub fn images_by_id_prefix(&self, prefix: &str) -> Result<Vec<ImageRecord>> {
        let pattern = format!("sha256:{}%", prefix.replace(['%', '_'], ""));
        self.query_images(
            "SELECT * FROM images WHERE id LIKE ?1 ORDER BY added_at",
            [pattern],
        )
    }

    /// Images whose manifest or index digest is `digest`.
    pub fn images_by_manifest(&self, digest: &Digest) -> Result<Vec<ImageRecord>> {
        self.query_images(
            "SELECT * FROM images WHERE manifest_digest = ?1 OR index_digest = ?1 ORDER BY added_at",
            [digest.as_ref()],
        )
    }

    /// One image by ID.
    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        Ok(self
            .query_images("SELECT * FROM images WHERE id = ?1", [id.as_ref()])?
            .pop())
    }

    /// Every image, oldest first.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.query_images("SELECT * FROM images ORDER BY added_at, id", [])
    }

    /// The layers of an image, base first.
    pub fn layers(&self, id: &Digest) -> Result<Vec<LayerRecord>> {
        let rows: Vec<(String, String, i64, String, String)> = self.read(|c| {
            let mut st = c.prepare(
                "SELECT blob_digest, media_type, blob_size, diff_id, chain_id FROM image_layers
                 WHERE image_id = ?1 ORDER BY position",
            )?;
            st.query_map([id.as_ref()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })?;
        rows.into_iter()
            .map(|(blob, media_type, size, diff, chain)| {
                Ok(LayerRecord {
                    blob_digest: self.parse(&blob)?,
                    media_type,
                    blob_size: size as u64,
                    diff_id: self.parse(&diff)?,
                    chain_id: self.parse(&chain)?,
                })
            })
            .collect()
    }

    /// Every blob some image holds (the roots of blob GC).
    pub fn referenced_blobs(&self) -> Result<HashSet<String>> {
        self.strings("SELECT DISTINCT digest FROM image_blobs")
    }

    /// Every layer chain ID some image uses (the roots of layer GC).
    pub fn referenced_chain_ids(&self) -> Result<HashSet<String>> {
        self.strings("SELECT DISTINCT chain_id FROM image_layers")
    }

    fn strings(&self, sql: &str) -> Result<HashSet<String>> {
        self.read(|c| {
            let mut st = c.prepare(sql)?;
            st.query_map([], |r| r.get::<_, String>(0))?.collect()
        })
    }

    fn query_images<P: rusqlite::Params>(&self, sql: &str, p: P) -> Result<Vec<ImageRecord>> {
        type Row = (String, String, String, Option<String>, Option<String>, i64);
        type Row2 = (Option<String>, Option<String>, i64);
        let rows: Vec<(Row, Row2, Vec<String>)> = self.read(|c| {
            let mut st = c.prepare(sql)?;
            let mut names =
                c.prepare("SELECT name FROM image_names WHERE image_id = ?1 ORDER BY name")?;
            let base: Vec<(Row, Row2)> = st
                .query_map(p, |r| {
                    Ok((
                        (
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ),
                        (r.get(6)?, r.get(7)?, r.get(8)?),
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            base.into_iter()
                .map(|(a, b)| {
                    let n = names
                        .query_map([&a.0], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    Ok((a, b, n))
                })
                .collect()
        })?;
        rows.into_iter()
            .map(
                |((id, md, mt, idx, created, size), (os, arch, added_at), names)| {
                    Ok(ImageRecord {
                        id: self.parse(&id)?,
                        manifest_digest: self.parse(&md)?,
                        manifest_media_type: mt,
                        index_digest: idx.map(|s| self.parse(&s)).transpose()?,
                        created,
                        size: size as u64,
                        os,
                        architecture: arch,
                        added_at,
                        names,
                    })
                },
            )
            .collect()
    }

    fn parse(&self, s: &str) -> Result<Digest> {
        parse_digest(s)
    }
}

/// Points `name` at `id`; returns the image it pointed to before, if other.
fn set_name(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    id: &str,
) -> rusqlite::Result<Option<String>> {
    let previous: Option<String> = tx
        .query_row(
            "SELECT image_id FROM image_names WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute(
        "INSERT INTO image_names (name, image_id) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET image_id = ?2",
        [name, id],
    )?;
    Ok(previous.filter(|p| p != id))
}

/// The images among `ids` that have no name left.
fn orphans_among(
    tx: &rusqlite::Transaction<'_>,
    ids: Vec<String>,
) -> rusqlite::Result<Vec<String>> {
    let mut out = Vec::new();
    for id in ids {
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) FROM image_names WHERE image_id = ?1",
            [&id],
            |r| r.get(0),
        )?;
        if n == 0 && !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}
