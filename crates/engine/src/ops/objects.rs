//! `volume create|ls|inspect|rm|prune` and `secret create|ls|inspect|rm`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use serde_json::{Value, json};

use crate::cleanup::{ensure_volume, remove_volume_data, uses_volume};
use crate::db::{SecretRecord, VolumeRecord};
use crate::engine::{Engine, new_id};
use crate::error::{Error, IoContext, Result};
use crate::options::mounts::is_volume_name;
use crate::time::rfc3339_nanos;

/// Docker's limit on a secret's size.
pub const MAX_SECRET: usize = 500 * 1024;

/// A volume with the containers that use it.
#[derive(Debug, Clone)]
pub struct VolumeInfo {
    pub volume: VolumeRecord,
    pub mountpoint: std::path::PathBuf,
    pub containers: Vec<String>,
}

impl Engine {
    /// `volume create [NAME]`: an existing volume of that name is returned as is.
    pub fn volume_create(&self, name: Option<&str>, labels: &[String]) -> Result<VolumeRecord> {
        let name = match name {
            Some(n) if is_volume_name(n) => n.to_owned(),
            Some(n) => return Err(Error::InvalidVolumeName(n.to_owned())),
            None => new_id(),
        };
        let labels = crate::options::misc::parse_labels(labels);
        ensure_volume(&self.ctx, &name, false, labels)?;
        self.ctx.db.volume(&name)?.ok_or(Error::NoSuchVolume(name))
    }

    /// `volume ls`, with the containers using each volume.
    pub fn volume_list(&self) -> Result<Vec<VolumeInfo>> {
        let containers = self.ctx.db.containers()?;
        Ok(self
            .ctx
            .db
            .volumes()?
            .into_iter()
            .map(|v| VolumeInfo {
                mountpoint: self.ctx.paths.volume_data(&v.name),
                containers: containers
                    .iter()
                    .filter(|c| uses_volume(c, &v.name))
                    .map(|c| c.name.clone())
                    .collect(),
                volume: v,
            })
            .collect())
    }

    fn volume_info(&self, name: &str) -> Result<VolumeInfo> {
        self.volume_list()?
            .into_iter()
            .find(|v| v.volume.name == name)
            .ok_or_else(|| Error::NoSuchVolume(name.to_owned()))
    }

    /// `volume inspect NAME` (Docker's shape).
    pub fn volume_inspect(&self, name: &str) -> Result<Value> {
        let v = self.volume_info(name)?;
        Ok(json!({
            "Name": v.volume.name,
            "Driver": "local",
            "Mountpoint": v.mountpoint,
            "CreatedAt": rfc3339_nanos(v.volume.created_at),
            "Labels": v.volume.labels,
            "Options": v.volume.options,
            "Scope": "local",
            "UsageData": {"RefCount": v.containers.len()},
        }))
    }

    /// `volume rm NAME`: refused while a container uses it.
    pub fn volume_remove(&self, name: &str) -> Result<()> {
        let v = self.volume_info(name)?;
        if !v.containers.is_empty() {
            return Err(Error::VolumeInUse {
                name: name.to_owned(),
                containers: v.containers.join(", "),
            });
        }
        remove_volume_data(&self.ctx, name)
    }

    /// `volume prune [--all]`: unused anonymous volumes (every unused one
    /// with `all`). Returns the names removed.
    pub fn volume_prune(&self, all: bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for v in self.volume_list()? {
            if v.containers.is_empty() && (all || v.volume.anonymous) {
                remove_volume_data(&self.ctx, &v.volume.name)?;
                removed.push(v.volume.name);
            }
        }
        Ok(removed)
    }

    /// `secret create NAME`: stores `data` readable only through the
    /// containers that mount it.
    pub fn secret_create(
        &self,
        name: &str,
        data: &[u8],
        labels: &[String],
    ) -> Result<SecretRecord> {
        if !is_volume_name(name) {
            return Err(Error::invalid(
                "NAME",
                name,
                "secret names match [a-zA-Z0-9][a-zA-Z0-9_.-]+",
            ));
        }
        if data.is_empty() || data.len() > MAX_SECRET {
            return Err(Error::invalid(
                "secret",
                name,
                format!("a secret holds 1 byte to {} KiB", MAX_SECRET / 1024),
            ));
        }
        let dir = self.ctx.paths.secrets_dir();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .ctx("chmod", &dir)?;
        let rec = SecretRecord {
            id: new_id()[..25].to_owned(),
            name: name.to_owned(),
            created_at: crate::time::now_ns(),
            size: data.len() as u64,
            labels: crate::options::misc::parse_labels(labels),
        };
        let path = self.ctx.paths.secret(&rec.id);
        // Readable by the container's user once bind-mounted; the directory
        // (0700) keeps host users out.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(&path)
            .and_then(|mut f| f.write_all(data).and_then(|_| f.sync_all()))
            .ctx("write secret", &path)?;
        if let Err(e) = self.ctx.db.insert_secret(&rec) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.ctx.object_event("secret", &rec.id, "create");
        Ok(rec)
    }

    pub fn secret_list(&self) -> Result<Vec<SecretRecord>> {
        self.ctx.db.secrets()
    }

    fn secret_find(&self, reference: &str) -> Result<SecretRecord> {
        self.ctx
            .db
            .secrets()?
            .into_iter()
            .find(|s| {
                s.name == reference
                    || s.id == reference
                    || (reference.len() >= 4 && s.id.starts_with(reference))
            })
            .ok_or_else(|| Error::NoSuchSecret(reference.to_owned()))
    }

    /// Names of the containers that use secret `id`.
    fn secret_users(&self, id: &str) -> Result<Vec<String>> {
        Ok(self
            .ctx
            .db
            .containers()?
            .into_iter()
            .filter(|c| c.config.secrets.iter().any(|m| m.id == id))
            .map(|c| c.name)
            .collect())
    }

    /// `secret inspect`: metadata only, never the value.
    pub fn secret_inspect(&self, reference: &str) -> Result<Value> {
        let s = self.secret_find(reference)?;
        let users = self.secret_users(&s.id)?;
        Ok(json!({
            "ID": s.id,
            "CreatedAt": rfc3339_nanos(s.created_at),
            "UpdatedAt": rfc3339_nanos(s.created_at),
            "Spec": {"Name": s.name, "Labels": s.labels, "Driver": {"Name": "file"}},
            "SecretData": "",
            "Size": s.size,
            "UsedBy": users,
        }))
    }

    /// `secret rm`: refused while a container uses it.
    pub fn secret_remove(&self, reference: &str) -> Result<String> {
        let s = self.secret_find(reference)?;
        let users = self.secret_users(&s.id)?;
        if !users.is_empty() {
            return Err(Error::wrong_state(
                &s.name,
                "in use",
                format!("containers {} use it; remove them first", users.join(", ")),
            ));
        }
        let path = self.ctx.paths.secret(&s.id);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("remove", path, e));
            }
            _ => {}
        }
        self.ctx.db.delete_secret(&s.id)?;
        self.ctx.object_event("secret", &s.id, "remove");
        Ok(s.id)
    }
}

/// Labels as a map (for callers printing them).
pub fn labels(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
