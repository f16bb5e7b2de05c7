//! A one-layer OCI image built locally from a root filesystem: an image
//! layout directory (for `skopeo copy oci:...`) and its tar archive (for
//! `ctr images import`). No registry is involved.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CREATED: &str = "2024-01-01T00:00:00Z";

/// An OCI image layout on disk.
#[derive(Debug, Clone)]
pub struct OciImage {
    /// The layout directory (`oci-layout`, `index.json`, `blobs/`).
    pub layout: PathBuf,
    /// The reference the index names it by (`org.opencontainers.image.ref.name`).
    pub name: String,
}

/// Writes `rootfs` as an uncompressed tar at `dest` (`podman import` input
/// and the image's layer): symlinks kept, owners root, times fixed.
pub fn rootfs_tar(rootfs: &Path, dest: &Path) -> io::Result<()> {
    let mut builder = tar::Builder::new(File::create(dest)?);
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.append_dir_all(".", rootfs)?;
    builder.into_inner()?.sync_all()
}

impl OciImage {
    /// Builds the layout in `dir` from `rootfs`, named `name`
    /// (e.g. `localhost/brig-busybox:test`).
    pub fn build(dir: &Path, rootfs: &Path, name: &str) -> io::Result<OciImage> {
        let layout = dir.to_owned();
        fs::create_dir_all(layout.join("blobs/sha256"))?;
        let layer_path = layout.join("layer.tar.tmp");
        rootfs_tar(rootfs, &layer_path)?;
        let layer = fs::read(&layer_path)?;
        fs::remove_file(&layer_path)?;
        let layer_digest = write_blob(&layout, &layer)?;
        let config = image_config(&layer_digest);
        let config_desc = descriptor(CONFIG_TYPE, &layout, &to_bytes(&config))?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": config_desc,
            "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest, "size": layer.len()}],
        });
        let mut manifest_desc = descriptor(MANIFEST_TYPE, &layout, &to_bytes(&manifest))?;
        manifest_desc["platform"] = json!({"architecture": oci_arch(), "os": "linux"});
        manifest_desc["annotations"] = json!({"org.opencontainers.image.ref.name": name});
        let index = json!({
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [manifest_desc],
        });
        fs::write(layout.join("index.json"), to_bytes(&index))?;
        fs::write(
            layout.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(OciImage {
            layout,
            name: name.to_owned(),
        })
    }

    /// Writes the layout as an OCI archive (a tar of the layout) at `dest`.
    pub fn archive(&self, dest: &Path) -> io::Result<()> {
        let mut builder = tar::Builder::new(File::create(dest)?);
        builder.mode(tar::HeaderMode::Deterministic);
        builder.append_path_with_name(self.layout.join("oci-layout"), "oci-layout")?;
        builder.append_path_with_name(self.layout.join("index.json"), "index.json")?;
        builder.append_dir_all("blobs", self.layout.join("blobs"))?;
        builder.into_inner()?.sync_all()
    }

    /// `oci:<layout>:<name>`, skopeo's name for it.
    pub fn skopeo_source(&self) -> String {
        format!("oci:{}:{}", self.layout.display(), self.name)
    }
}

fn image_config(layer_digest: &str) -> Value {
    json!({
        "created": CREATED,
        "architecture": oci_arch(),
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": CREATED, "created_by": "brig-clients: busybox rootfs"}],
    })
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Stores `data` under `blobs/sha256/` and returns its digest.
fn write_blob(layout: &Path, data: &[u8]) -> io::Result<String> {
    let hex = hex::encode(Sha256::digest(data));
    fs::write(layout.join("blobs/sha256").join(&hex), data)?;
    Ok(format!("sha256:{hex}"))
}

fn descriptor(media_type: &str, layout: &Path, data: &[u8]) -> io::Result<Value> {
    let digest = write_blob(layout, data)?;
    Ok(json!({"mediaType": media_type, "digest": digest, "size": data.len()}))
}

/// The OCI name of this machine's architecture.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_content_addressed_and_named() {
        let dir = brig_testkit::TestDir::new("oci-layout");
        let rootfs = dir.join("rootfs");
        fs::create_dir_all(rootfs.join("bin")).unwrap();
        fs::write(rootfs.join("bin/hello"), "hi").unwrap();
        std::os::unix::fs::symlink("hello", rootfs.join("bin/hi")).unwrap();
        let image = OciImage::build(&dir.join("layout"), &rootfs, "localhost/x:1").unwrap();
        let index: Value =
            serde_json::from_slice(&fs::read(image.layout.join("index.json")).unwrap()).unwrap();
        let desc = &index["manifests"][0];
        assert_eq!(
            desc["annotations"]["org.opencontainers.image.ref.name"],
            "localhost/x:1"
        );
        // Every blob's name is the digest of its content.
        for blob in fs::read_dir(image.layout.join("blobs/sha256")).unwrap() {
            let blob = blob.unwrap();
            let data = fs::read(blob.path()).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&data)),
                blob.file_name().to_string_lossy()
            );
        }
        let archive = dir.join("image.tar");
        image.archive(&archive).unwrap();
        let mut names: Vec<String> = tar::Archive::new(File::open(&archive).unwrap())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert!(names.contains(&"index.json".to_owned()), "{names:?}");
        assert!(names.contains(&"oci-layout".to_owned()), "{names:?}");
        assert_eq!(
            names
                .iter()
                .filter(|n| n.starts_with("blobs/sha256/"))
                .count(),
            3,
            "{names:?}"
        );
    }
}
