//! One conformance suite, run by both snapshotters: the merged view honours
//! whiteouts and opaque directories, writes stay private, 100+ layers work,
//! and snapshots are created and removed atomically.
//!
//! Mounting needs root. Without it the copy snapshotter's directory is
//! read directly and overlay checks are skipped (loudly).

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use brig_image::{Digest, ImageStore};
use brig_snapshot::{
    ApplyOptions, CopySnapshotter, Error, LayerStore, MountGuard, MountSpec, OverlaySnapshotter,
    Snapshotter, collect_unused_layers, layers_in_use,
};
use common::*;

type Make = fn(&Path, LayerStore) -> brig_snapshot::Result<Box<dyn Snapshotter>>;

fn overlay(root: &Path, layers: LayerStore) -> brig_snapshot::Result<Box<dyn Snapshotter>> {
    Ok(Box::new(OverlaySnapshotter::open(root, layers)?))
}

fn copy(root: &Path, layers: LayerStore) -> brig_snapshot::Result<Box<dyn Snapshotter>> {
    Ok(Box::new(CopySnapshotter::open(root, layers)?))
}

/// A store root with an unpacked image and a snapshotter on it.
struct Fixture {
    r: Root,
    layers: LayerStore,
    snap: Box<dyn Snapshotter>,
}

fn fixture(make: Make) -> Fixture {
    let r = root();
    let layers = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    let snap = make(r.dir.path(), layers.clone()).unwrap();
    Fixture { r, layers, snap }
}

impl Fixture {
    fn unpack(&self, name: &str, layers: &[Vec<u8>]) -> Vec<Digest> {
        let img = image(&self.r.images, name, layers, None);
        self.layers.unpack_image(&self.r.images, &img).unwrap()
    }

    fn images(&self) -> &ImageStore {
        &self.r.images
    }
}

/// The merged root filesystem of a snapshot, mounted when possible.
struct View {
    path: PathBuf,
    _guard: Option<MountGuard>,
    _dir: Option<tempfile::TempDir>,
}

fn view(specs: &[MountSpec], test: &str) -> Option<View> {
    if is_root() {
        let dir = tempfile::tempdir().unwrap();
        let guard = MountGuard::mount(specs, dir.path()).unwrap();
        return Some(View {
            path: dir.path().to_owned(),
            _guard: Some(guard),
            _dir: Some(dir),
        });
    }
    match specs {
        [MountSpec::Bind { source, .. }] => Some(View {
            path: source.clone(),
            _guard: None,
            _dir: None,
        }),
        _ => {
            eprintln!("SKIPPED (needs root): {test}");
            None
        }
    }
}

fn two_layers() -> Vec<Vec<u8>> {
    vec![
        Layer::new()
            .file("etc/a", b"a")
            .file("etc/b", b"b")
            .file("d/x", b"x")
            .file("d/y", b"y")
            .file_with("owned", b"o", 0o4711, 1000, 1000)
            .symlink("bin", "usr/bin")
            .build(),
        Layer::new()
            .file("etc/.wh.a", b"")
            .file("d/.wh..wh..opq", b"")
            .file("d/z", b"z")
            .file("new", b"new")
            .build(),
    ]
}

fn check_merged_view(make: Make, test: &str) {
    let f = fixture(make);
    let chain = f.unpack("img", &two_layers());
    let specs = f.snap.prepare("c1", &chain).unwrap();
    let Some(v) = view(&specs, test) else { return };
    let p = |s: &str| v.path.join(s);
    assert!(!p("etc/a").exists(), "whiteout hides the lower file");
    assert_eq!(fs::read(p("etc/b")).unwrap(), b"b");
    let mut d: Vec<_> = fs::read_dir(p("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    d.sort();
    assert_eq!(d, vec!["z"], "opaque directory hides the lower entries");
    assert_eq!(fs::read(p("new")).unwrap(), b"new");
    assert_eq!(fs::read_link(p("bin")).unwrap(), Path::new("usr/bin"));
    let m = fs::metadata(p("owned")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o4711);
    if is_root() {
        assert_eq!((m.uid(), m.gid()), (1000, 1000));
    }
}

fn check_writes_stay_private(make: Make, test: &str) {
    let f = fixture(make);
    let chain = f.unpack("img", &two_layers());
    let s1 = f.snap.prepare("c1", &chain).unwrap();
    let s2 = f.snap.prepare("c2", &chain).unwrap();
    let (Some(v1), Some(v2)) = (view(&s1, test), view(&s2, test)) else {
        return;
    };
    fs::write(v1.path.join("etc/b"), b"changed").unwrap();
    fs::write(v1.path.join("mine"), b"1").unwrap();
    fs::remove_file(v1.path.join("new")).unwrap();
    assert_eq!(fs::read(v2.path.join("etc/b")).unwrap(), b"b");
    assert!(!v2.path.join("mine").exists());
    assert!(v2.path.join("new").exists());
    for l in &chain {
        assert!(
            !f.layers.path(l).join("mine").exists(),
            "layers stay read-only"
        );
    }
    assert_eq!(
        fs::read(f.layers.path(&chain[0]).join("etc/b")).unwrap(),
        b"b"
    );
    assert!(f.snap.usage("c1").unwrap() > 0);
}

fn check_lifecycle(make: Make, _test: &str) {
    let f = fixture(make);
    let chain = f.unpack("img", &two_layers());
    let specs = f.snap.prepare("c1", &chain).unwrap();
    assert_eq!(f.snap.mounts("c1").unwrap(), specs);
    assert!(matches!(
        f.snap.prepare("c1", &chain),
        Err(Error::SnapshotExists { .. })
    ));
    assert!(matches!(
        f.snap.prepare("../x", &chain),
        Err(Error::InvalidId { .. })
    ));
    let missing = brig_image::digest::sha256_of(b"never unpacked");
    assert!(matches!(
        f.snap.prepare("c2", &[missing]),
        Err(Error::LayerMissing { .. })
    ));
    let list = f.snap.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].layers, chain);
    assert_eq!(layers_in_use(f.snap.as_ref()).unwrap().len(), 2);
    // The image goes away; its layers stay while the snapshot uses them.
    f.r.images.remove("img", false, |_| vec![]).unwrap();
    let gc = collect_unused_layers(&f.layers, &f.r.images, &[f.snap.as_ref()]).unwrap();
    assert_eq!(gc.layers_removed, 0);
    f.snap.remove("c1").unwrap();
    assert!(f.snap.list().unwrap().is_empty());
    assert!(matches!(
        f.snap.remove("c1"),
        Err(Error::SnapshotNotFound { .. })
    ));
    assert!(matches!(
        f.snap.mounts("c1"),
        Err(Error::SnapshotNotFound { .. })
    ));
    assert_eq!(
        fs::read_dir(f.r.dir.path().join("snapshots/.tmp"))
            .unwrap()
            .count(),
        0
    );
    let _ = f.images();
}

fn check_many_layers(make: Make, test: &str) {
    let f = fixture(make);
    let mut layers: Vec<Vec<u8>> = (0..120)
        .map(|i| {
            Layer::new()
                .file(&format!("f{i}"), format!("{i}").as_bytes())
                .build()
        })
        .collect();
    layers.push(Layer::new().file("f0", b"top").build());
    let chain = f.unpack("many", &layers);
    let specs = f.snap.prepare("c1", &chain).unwrap();
    if let [MountSpec::Overlay { lowerdirs, .. }] = specs.as_slice() {
        assert_eq!(lowerdirs.len(), 121);
        assert!(
            specs[0].legacy_options().is_none(),
            "too long for mount(2): the mount API is needed"
        );
    }
    let Some(v) = view(&specs, test) else { return };
    assert_eq!(fs::read(v.path.join("f0")).unwrap(), b"top");
    assert_eq!(fs::read(v.path.join("f119")).unwrap(), b"119");
    assert_eq!(fs::read_dir(&v.path).unwrap().count(), 120);
}

macro_rules! conformance {
    ($kind:ident) => {
        mod $kind {
            use super::*;

            #[test]
            fn merged_view_honours_whiteouts_and_opaque_dirs() {
                check_merged_view(
                    super::$kind,
                    concat!(
                        stringify!($kind),
                        "::merged_view_honours_whiteouts_and_opaque_dirs"
                    ),
                );
            }

            #[test]
            fn writes_stay_private_to_the_container() {
                check_writes_stay_private(
                    super::$kind,
                    concat!(stringify!($kind), "::writes_stay_private_to_the_container"),
                );
            }

            #[test]
            fn snapshots_are_created_listed_and_removed() {
                check_lifecycle(
                    super::$kind,
                    concat!(
                        stringify!($kind),
                        "::snapshots_are_created_listed_and_removed"
                    ),
                );
            }

            #[test]
            fn images_with_over_100_layers_work() {
                check_many_layers(
                    super::$kind,
                    concat!(stringify!($kind), "::images_with_over_100_layers_work"),
                );
            }
        }
    };
}

conformance!(overlay);
conformance!(copy);
