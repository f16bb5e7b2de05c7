//! Helpers shared by the snapshot tests: layer tarballs built entry by
//! entry (including hostile ones), images in a temporary store.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use brig_image::digest::sha256_of;
use brig_image::manifest::media_types as mt;
use brig_image::{ImageRecord, ImageStore, Reference};

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// True (after a loud message) when the test must be skipped for lack of root.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("SKIPPED (needs root): {test}");
    true
}

/// Builds a layer tarball entry by entry.
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer {
    pub fn new() -> Self {
        Layer {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        h
    }

    pub fn file(mut self, path: &str, data: &[u8]) -> Self {
        self = self.file_with(path, data, 0o644, 0, 0);
        self
    }

    pub fn file_with(mut self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode);
        h.set_size(data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.b.append_data(&mut h, path, data).unwrap();
        self
    }

    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, mode);
        self.b.append_data(&mut h, path, std::io::empty()).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn device(mut self, path: &str, kind: tar::EntryType, major: u32, minor: u32) -> Self {
        let mut h = Self::header(kind, 0o620);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.b.append_data(&mut h, path, std::io::empty()).unwrap();
        self
    }

    /// A regular file with PAX extended attributes.
    pub fn file_with_xattrs(mut self, path: &str, data: &[u8], xattrs: &[(&str, &[u8])]) -> Self {
        let pax: Vec<(String, &[u8])> = xattrs
            .iter()
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
            .collect();
        self.b
            .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
            .unwrap();
        self.file(path, data)
    }

    /// An entry whose raw name is written verbatim (bypassing the tar
    /// crate's own checks), to model hostile layers.
    pub fn raw(mut self, name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Self {
        let mut h = Self::header(kind, 0o644);
        h.set_size(data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name = [0; 100];
        gnu.name[..name.len()].copy_from_slice(name);
        gnu.linkname = [0; 100];
        gnu.linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn build(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A store root with an image store in it.
pub struct Root {
    pub dir: tempfile::TempDir,
    pub images: ImageStore,
}

pub fn root() -> Root {
    let dir = tempfile::tempdir().unwrap();
    let images = ImageStore::open(dir.path(), &dir.path().join("brig.db")).unwrap();
    Root { dir, images }
}

/// Records an image with gzip'd `layers`; `diff_ids` default to the true ones.
pub fn image(
    images: &ImageStore,
    name: &str,
    layers: &[Vec<u8>],
    diff_ids: Option<Vec<String>>,
) -> ImageRecord {
    let c = images.content();
    let mut descs = Vec::new();
    for l in layers {
        let gz = gzip(l);
        let d = c.put_bytes(&gz, None).unwrap();
        descs.push(serde_json::json!({"mediaType": mt::OCI_LAYER_GZIP, "digest": d.to_string(), "size": gz.len()}));
    }
    let diff_ids =
        diff_ids.unwrap_or_else(|| layers.iter().map(|l| sha256_of(l).to_string()).collect());
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let cd = c.put_bytes(&config, None).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": mt::OCI_MANIFEST,
        "config": {"mediaType": mt::OCI_CONFIG, "digest": cd.to_string(), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let md = c.put_bytes(&manifest, None).unwrap();
    let desc = serde_json::from_value(serde_json::json!({"mediaType": mt::OCI_MANIFEST, "digest": md.to_string(), "size": manifest.len()})).unwrap();
    images
        .commit_image(&desc, None, &[Reference::parse(name).unwrap()])
        .unwrap()
}

/// Whether `path` is a whiteout (character device 0:0).
pub fn is_whiteout(path: &Path) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    match std::fs::symlink_metadata(path) {
        Ok(m) => m.file_type().is_char_device() && m.rdev() == 0,
        Err(_) => false,
    }
}

pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    rustix::fs::lgetxattr(path, name, &mut buf)
        .ok()
        .map(|n| buf[..n].to_vec())
}

#[allow(unused_imports)]
pub use brig_testkit::tools::{have_tool, run_tool as run};

/// The shared test registry (Debian's docker-registry on loopback).
#[allow(unused_imports)]
pub use brig_testkit::registry;
