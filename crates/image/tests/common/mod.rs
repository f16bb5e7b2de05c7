//! Helpers shared by the integration tests: small images built in memory.
#![allow(dead_code)]

use std::io::Write;

use brig_image::digest::sha256_of;
use brig_image::manifest::media_types as mt;
use brig_image::{ContentStore, Digest, ImageStore};
use oci_spec::image::Descriptor;

/// A temporary store root with its database.
pub struct TempStore {
    pub dir: tempfile::TempDir,
    pub store: ImageStore,
}

pub fn temp_store() -> TempStore {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path(), &dir.path().join("brig.db")).unwrap();
    TempStore { dir, store }
}

/// An uncompressed tar with regular files `(path, content)`.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes an image with the given uncompressed layers (stored gzip'd) and
/// returns its manifest descriptor.
pub fn put_image(content: &ContentStore, layers: &[Vec<u8>], label: &str) -> Descriptor {
    let mut diff_ids = Vec::new();
    let mut layer_descs = Vec::new();
    for l in layers {
        diff_ids.push(sha256_of(l).to_string());
        let gz = gzip(l);
        let d = content.put_bytes(&gz, None).unwrap();
        layer_descs.push(serde_json::json!({"mediaType": mt::OCI_LAYER_GZIP, "digest": d.to_string(), "size": gz.len()}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"test": label}, "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "test"}],
    }))
    .unwrap();
    let config_digest = content.put_bytes(&config, None).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": mt::OCI_MANIFEST,
        "config": {"mediaType": mt::OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": layer_descs,
    }))
    .unwrap();
    let md = content.put_bytes(&manifest, None).unwrap();
    descriptor(mt::OCI_MANIFEST, &md, manifest.len() as u64)
}

pub fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    serde_json::from_value(
        serde_json::json!({"mediaType": media_type, "digest": digest.to_string(), "size": size}),
    )
    .unwrap()
}

/// Bytes allocated by regular files under `dir` (hard links counted once).
pub fn disk_usage(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert(m.ino()) {
                total += m.blocks() * 512;
            }
        }
    }
    total
}

#[allow(unused_imports)]
pub use brig_testkit::tools::{have_tool, run_tool as run};

/// A busybox root filesystem (from Debian's busybox-static) in `dir`.
pub fn busybox_rootfs(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    for applet in ["sh", "ls", "cat", "echo"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    std::fs::write(dir.join("etc/hostname"), "fixture\n").unwrap();
}

/// An OCI layout made by umoci at `<work>/oci` with tag `latest`: the
/// busybox rootfs as one layer and `Cmd ["sh"]`.
pub fn umoci_layout(work: &std::path::Path) -> std::path::PathBuf {
    let rootfs = work.join("rootfs");
    busybox_rootfs(&rootfs);
    let layout = work.join("oci");
    let l = layout.to_str().unwrap();
    run("umoci", &["init", "--layout", l]);
    run("umoci", &["new", "--image", &format!("{l}:latest")]);
    run(
        "umoci",
        &[
            "insert",
            "--image",
            &format!("{l}:latest"),
            rootfs.to_str().unwrap(),
            "/",
        ],
    );
    run(
        "umoci",
        &[
            "config",
            "--image",
            &format!("{l}:latest"),
            "--config.cmd",
            "sh",
        ],
    );
    layout
}

/// `skopeo copy SRC DST` (no signatures, no policy file needed).
pub fn skopeo_copy(src: &str, dst: &str) {
    run("skopeo", &["--insecure-policy", "copy", "-q", src, dst]);
}
