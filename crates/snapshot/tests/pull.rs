//! Pull and unpack at once, against a real registry on 127.0.0.1.

mod common;

use std::fs;

use brig_image::{NoProgress, Reference, RegistryOptions};
use brig_snapshot::{ApplyOptions, LayerStore, pull_and_unpack};
use common::registry::{Kind, Registry};
use common::*;

fn insecure() -> RegistryOptions {
    RegistryOptions {
        tls_verify: false,
        auth_files: vec![],
        ..RegistryOptions::default()
    }
}

#[test]
fn layers_unpack_while_they_download() {
    let Some(reg) = Registry::start(Kind::Plain, "layers_unpack_while_they_download") else {
        return;
    };
    let src = root();
    let base = Layer::new()
        .file("etc/os-release", b"brig")
        .file("big", &vec![5u8; 3 << 20])
        .build();
    let top = Layer::new()
        .file("etc/.wh.os-release", b"")
        .file("app", b"app")
        .build();
    let img = image(&src.images, "local/app:1", &[base, top], None);
    let target = Reference::parse(&format!("{}/pipe/app:1", reg.addr)).unwrap();
    src.images
        .push(&img, &target, &insecure(), &NoProgress)
        .unwrap();

    let dst = root();
    let layers = LayerStore::open(dst.dir.path(), ApplyOptions::default()).unwrap();
    let pulled = pull_and_unpack(&dst.images, &layers, &target, &insecure(), &NoProgress).unwrap();
    assert_eq!(pulled.image.id, img.id);
    assert_eq!(
        pulled.streamed, 2,
        "both layers unpacked from the download stream"
    );
    assert_eq!(
        fs::read(layers.path(&pulled.chain_ids[0]).join("etc/os-release")).unwrap(),
        b"brig"
    );
    assert_eq!(
        fs::metadata(layers.path(&pulled.chain_ids[0]).join("big"))
            .unwrap()
            .len(),
        3 << 20
    );
    assert!(is_whiteout(
        &layers.path(&pulled.chain_ids[1]).join("etc/os-release")
    ));
    assert_eq!(dst.images.resolve(&target.to_string()).unwrap().id, img.id);

    // Pulled again: blobs and layers are there; nothing is unpacked twice.
    let again = pull_and_unpack(&dst.images, &layers, &target, &insecure(), &NoProgress).unwrap();
    assert_eq!((again.streamed, again.chain_ids), (0, pulled.chain_ids));

    // A layer whose blob was fetched earlier (no stream) is unpacked from it.
    let third = root();
    third
        .images
        .pull(&target, &insecure(), &NoProgress)
        .unwrap();
    let layers3 = LayerStore::open(third.dir.path(), ApplyOptions::default()).unwrap();
    let p3 = pull_and_unpack(&third.images, &layers3, &target, &insecure(), &NoProgress).unwrap();
    assert_eq!(p3.streamed, 0);
    assert!(layers3.contains(&p3.chain_ids[1]));
}
