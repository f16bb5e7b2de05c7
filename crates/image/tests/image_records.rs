//! Image records: resolution by name, digest and ID, tagging, removal,
//! prune and blob garbage collection, and concurrent writers.

mod common;

use std::collections::HashSet;

use brig_image::{Error, ImageStore, Provider, Reference};
use common::*;

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

#[test]
fn images_resolve_by_name_short_id_and_digest() {
    let t = temp_store();
    let m = put_image(t.store.content(), &[tar_of(&[("a", b"1")])], "x");
    let img = t
        .store
        .commit_image(
            &m,
            None,
            &[r("busybox"), r("busybox").with_digest(m.digest())],
        )
        .unwrap();
    assert_eq!(
        img.names,
        vec![
            "docker.io/library/busybox:latest".to_owned(),
            format!("docker.io/library/busybox@{}", m.digest()),
        ]
    );
    assert_eq!(img.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    assert_eq!(t.store.resolve("busybox").unwrap().id, img.id);
    assert_eq!(
        t.store
            .resolve("docker.io/library/busybox:latest")
            .unwrap()
            .id,
        img.id
    );
    assert_eq!(t.store.resolve(&img.id.digest()[..12]).unwrap().id, img.id);
    assert_eq!(t.store.resolve(img.id.as_ref()).unwrap().id, img.id);
    assert_eq!(
        t.store
            .resolve(&format!("busybox@{}", m.digest()))
            .unwrap()
            .id,
        img.id
    );
    assert!(matches!(
        t.store.resolve("busybox:1"),
        Err(Error::ImageNotFound { .. })
    ));
    assert!(matches!(
        t.store.resolve(&format!("other@{}", m.digest())),
        Err(Error::ImageNotFound { .. })
    ));

    let layers = t.store.layers(&img).unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].chain_id, layers[0].diff_id);
    assert_eq!(t.store.history(&img).unwrap().len(), 1);
    assert_eq!(
        t.store
            .config(&img)
            .unwrap()
            .config()
            .as_ref()
            .unwrap()
            .cmd()
            .as_ref()
            .unwrap(),
        &vec!["sh".to_owned()]
    );
}

#[test]
fn commit_refuses_missing_blobs_and_inconsistent_configs() {
    let t = temp_store();
    let m = put_image(t.store.content(), &[tar_of(&[("a", b"1")])], "x");
    let bytes = t.store.content().read_blob(m.digest(), 1 << 20).unwrap();
    let manifest: oci_spec::image::ImageManifest = serde_json::from_slice(&bytes).unwrap();
    let layer = manifest.layers()[0].digest().clone();
    t.store.content().delete_blob(&layer).unwrap();
    let err = t.store.commit_image(&m, None, &[r("x")]).unwrap_err();
    assert!(err.to_string().contains(layer.as_ref()), "{err}");
}

#[test]
fn rmi_untags_first_then_deletes_and_frees_only_unshared_blobs() {
    let t = temp_store();
    let shared = tar_of(&[("base", b"shared base layer")]);
    let m1 = put_image(
        t.store.content(),
        &[shared.clone(), tar_of(&[("one", b"1")])],
        "1",
    );
    let m2 = put_image(t.store.content(), &[shared, tar_of(&[("two", b"2")])], "2");
    let i1 = t
        .store
        .commit_image(&m1, None, &[r("one:a"), r("one:b")])
        .unwrap();
    let i2 = t.store.commit_image(&m2, None, &[r("two")]).unwrap();
    let before = t.store.content().list_blobs().unwrap().len();
    assert_eq!(before, 7, "shared base layer stored once");

    let rep = t.store.remove("one:a", false, |_| vec![]).unwrap();
    assert_eq!(rep.untagged, vec!["docker.io/library/one:a".to_owned()]);
    assert!(rep.deleted.is_empty());

    let rep = t
        .store
        .remove("one:b", false, |_| vec!["web".to_owned()])
        .unwrap_err();
    assert!(matches!(rep, Error::ImageInUse { .. }) && rep.to_string().contains("web"));

    let rep = t.store.remove("one:b", false, |_| vec![]).unwrap();
    assert_eq!(rep.deleted, vec![i1.id.clone()]);
    assert_eq!(
        rep.gc.blobs_removed, 3,
        "manifest, config and own layer; the base stays"
    );
    assert!(t.store.content().list_blobs().unwrap().len() == 4);
    let img2 = t.store.resolve("two").unwrap();
    for l in t.store.layers(&img2).unwrap() {
        assert!(
            t.store
                .content()
                .blob_size(&l.blob_digest)
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(img2.id, i2.id);
}

#[test]
fn rmi_by_id_of_multi_named_image_needs_force() {
    let t = temp_store();
    let m = put_image(t.store.content(), &[tar_of(&[("a", b"1")])], "x");
    let img = t
        .store
        .commit_image(&m, None, &[r("a:1"), r("b:1")])
        .unwrap();
    let err = t
        .store
        .remove(&img.id.digest()[..10], false, |_| vec![])
        .unwrap_err();
    assert!(matches!(err, Error::ImageHasNames { .. }), "{err}");
    let rep = t
        .store
        .remove(&img.id.digest()[..10], true, |_| vec![])
        .unwrap();
    assert_eq!(rep.untagged.len(), 2);
    assert_eq!(rep.deleted, vec![img.id]);
    assert!(t.store.content().list_blobs().unwrap().is_empty());
}

#[test]
fn forced_rmi_of_image_in_use_only_untags() {
    let t = temp_store();
    let m = put_image(t.store.content(), &[tar_of(&[("a", b"1")])], "x");
    let img = t.store.commit_image(&m, None, &[r("a")]).unwrap();
    let rep = t
        .store
        .remove("a", true, |_| vec!["c1".to_owned()])
        .unwrap();
    assert_eq!(rep.untagged, vec!["docker.io/library/a:latest".to_owned()]);
    assert!(rep.deleted.is_empty());
    assert!(t.store.resolve(img.id.as_ref()).unwrap().names.is_empty());
}

#[test]
fn retagging_leaves_a_dangling_image_that_prune_removes() {
    let t = temp_store();
    let old = put_image(t.store.content(), &[tar_of(&[("v", b"1")])], "old");
    let new = put_image(t.store.content(), &[tar_of(&[("v", b"2")])], "new");
    let old_img = t.store.commit_image(&old, None, &[r("app")]).unwrap();
    let new_img = t.store.commit_image(&new, None, &[r("app")]).unwrap();
    assert!(
        t.store
            .resolve(old_img.id.as_ref())
            .unwrap()
            .names
            .is_empty()
    );
    assert_eq!(t.store.resolve("app").unwrap().id, new_img.id);

    let rep = t.store.prune(false, &HashSet::new()).unwrap();
    assert_eq!(rep.deleted, vec![old_img.id.clone()]);
    assert_eq!(rep.gc.blobs_removed, 3);
    assert!(t.store.resolve("app").is_ok());

    let in_use: HashSet<_> = [new_img.id.clone()].into();
    assert!(t.store.prune(true, &in_use).unwrap().deleted.is_empty());
    let rep = t.store.prune(true, &HashSet::new()).unwrap();
    assert_eq!(rep.deleted, vec![new_img.id]);
    assert!(t.store.content().list_blobs().unwrap().is_empty());
}

#[test]
fn gc_removes_blobs_no_image_holds() {
    let t = temp_store();
    let m = put_image(t.store.content(), &[tar_of(&[("a", b"1")])], "x");
    t.store.commit_image(&m, None, &[r("kept")]).unwrap();
    let stray = t.store.content().put_bytes(b"stray blob", None).unwrap();
    let rep = t.store.gc().unwrap();
    assert_eq!(rep.blobs_removed, 1);
    assert!(t.store.content().blob_size(&stray).unwrap().is_none());
    assert_eq!(t.store.content().list_blobs().unwrap().len(), 3);
}

#[test]
fn concurrent_stores_on_one_database_do_not_lose_writes() {
    let t = temp_store();
    let m = put_image(t.store.content(), &[tar_of(&[("a", b"1")])], "x");
    let img = t.store.commit_image(&m, None, &[r("base")]).unwrap();
    let root = t.dir.path().to_owned();
    std::thread::scope(|s| {
        for worker in 0..4 {
            let root = root.clone();
            let id = img.id.clone();
            s.spawn(move || {
                // A separate store = a separate connection, as another process has.
                let store = ImageStore::open(&root, &root.join("brig.db")).unwrap();
                for i in 0..25 {
                    store
                        .tag(id.as_ref(), &r(&format!("w{worker}:t{i}")))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(t.store.resolve("base").unwrap().names.len(), 101);
}

/// The same, with real processes: the test binary re-runs itself as workers.
#[test]
fn concurrent_processes_on_one_database_do_not_lose_writes() {
    if let Ok(spec) = std::env::var("BRIG_IMAGE_TEST_WORKER") {
        let (root, id, worker) = {
            let mut p = spec.splitn(3, '|');
            (
                p.next().unwrap().to_owned(),
                p.next().unwrap().to_owned(),
                p.next().unwrap().to_owned(),
            )
        };
        let root = std::path::Path::new(&root);
        let store = ImageStore::open(root, &root.join("brig.db")).unwrap();
        for i in 0..25 {
            store.tag(&id, &r(&format!("p{worker}:t{i}"))).unwrap();
        }
        return;
    }
    let t = temp_store();
    let m = put_image(t.store.content(), &[tar_of(&[("a", b"1")])], "x");
    let img = t.store.commit_image(&m, None, &[r("base")]).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|w| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "concurrent_processes_on_one_database_do_not_lose_writes",
                    "--quiet",
                ])
                .env(
                    "BRIG_IMAGE_TEST_WORKER",
                    format!("{}|{}|{w}", t.dir.path().display(), img.id),
                )
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a worker process failed");
    }
    assert_eq!(t.store.resolve("base").unwrap().names.len(), 101);
}
