//! Loading and saving images in files made by real tools (umoci, skopeo),
//! and refusing tampered ones.

mod common;

use std::path::Path;

use brig_image::manifest::media_types as mt;
use brig_image::{Error, LoadOptions, NoProgress, PlatformSpec, Reference, SaveFormat, SaveItem};
use common::*;

fn opts_with_repo(repo: &str) -> LoadOptions {
    LoadOptions {
        default_repository: Some(Reference::parse(repo).unwrap()),
        ..LoadOptions::default()
    }
}

/// The config digest skopeo reports for an image (= brig's image ID).
fn skopeo_config_digest(src: &str) -> String {
    let out = run("skopeo", &["inspect", "--raw", src]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["config"]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn loads_an_umoci_layout_directory() {
    if !have_tool("umoci", "loads_an_umoci_layout_directory") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let layout = umoci_layout(work.path());
    let t = temp_store();
    let loaded = t
        .store
        .load_path(&layout, &opts_with_repo("localhost/fixture"), &NoProgress)
        .unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].source_names, vec!["latest".to_owned()]);
    let img = t.store.resolve("localhost/fixture:latest").unwrap();
    assert_eq!(img.id, loaded[0].record.id);
    let config = t.store.config(&img).unwrap();
    assert_eq!(
        config.config().as_ref().unwrap().cmd().as_ref().unwrap(),
        &vec!["sh".to_owned()]
    );
    assert_eq!(t.store.layers(&img).unwrap().len(), 1);
    assert_eq!(
        img.id.to_string(),
        skopeo_config_digest(&format!("oci:{}:latest", layout.display()))
    );

    // Without a repository for tag-only names the image is loaded unnamed.
    let t2 = temp_store();
    let loaded = t2
        .store
        .load_path(&layout, &LoadOptions::default(), &NoProgress)
        .unwrap();
    assert!(loaded[0].record.names.is_empty());
}

#[test]
fn loads_skopeo_docker_archive_and_oci_archive() {
    if !have_tool("umoci", "loads_skopeo_docker_archive_and_oci_archive")
        || !have_tool("skopeo", "loads_skopeo_docker_archive_and_oci_archive")
    {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let layout = umoci_layout(work.path());
    let src = format!("oci:{}:latest", layout.display());
    let expected_id = skopeo_config_digest(&src);
    let da = work.path().join("da.tar");
    skopeo_copy(
        &src,
        &format!("docker-archive:{}:busybox:1.0", da.display()),
    );
    let oa = work.path().join("oa.tar");
    skopeo_copy(
        &src,
        &format!("oci-archive:{}:docker.io/library/busybox:2.0", oa.display()),
    );

    let t = temp_store();
    let loaded = t
        .store
        .load_path(&da, &LoadOptions::default(), &NoProgress)
        .unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(
        loaded[0].record.id.to_string(),
        expected_id,
        "image ID survives docker-archive"
    );
    assert_eq!(
        t.store.resolve("busybox:1.0").unwrap().id.to_string(),
        expected_id
    );
    let layers = t.store.layers(&loaded[0].record).unwrap();
    assert_eq!(
        layers[0].media_type,
        mt::OCI_LAYER,
        "skopeo writes uncompressed layers"
    );
    assert_eq!(layers[0].blob_digest, layers[0].diff_id);

    let loaded = t
        .store
        .load_path(&oa, &LoadOptions::default(), &NoProgress)
        .unwrap();
    assert_eq!(loaded[0].record.id.to_string(), expected_id);
    let img = t.store.resolve("busybox:2.0").unwrap();
    assert_eq!(
        img.names.len(),
        2,
        "both names point at the one image: {:?}",
        img.names
    );

    // The same archive compressed, read from a stream (as `load < file.gz`).
    let gz = gzip(&std::fs::read(&da).unwrap());
    let t2 = temp_store();
    let loaded = t2
        .store
        .load_reader(gz.as_slice(), &LoadOptions::default())
        .unwrap();
    assert_eq!(loaded[0].record.id.to_string(), expected_id);
    assert_eq!(
        t2.store.content().list_blobs().unwrap().len(),
        3,
        "manifest, config, layer; nothing else of the archive kept"
    );
}

#[test]
fn saved_archives_are_read_by_skopeo_and_by_brig() {
    if !have_tool("umoci", "saved_archives_are_read_by_skopeo_and_by_brig")
        || !have_tool("skopeo", "saved_archives_are_read_by_skopeo_and_by_brig")
    {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let layout = umoci_layout(work.path());
    let t = temp_store();
    t.store
        .load_path(&layout, &opts_with_repo("localhost/app"), &NoProgress)
        .unwrap();
    let img = t.store.resolve("localhost/app").unwrap();
    let items = [SaveItem {
        image: img.clone(),
        names: vec![Reference::parse("localhost/app:latest").unwrap()],
    }];

    let da = work.path().join("saved-docker.tar");
    t.store
        .save(&items, SaveFormat::DockerArchive, &da)
        .unwrap();
    let oa = work.path().join("saved-oci.tar");
    t.store.save(&items, SaveFormat::OciArchive, &oa).unwrap();
    let od = work.path().join("saved-oci-dir");
    t.store.save(&items, SaveFormat::OciDir, &od).unwrap();
    for src in [
        format!("docker-archive:{}", da.display()),
        format!("oci-archive:{}:localhost/app:latest", oa.display()),
        format!("oci:{}:localhost/app:latest", od.display()),
    ] {
        assert_eq!(skopeo_config_digest(&src), img.id.to_string(), "{src}");
        // skopeo can copy the whole image out again.
        let out = work.path().join(format!("copy-{}", src.len()));
        skopeo_copy(&src, &format!("oci:{}:x", out.display()));
    }

    for path in [&da, &oa, &od] {
        let fresh = temp_store();
        let loaded = fresh
            .store
            .load_path(path, &LoadOptions::default(), &NoProgress)
            .unwrap();
        assert_eq!(loaded[0].record.id, img.id, "{}", path.display());
        assert_eq!(
            fresh.store.resolve("localhost/app:latest").unwrap().id,
            img.id
        );
    }
}

#[test]
fn tampered_blobs_are_refused_from_every_format() {
    if !have_tool("umoci", "tampered_blobs_are_refused_from_every_format") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let layout = umoci_layout(work.path());
    // Corrupt the layer blob in the layout directory.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(manifest_digest)).unwrap()).unwrap();
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let mut data = std::fs::read(blob(&layer_digest)).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(blob(&layer_digest), &data).unwrap();

    let t = temp_store();
    let err = t
        .store
        .load_path(&layout, &LoadOptions::default(), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&layer_digest), "{err}");
    assert!(t.store.images().unwrap().is_empty());

    // The same layout as an OCI archive.
    let tar_path = work.path().join("bad.tar");
    tar_dir(&layout, &tar_path);
    let err = t
        .store
        .load_path(&tar_path, &LoadOptions::default(), &NoProgress)
        .unwrap_err();
    assert!(err.to_string().contains(&layer_digest), "{err}");
    assert!(t.store.images().unwrap().is_empty());
}

#[test]
fn docker_archive_with_wrong_config_name_or_escaping_paths_is_refused() {
    let t = temp_store();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let wrong_name = format!("{}.json", "a".repeat(64));
    let manifest = serde_json::to_vec(
        &serde_json::json!([{"Config": wrong_name, "RepoTags": ["x:1"], "Layers": []}]),
    )
    .unwrap();
    let archive = tar_of(&[
        (wrong_name.as_str(), config.as_slice()),
        ("manifest.json", &manifest),
    ]);
    let err = t
        .store
        .load_reader(archive.as_slice(), &LoadOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");

    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_gnu_mut().unwrap().name[..10].copy_from_slice(b"../evil.js");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let archive = b.into_inner().unwrap();
    let err = t
        .store
        .load_reader(archive.as_slice(), &LoadOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("'..'"), "{err}");
}

/// Builds an OCI layout by hand with an index of two platforms.
fn multi_platform_layout(dir: &Path) -> (String, String) {
    let t = temp_store();
    let amd = put_image(t.store.content(), &[tar_of(&[("arch", b"amd64")])], "amd64");
    let arm = put_image(t.store.content(), &[tar_of(&[("arch", b"arm64")])], "arm64");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": mt::OCI_INDEX,
        "manifests": [
            {"mediaType": mt::OCI_MANIFEST, "digest": arm.digest().to_string(), "size": arm.size(), "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": mt::OCI_MANIFEST, "digest": amd.digest().to_string(), "size": amd.size(), "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    }))
    .unwrap();
    let index_digest = t.store.content().put_bytes(&index, None).unwrap();
    copy_dir(&t.dir.path().join("blobs"), &dir.join("blobs"));
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": mt::OCI_INDEX, "digest": index_digest.to_string(), "size": index.len(),
        "annotations": {"org.opencontainers.image.ref.name": "localhost/multi:1"},
    }]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    (amd.digest().to_string(), arm.digest().to_string())
}

#[test]
fn index_loads_choose_the_platform() {
    let work = tempfile::tempdir().unwrap();
    let (amd, arm) = multi_platform_layout(work.path());
    let t = temp_store();
    let img = &t
        .store
        .load_path(work.path(), &LoadOptions::default(), &NoProgress)
        .unwrap()[0]
        .record;
    assert_eq!(img.manifest_digest.to_string(), amd);
    assert!(img.index_digest.is_some());

    let t = temp_store();
    let opts = LoadOptions {
        platform: PlatformSpec::parse("linux/arm64").unwrap(),
        ..LoadOptions::default()
    };
    let img = &t.store.load_path(work.path(), &opts, &NoProgress).unwrap()[0].record;
    assert_eq!(img.manifest_digest.to_string(), arm);
    assert_eq!(
        t.store.content().list_blobs().unwrap().len(),
        4,
        "index, manifest, config, layer of arm64 only"
    );

    let opts = LoadOptions {
        platform: PlatformSpec::parse("linux/s390x").unwrap(),
        ..LoadOptions::default()
    };
    let err = temp_store()
        .store
        .load_path(work.path(), &opts, &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::NoMatchingPlatform { .. }), "{err}");
}

#[test]
fn zstd_and_foreign_layers() {
    let work = tempfile::tempdir().unwrap();
    let src = temp_store();
    let layer = tar_of(&[("z", b"zstd content")]);
    let zst = zstd::encode_all(layer.as_slice(), 3).unwrap();
    let zst_digest = src.store.content().put_bytes(&zst, None).unwrap();
    let foreign = brig_image::digest::sha256_of(b"not present");
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [brig_image::digest::sha256_of(&layer).to_string()]},
    }))
    .unwrap();
    let config_digest = src.store.content().put_bytes(&config, None).unwrap();
    let manifest_for = |layer: serde_json::Value| {
        let m = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": mt::OCI_MANIFEST,
            "config": {"mediaType": mt::OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
            "layers": [layer],
        }))
        .unwrap();
        let d = src.store.content().put_bytes(&m, None).unwrap();
        serde_json::json!({"mediaType": mt::OCI_MANIFEST, "digest": d.to_string(), "size": m.len()})
    };
    let good = manifest_for(
        serde_json::json!({"mediaType": mt::OCI_LAYER_ZSTD, "digest": zst_digest.to_string(), "size": zst.len()}),
    );
    let bad = manifest_for(serde_json::json!({
        "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "digest": foreign.to_string(), "size": 10, "urls": ["https://example.invalid/layer"]}));
    copy_dir(&src.dir.path().join("blobs"), &work.path().join("blobs"));
    std::fs::write(
        work.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let write_index = |m: &serde_json::Value| {
        std::fs::write(
            work.path().join("index.json"),
            serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [m]})).unwrap(),
        )
        .unwrap()
    };

    write_index(&good);
    let t = temp_store();
    let img = &t
        .store
        .load_path(work.path(), &LoadOptions::default(), &NoProgress)
        .unwrap()[0]
        .record;
    assert_eq!(
        t.store.layers(img).unwrap()[0].media_type,
        mt::OCI_LAYER_ZSTD
    );

    write_index(&bad);
    let err = t
        .store
        .load_path(work.path(), &LoadOptions::default(), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::ForeignLayerMissing { .. }), "{err}");
    assert!(
        err.to_string().contains("https://example.invalid/layer"),
        "{err}"
    );
}

#[test]
fn import_builds_a_one_layer_image_with_changes() {
    let work = tempfile::tempdir().unwrap();
    busybox_rootfs(&work.path().join("rootfs"));
    let rootfs_tar = tar_dir_bytes(&work.path().join("rootfs"));
    let t = temp_store();
    let opts = brig_image::ImportOptions {
        reference: Some(Reference::parse("imported:v1").unwrap()),
        changes: vec![
            "CMD [\"/bin/sh\"]".parse().unwrap(),
            "ENV A=1".parse().unwrap(),
        ],
        message: Some("from a tarball".to_owned()),
        ..Default::default()
    };
    let img = t.store.import(gzip(&rootfs_tar).as_slice(), &opts).unwrap();
    assert_eq!(img.names, vec!["docker.io/library/imported:v1".to_owned()]);
    let layers = t.store.layers(&img).unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].media_type, mt::OCI_LAYER_GZIP);
    assert_eq!(
        layers[0].diff_id,
        brig_image::digest::sha256_of(&rootfs_tar)
    );
    let config: serde_json::Value =
        serde_json::from_slice(&t.store.config_bytes(&img).unwrap()).unwrap();
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(config["config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(config["history"][0]["comment"], "from a tarball");
    assert_eq!(config["architecture"], "amd64");

    let err = t
        .store
        .import(
            &b"this is not a tar archive, not at all, no"[..],
            &Default::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("tar"), "{err}");
}

fn tar_dir_bytes(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

fn tar_dir(dir: &Path, out: &Path) {
    std::fs::write(out, tar_dir_bytes(dir)).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
