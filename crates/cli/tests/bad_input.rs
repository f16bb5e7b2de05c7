//! Bad input: unknown images, malformed references, missing files, wrong
//! digests, broken archives, bad flags. Each gives a message naming what is
//! wrong, exit status 125, and leaves nothing behind in the store (and
//! when the command line itself is wrong, not even the store directory).

mod common;

use std::path::Path;

use brig_testkit::registry::{Kind, Registry};
use common::{Brig, have_image_tools, tool, umoci_image};
use serde_json::Value;

#[test]
fn unknown_images_are_named_in_the_error() {
    let brig = Brig::new();
    let out = brig.path("out.tar");
    let out = out.to_str().unwrap();
    for args in [
        vec!["rmi", "nope:1"],
        vec!["image", "rm", "-f", "nope:1"],
        vec!["image", "inspect", "nope:1"],
        vec!["history", "nope:1"],
        vec!["tag", "nope:1", "other:2"],
        vec!["save", "-o", out, "nope:1"],
        vec!["push", "--tls-verify=false", "nope:1", "127.0.0.1:9/x:1"],
        vec![
            "images",
            "--format",
            "json",
            "no/such:thing",
            "--bogus-flag",
        ],
    ] {
        let expected: &[&str] = if args.contains(&"--bogus-flag") {
            &["--bogus-flag"]
        } else {
            &["no such image: nope:1"]
        };
        brig.fails(&args, expected);
    }
    assert!(!Path::new(out).exists(), "save wrote nothing");
    brig.assert_empty("unknown images");
}

#[test]
fn malformed_references_and_flags_fail_before_anything_is_created() {
    let brig = Brig::new();
    brig.fails(
        &["pull", "Bad//Ref::"],
        &["invalid image reference", "Bad//Ref::"],
    );
    brig.fails(&["pull", "busybox@sha256:abc"], &["busybox@sha256:abc"]);
    brig.fails(
        &["pull", "--platform", "linux", "busybox:1"],
        &["invalid platform", "linux/amd64"],
    );
    brig.fails(
        &[
            "pull",
            "--cert-dir",
            "/nonexistent-certs",
            "127.0.0.1:9/x:1",
        ],
        &["--cert-dir /nonexistent-certs"],
    );
    brig.fails(&["images", "--format", "{{.Repository"], &["--format"]);
    brig.fails(&["images", "--filter", "label=x"], &["dangling=true|false"]);
    brig.fails(&["frobnicate"], &["frobnicate"]);
    brig.fails(&["save", "--format", "zip", "-o", "x", "busybox"], &["zip"]);
    let tarball = brig.path("rootfs.tar");
    std::fs::write(&tarball, b"").unwrap();
    let t = tarball.to_str().unwrap();
    brig.fails(&["import", t, "UPPER/Case:1"], &["invalid image reference"]);
    brig.fails(
        &["import", "--change", "FROB x", t, "ok:1"],
        &["invalid change", "FROB x"],
    );
    assert!(!brig.root().exists(), "nothing created under --root");
}

#[test]
fn missing_and_broken_files_are_refused_and_leave_nothing() {
    let brig = Brig::new();
    brig.fails(
        &["load", "-i", "/nonexistent/image.tar"],
        &["/nonexistent/image.tar"],
    );
    brig.fails(
        &["import", "/nonexistent/rootfs.tar", "x:1"],
        &["/nonexistent/rootfs.tar"],
    );
    assert!(!brig.root().exists(), "nothing created under --root");

    let text = brig.path("notes.txt");
    std::fs::write(&text, "this is not an archive\n".repeat(100)).unwrap();
    let r = brig.fails(&["load", "-i", text.to_str().unwrap()], &["notes.txt"]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    brig.fails(&["import", text.to_str().unwrap(), "x:1"], &["tar"]);
    brig.assert_empty("loading a text file");
}

#[test]
fn truncated_archives_are_refused_and_leave_nothing() {
    let test = "truncated_archives_are_refused_and_leave_nothing";
    if !have_image_tools(test) {
        return;
    }
    let brig = Brig::new();
    let layout = brig.path("layout");
    umoci_image(brig.dir.path(), &layout, "1", &["some content"]);
    let archive = brig.path("app.tar");
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("oci:{}:1", layout.display()),
            &format!("docker-archive:{}:app:1", archive.display()),
        ],
    );
    let bytes = std::fs::read(&archive).unwrap();
    let cut = brig.path("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    brig.fails(&["load", "-i", cut.to_str().unwrap()], &["cut.tar"]);
    let r = brig.run_with_stdin(&["load"], &bytes[..bytes.len() / 2]);
    assert_eq!(r.code, common::ENGINE_ERROR, "{}", r.stderr);
    brig.assert_empty("truncated archives");
}

/// The layout's image: (manifest path, manifest, config path, config).
fn image_files(layout: &Path) -> (std::path::PathBuf, Value, std::path::PathBuf, Value) {
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let mpath = blob(index["manifests"][0]["digest"].as_str().unwrap());
    let manifest: Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    let cpath = blob(manifest["config"]["digest"].as_str().unwrap());
    let config: Value = serde_json::from_slice(&std::fs::read(&cpath).unwrap()).unwrap();
    (mpath, manifest, cpath, config)
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_named_and_nothing_is_kept() {
    let test = "a_blob_that_does_not_match_its_digest_is_named_and_nothing_is_kept";
    if !have_image_tools(test) {
        return;
    }
    let brig = Brig::new();
    let layout = brig.path("layout");
    umoci_image(brig.dir.path(), &layout, "1", &["base", "top"]);
    let (_, manifest, _, _) = image_files(&layout);
    let layer = manifest["layers"][1]["digest"].as_str().unwrap().to_owned();
    let path = layout
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    brig.fails(
        &["load", "-i", layout.to_str().unwrap()],
        &[&layer, "does not match"],
    );
    brig.assert_empty("a corrupted layer blob");
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_is_not_kept_half_ready() {
    let test = "a_layer_that_does_not_match_its_diff_id_is_not_kept_half_ready";
    if !have_image_tools(test) {
        return;
    }
    let brig = Brig::new();
    let layout = brig.path("layout");
    umoci_image(brig.dir.path(), &layout, "1", &["base", "top"]);
    // Blobs all match their digests, but the config lies about the top
    // layer's content: only unpacking finds out.
    let (mpath, mut manifest, cpath, mut config) = image_files(&layout);
    let wrong = format!("sha256:{}", "0".repeat(64));
    config["rootfs"]["diff_ids"][1] = Value::String(wrong.clone());
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_digest = sha256_file(&config_bytes, &layout);
    manifest["config"]["digest"] = Value::String(format!("sha256:{config_digest}"));
    manifest["config"]["size"] = config_bytes.len().into();
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = sha256_file(&manifest_bytes, &layout);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{manifest_digest}"), "size": manifest_bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": "example.com/lying:1"}}]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::remove_file(mpath).unwrap();
    std::fs::remove_file(cpath).unwrap();

    brig.fails(&["load", "-i", layout.to_str().unwrap()], &[&wrong]);
    brig.assert_empty("a layer whose content does not match its diff ID");
}

/// Stores `bytes` as a blob of the layout and returns its hex digest.
fn sha256_file(bytes: &[u8], layout: &Path) -> String {
    let tmp = layout.join("tmp-blob");
    std::fs::write(&tmp, bytes).unwrap();
    let out = tool("sha256sum", &[tmp.to_str().unwrap()]);
    let hex = out.split_whitespace().next().unwrap().to_owned();
    std::fs::rename(&tmp, layout.join("blobs/sha256").join(&hex)).unwrap();
    hex
}

#[test]
fn pulling_a_missing_tag_or_digest_fails_cleanly() {
    let test = "pulling_a_missing_tag_or_digest_fails_cleanly";
    let Some(registry) = Registry::start(Kind::Plain, test) else {
        return;
    };
    let brig = Brig::new();
    let missing = format!("{}/team/none:1", registry.addr);
    brig.fails(&["pull", "--tls-verify=false", &missing], &["team/none"]);
    let digest = format!("{}/team/none@sha256:{}", registry.addr, "1".repeat(64));
    brig.fails(&["pull", "--tls-verify=false", &digest], &["team/none"]);
    brig.assert_empty("pulling what the registry does not have");
}
