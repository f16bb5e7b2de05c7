//! Layers are unpacked once per chain ID, verified, complete or absent.

mod common;

use std::collections::HashSet;
use std::fs;

use brig_image::Provider;
use brig_image::digest::sha256_of;
use brig_snapshot::{ApplyOptions, Error, LayerStore, Unpacked};
use common::*;

fn leftovers(root: &std::path::Path) -> usize {
    fs::read_dir(root.join("layers/.tmp")).unwrap().count()
}

#[test]
fn an_image_is_unpacked_once_and_shared_by_chain_id() {
    let r = root();
    let base = Layer::new().file("etc/os", b"base").build();
    let a = image(
        &r.images,
        "a",
        &[base.clone(), Layer::new().file("a", b"a").build()],
        None,
    );
    let b = image(
        &r.images,
        "b",
        &[base, Layer::new().file("b", b"b").build()],
        None,
    );
    let store = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    let chains_a = store.unpack_image(&r.images, &a).unwrap();
    let chains_b = store.unpack_image(&r.images, &b).unwrap();
    assert_eq!(chains_a[0], chains_b[0], "same base, same chain ID");
    assert_eq!(store.list().unwrap().len(), 3);
    assert_eq!(
        fs::read(store.path(&chains_a[0]).join("etc/os")).unwrap(),
        b"base"
    );
    assert_eq!(fs::read(store.path(&chains_b[1]).join("b")).unwrap(), b"b");
    let layer = &r.images.layers(&a).unwrap()[0];
    let open = || {
        r.images
            .content()
            .open_blob(&layer.blob_digest)
            .map_err(Error::from)
    };
    let again = store
        .unpack(
            &layer.chain_id,
            &layer.diff_id,
            &open,
            brig_image::Compression::Gzip,
        )
        .unwrap();
    assert_eq!(again, Unpacked::AlreadyPresent);
}

#[test]
fn a_layer_not_matching_its_diff_id_leaves_nothing() {
    let r = root();
    let layer = Layer::new().file("a", b"a").build();
    let wrong = sha256_of(b"something else").to_string();
    let img = image(&r.images, "bad", &[layer], Some(vec![wrong.clone()]));
    let store = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    let err = store.unpack_image(&r.images, &img).unwrap_err();
    assert!(matches!(err, Error::DiffIdMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&wrong), "{err}");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(leftovers(r.dir.path()), 0);
}

#[test]
fn a_truncated_blob_fails_and_a_retry_with_good_data_succeeds() {
    let r = root();
    let layer = Layer::new()
        .file("big", &vec![1u8; 1 << 20])
        .file("after", b"x")
        .build();
    let diff = sha256_of(&layer);
    let gz = gzip(&layer);
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.gz");
    fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let store = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    let open_cut = || {
        fs::File::open(&cut).map_err(|e| Error::Io {
            action: "open",
            path: cut.clone(),
            source: e,
        })
    };
    let err = store
        .unpack(&diff, &diff, &open_cut, brig_image::Compression::Gzip)
        .unwrap_err();
    assert!(
        matches!(err, Error::BadStream { .. } | Error::EntryIo { .. }),
        "{err}"
    );
    assert!(!store.contains(&diff));
    assert_eq!(leftovers(r.dir.path()), 0);

    let good = dir.path().join("good.gz");
    fs::write(&good, &gz).unwrap();
    let open_good = || {
        fs::File::open(&good).map_err(|e| Error::Io {
            action: "open",
            path: good.clone(),
            source: e,
        })
    };
    assert!(matches!(
        store
            .unpack(&diff, &diff, &open_good, brig_image::Compression::Gzip)
            .unwrap(),
        Unpacked::Fresh(_)
    ));
    assert_eq!(fs::read(store.path(&diff).join("after")).unwrap(), b"x");
}

#[test]
fn concurrent_unpacks_of_one_layer_unpack_it_once() {
    let r = root();
    let layer = Layer::new().file("f", &vec![3u8; 4 << 20]).build();
    let img = image(&r.images, "c", &[layer], None);
    let rec = r.images.layers(&img).unwrap().remove(0);
    let store = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    let fresh = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let open = || {
                    r.images
                        .content()
                        .open_blob(&rec.blob_digest)
                        .map_err(Error::from)
                };
                if let Unpacked::Fresh(_) = store
                    .unpack(
                        &rec.chain_id,
                        &rec.diff_id,
                        &open,
                        brig_image::Compression::Gzip,
                    )
                    .unwrap()
                {
                    fresh.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(fresh.into_inner(), 1);
}

#[test]
fn gc_removes_layers_nothing_keeps() {
    let r = root();
    let a = image(
        &r.images,
        "a",
        &[Layer::new().file("a", b"a").build()],
        None,
    );
    let b = image(
        &r.images,
        "b",
        &[Layer::new().file("b", &vec![9u8; 1 << 20]).build()],
        None,
    );
    let store = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    let ca = store.unpack_image(&r.images, &a).unwrap();
    let cb = store.unpack_image(&r.images, &b).unwrap();
    r.images.remove("b", false, |_| vec![]).unwrap();
    let keep: HashSet<_> = r.images.referenced_chain_ids().unwrap();
    let report = store.gc(&keep).unwrap();
    assert_eq!(report.layers_removed, 1);
    assert!(report.bytes_freed >= 1 << 20);
    assert!(store.contains(&ca[0]) && !store.contains(&cb[0]));
}

#[test]
fn layer_gc_waits_for_pulls_in_progress() {
    let r = root();
    let a = image(
        &r.images,
        "a",
        &[Layer::new().file("a", b"a").build()],
        None,
    );
    let store = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    store.unpack_image(&r.images, &a).unwrap();
    r.images.remove("a", false, |_| vec![]).unwrap();
    let pull_in_progress = r.images.lock_shared().unwrap();
    let report = brig_snapshot::collect_unused_layers(&store, &r.images, &[]).unwrap();
    assert!(report.deferred && report.layers_removed == 0);
    drop(pull_in_progress);
    let report = brig_snapshot::collect_unused_layers(&store, &r.images, &[]).unwrap();
    assert_eq!((report.deferred, report.layers_removed), (false, 1));
}
