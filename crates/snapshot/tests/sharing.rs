//! Proof of sharing: 50 containers from one image each write 1 MiB; the
//! disk used is the image once plus about 50 MiB.

mod common;

use std::fs;
use std::io::Write;

use brig_snapshot::usage::disk_usage;
use brig_snapshot::{ApplyOptions, LayerStore, MountGuard, OverlaySnapshotter, Snapshotter};
use common::*;

const MIB: u64 = 1 << 20;

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n).map(|_| rng.u8(..)).collect()
}

#[test]
fn fifty_containers_share_one_image_on_disk() {
    if skip_unless_root("fifty_containers_share_one_image_on_disk") {
        return;
    }
    let r = root();
    let busybox = fs::read("/bin/busybox").unwrap();
    let layer = Layer::new()
        .file_with("bin/busybox", &busybox, 0o755, 0, 0)
        .symlink("bin/sh", "busybox")
        .file("opt/data.bin", &random_bytes(16 << 20, 1))
        .build();
    let img = image(&r.images, "shared", &[layer], None);
    let layers = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    let chain = layers.unpack_image(&r.images, &img).unwrap();
    let image_once = disk_usage(&r.dir.path().join("layers"));
    assert!(
        image_once >= 17 * MIB,
        "the image is about 18 MiB unpacked: {image_once}"
    );

    let snap = OverlaySnapshotter::open(r.dir.path(), layers.clone()).unwrap();
    for i in 0..50 {
        let id = format!("c{i}");
        let specs = snap.prepare(&id, &chain).unwrap();
        let target = tempfile::tempdir().unwrap();
        let guard = MountGuard::mount(&specs, target.path()).unwrap();
        // Each container sees the whole image...
        assert_eq!(
            fs::metadata(target.path().join("opt/data.bin"))
                .unwrap()
                .len(),
            16 << 20
        );
        // ...and writes 1 MiB of its own.
        let mut f = fs::File::create(target.path().join("own.bin")).unwrap();
        f.write_all(&random_bytes(MIB as usize, 100 + i)).unwrap();
        f.sync_all().unwrap();
        drop(f);
        drop(guard);
    }
    let layers_after = disk_usage(&r.dir.path().join("layers"));
    let snapshots = disk_usage(&r.dir.path().join("snapshots"));
    let total = layers_after + snapshots;
    eprintln!(
        "image once: {:.1} MiB; 50 containers: {:.1} MiB; total {:.1} MiB (a copy per container would be {:.0} MiB)",
        image_once as f64 / MIB as f64,
        snapshots as f64 / MIB as f64,
        total as f64 / MIB as f64,
        (50 * image_once + 50 * MIB) as f64 / MIB as f64
    );
    assert_eq!(
        layers_after, image_once,
        "the image is stored once, untouched"
    );
    assert!(snapshots >= 50 * MIB, "each container's 1 MiB is on disk");
    assert!(
        snapshots <= 50 * MIB + 2 * MIB,
        "and little else: {snapshots}"
    );
    assert_eq!(snap.list().unwrap().len(), 50);
    for i in 0..50 {
        snap.remove(&format!("c{i}")).unwrap();
    }
    assert!(disk_usage(&r.dir.path().join("snapshots")) < MIB);
}
