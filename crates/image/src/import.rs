//! `import ROOTFS.tar [REF]`: a single-layer image from a root filesystem
//! tarball (plain, gzip or zstd), with a generated config.

use std::io::{self, BufRead, BufReader, Read};

use crate::change::ConfigChange;
use crate::content::{Ingester, Provider};
use crate::db::ImageRecord;
use crate::digest::{Digest, Hasher, HashingReader};
use crate::error::{Error, IoContext, Result};
use crate::manifest::{
    Compression, PlatformSpec, decompress, media_types as mt, oci_layer_type, sniff_compression,
};
use crate::reference::Reference;
use crate::store::{ImageStore, now};

/// Options of [`ImageStore::import`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The name to give the image (none: the image is only known by ID).
    pub reference: Option<Reference>,
    /// Config changes (`--change`), applied in order.
    pub changes: Vec<ConfigChange>,
    /// The history comment (`--message`).
    pub message: Option<String>,
    /// The platform written into the config.
    pub platform: PlatformSpec,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            reference: None,
            changes: Vec::new(),
            message: None,
            platform: PlatformSpec::host(),
        }
    }
}

impl ImageStore {
    /// Imports a root filesystem tarball as a one-layer image. The tarball
    /// is stored as it came (compressed or not) and checked to be a
    /// well-formed tar.
    pub fn import(&self, reader: impl Read, opts: &ImportOptions) -> Result<ImageRecord> {
        let imported = self.import_locked(reader, opts);
        if imported.is_err() {
            // The tarball stored before the failure is not kept.
            let _ = self.collect_garbage(false);
        }
        imported
    }

    fn import_locked(&self, reader: impl Read, opts: &ImportOptions) -> Result<ImageRecord> {
        let mut input = BufReader::with_capacity(1 << 20, reader);
        let compression = sniff_compression(input.fill_buf().ctx("read", "import input")?);
        let _lock = self.lock_shared()?;
        let mut writer = self.content().begin_unknown()?;
        io::copy(&mut input, &mut writer).ctx("read", "import input")?;
        let layer_size = writer.written();
        let layer = writer.commit()?;
        let diff_id = self.diff_id_of_tar(&layer, compression)?;

        let created = rfc3339_utc(now());
        let mut config = serde_json::Map::new();
        for change in &opts.changes {
            change.apply(&mut config);
        }
        let mut history = serde_json::json!({"created": created, "created_by": "brig import"});
        if let Some(m) = &opts.message {
            history["comment"] = serde_json::json!(m);
        }
        let mut image_config = serde_json::json!({
            "created": created,
            "architecture": opts.platform.architecture,
            "os": opts.platform.os,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
            "history": [history],
        });
        if let Some(v) = &opts.platform.variant {
            image_config["variant"] = serde_json::json!(v);
        }
        let config_bytes =
            serde_json::to_vec(&image_config).map_err(|e| Error::json("generated config", e))?;
        let config_digest = self.content().put_bytes(&config_bytes, None)?;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": mt::OCI_MANIFEST,
            "config": {"mediaType": mt::OCI_CONFIG, "digest": config_digest.to_string(), "size": config_bytes.len()},
            "layers": [{"mediaType": oci_layer_type(compression), "digest": layer.to_string(), "size": layer_size}],
        }))
        .map_err(|e| Error::json("generated manifest", e))?;
        let manifest_digest = self.content().put_bytes(&manifest, None)?;
        let desc = serde_json::from_value(serde_json::json!({
            "mediaType": mt::OCI_MANIFEST, "digest": manifest_digest.to_string(), "size": manifest.len(),
        }))
        .map_err(|e| Error::json("generated descriptor", e))?;
        let names: Vec<Reference> = opts.reference.iter().cloned().collect();
        self.commit_image(&desc, None, &names)
    }

    /// Reads a stored tar layer through, checking every header, and returns
    /// the digest of its uncompressed bytes.
    fn diff_id_of_tar(&self, blob: &Digest, compression: Compression) -> Result<Digest> {
        let file = self.content().open_blob(blob)?;
        let bad = |e: io::Error| Error::InvalidArchive {
            path: "import input".into(),
            problem: format!("not a well-formed tar archive: {e}"),
        };
        let plain = decompress(compression, file).map_err(bad)?;
        let mut archive = tar::Archive::new(HashingReader::new(plain, Hasher::sha256()));
        for entry in archive.entries().map_err(bad)? {
            entry.map_err(bad)?;
        }
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(bad)?;
        Ok(rest.finish().0)
    }
}

/// Formats Unix seconds as RFC 3339 UTC (`2024-01-02T03:04:05Z`).
pub fn rfc3339_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339_utc(1_704_164_645), "2024-01-02T03:04:05Z");
        assert_eq!(super::rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
    }
}
