//! Applying layers: what is kept, how whiteouts are written, and that no
//! layer can reach outside its directory.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use brig_snapshot::{ApplyOptions, Error, apply_layer};
use common::*;

fn apply(tar: &[u8], dest: &Path) -> brig_snapshot::Result<brig_snapshot::ApplyStats> {
    apply_layer(&mut &tar[..], dest, &ApplyOptions::default())
}

#[test]
fn files_dirs_symlinks_hardlinks_and_long_names_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("deep/{}/{}", "d".repeat(150), "f".repeat(200));
    let tar = Layer::new()
        .dir("etc", 0o750)
        .file_with("etc/shadow", b"secret", 0o640, 0, 0)
        .file_with("bin/su", b"su", 0o4755, 0, 0)
        .symlink("bin/sh", "busybox")
        .symlink("abs", "/etc/shadow")
        .file("bin/busybox", b"bb")
        .hardlink("bin/ls", "bin/busybox")
        .file(&long, b"long name")
        .file_with_xattrs(
            "x",
            b"x",
            &[
                ("user.brig", b"kept"),
                ("trusted.overlay.redirect", b"/evil"),
            ],
        )
        .build();
    let stats = apply(&tar, dir.path()).unwrap();
    let p = |s: &str| dir.path().join(s);
    assert_eq!(fs::read(p("etc/shadow")).unwrap(), b"secret");
    assert_eq!(
        fs::metadata(p("etc/shadow")).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    assert_eq!(
        fs::metadata(p("etc")).unwrap().permissions().mode() & 0o7777,
        0o750
    );
    assert_eq!(
        fs::metadata(p("bin/su")).unwrap().permissions().mode() & 0o7777,
        0o4755,
        "setuid kept"
    );
    assert_eq!(
        fs::metadata(p("etc/shadow")).unwrap().mtime(),
        1_600_000_000
    );
    assert_eq!(
        fs::metadata(p("etc")).unwrap().mtime(),
        1_600_000_000,
        "dir times set last"
    );
    assert_eq!(fs::read_link(p("bin/sh")).unwrap(), Path::new("busybox"));
    assert_eq!(
        fs::read_link(p("abs")).unwrap(),
        Path::new("/etc/shadow"),
        "targets stored verbatim"
    );
    assert_eq!(
        fs::metadata(p("bin/ls")).unwrap().ino(),
        fs::metadata(p("bin/busybox")).unwrap().ino()
    );
    assert_eq!(fs::read(p(&long)).unwrap(), b"long name");
    assert_eq!(xattr(&p("x"), "user.brig").as_deref(), Some(&b"kept"[..]));
    assert_eq!(
        xattr(&p("x"), "trusted.overlay.redirect"),
        None,
        "overlay's own xattrs are never taken from a layer"
    );
    assert_eq!(stats.bytes, 6 + 2 + 2 + 9 + 1);
}

#[test]
fn owners_and_device_nodes_with_root_skipped_without() {
    let dir = tempfile::tempdir().unwrap();
    let tar = Layer::new()
        .file_with("owned", b"o", 0o4750, 1234, 5678)
        .device("dev/null", tar::EntryType::Char, 1, 3)
        .device("dev/fifo", tar::EntryType::Fifo, 0, 0)
        .build();
    let stats = apply(&tar, dir.path()).unwrap();
    assert!(
        fs::metadata(dir.path().join("dev/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    if !is_root() {
        assert_eq!(stats.skipped_devices, 1);
        eprintln!(
            "SKIPPED (needs root): owner and device checks of owners_and_device_nodes_with_root_skipped_without"
        );
        return;
    }
    let m = fs::metadata(dir.path().join("owned")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(
        m.permissions().mode() & 0o7777,
        0o4750,
        "mode set after chown keeps setuid"
    );
    let d = fs::symlink_metadata(dir.path().join("dev/null")).unwrap();
    assert!(d.file_type().is_char_device());
    assert_eq!(d.rdev(), rustix::fs::makedev(1, 3));
}

#[test]
fn whiteouts_and_opaque_dirs_take_overlay_form() {
    let dir = tempfile::tempdir().unwrap();
    let tar = Layer::new()
        .file("a/.wh.gone", b"")
        .file("a/kept", b"same layer")
        .file("a/.wh.kept", b"")
        .dir("b", 0o755)
        .file("b/.wh..wh..opq", b"")
        .file("b/new", b"n")
        .file(".wh..wh.plnk", b"aufs metadata")
        .build();
    let stats = apply(&tar, dir.path()).unwrap();
    assert!(is_whiteout(&dir.path().join("a/gone")));
    assert!(
        !dir.path().join("a/.wh.gone").exists(),
        "the marker file itself is not written"
    );
    assert_eq!(
        fs::read(dir.path().join("a/kept")).unwrap(),
        b"same layer",
        "a whiteout hides only lower layers"
    );
    let opaque = ApplyOptions::default().whiteouts.opaque_xattr();
    assert_eq!(
        xattr(&dir.path().join("b"), opaque).as_deref(),
        Some(&b"y"[..])
    );
    assert!(dir.path().join("b/new").exists());
    assert!(!dir.path().join(".wh..wh.plnk").exists());
    assert_eq!((stats.whiteouts, stats.opaque_dirs), (1, 1));
}

#[test]
fn sparse_files_from_gnu_tar_stay_sparse() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    let f = fs::File::create(src.join("sparse")).unwrap();
    f.set_len(64 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"middle", 32 << 20).unwrap();
    let tarball = work.path().join("s.tar");
    let ok = std::process::Command::new("tar")
        .args(["--sparse", "--format=gnu", "-C"])
        .arg(&src)
        .args(["-cf"])
        .arg(&tarball)
        .arg("sparse")
        .status()
        .unwrap()
        .success();
    assert!(ok, "GNU tar failed");
    let dest = work.path().join("dest");
    fs::create_dir(&dest).unwrap();
    apply(&fs::read(&tarball).unwrap(), &dest).unwrap();
    let out = dest.join("sparse");
    let m = fs::metadata(&out).unwrap();
    assert_eq!(m.len(), 64 << 20);
    assert!(
        m.blocks() * 512 < 1 << 20,
        "holes kept: {} bytes allocated",
        m.blocks() * 512
    );
    let mut buf = [0u8; 6];
    fs::File::open(&out)
        .unwrap()
        .read_exact_at(&mut buf, 32 << 20)
        .unwrap();
    assert_eq!(&buf, b"middle");
}

/// An outside directory with a victim file; after a hostile layer is
/// applied next to it, the victim must be untouched.
struct Outside {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    victim: std::path::PathBuf,
}

impl Outside {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let victim = root.join("victim");
        fs::write(&victim, b"untouched").unwrap();
        Outside {
            _dir: dir,
            root,
            victim,
        }
    }

    fn assert_untouched(&self) {
        assert_eq!(fs::read(&self.victim).unwrap(), b"untouched");
        assert_eq!(
            fs::metadata(&self.victim).unwrap().nlink(),
            1,
            "no hard link to the victim"
        );
        let names: Vec<_> = fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("victim")],
            "nothing created outside"
        );
    }
}

#[test]
fn dotdot_names_are_refused() {
    let out = Outside::new();
    let layer = tempfile::tempdir().unwrap();
    let tar = Layer::new()
        .raw(
            b"../../../../../../../../tmp/evil",
            tar::EntryType::Regular,
            b"",
            b"x",
        )
        .build();
    let err = apply(&tar, layer.path()).unwrap_err();
    assert!(matches!(err, Error::BadEntry { .. }), "{err}");
    out.assert_untouched();
}

#[test]
fn symlinked_parents_never_lead_outside() {
    let out = Outside::new();
    let layer = tempfile::tempdir().unwrap();
    let abs = out
        .root
        .to_str()
        .unwrap()
        .trim_start_matches('/')
        .to_owned();
    // An absolute symlink to the outside directory, and a relative one
    // climbing far above the layer; both are resolved inside the layer.
    let tar = Layer::new()
        .symlink("abs", out.root.to_str().unwrap())
        .symlink("rel", "../../../../../../../..")
        .file("rel/written-at-layer-root", b"x")
        .raw(
            format!("rel/{abs}/victim").as_bytes(),
            tar::EntryType::Regular,
            b"",
            b"overwritten?",
        )
        .build();
    apply(&tar, layer.path()).unwrap();
    assert_eq!(
        fs::read(layer.path().join("written-at-layer-root")).unwrap(),
        b"x"
    );
    assert_eq!(
        fs::read(layer.path().join(&abs).join("victim")).unwrap(),
        b"overwritten?"
    );
    out.assert_untouched();

    // Writing through the absolute symlink itself: refused or kept inside.
    let layer = tempfile::tempdir().unwrap();
    let tar = Layer::new()
        .symlink("abs", out.root.to_str().unwrap())
        .file("abs/victim", b"pwned")
        .build();
    let _ = apply(&tar, layer.path());
    out.assert_untouched();
}

#[test]
fn an_existing_symlink_is_replaced_not_written_through() {
    let out = Outside::new();
    let layer = tempfile::tempdir().unwrap();
    let tar = Layer::new()
        .symlink("f", out.victim.to_str().unwrap())
        .file("f", b"pwned")
        .symlink("d", out.root.to_str().unwrap())
        .dir("d", 0o755)
        .build();
    apply(&tar, layer.path()).unwrap();
    assert_eq!(fs::read(layer.path().join("f")).unwrap(), b"pwned");
    assert!(layer.path().join("d").symlink_metadata().unwrap().is_dir());
    out.assert_untouched();
}

#[test]
fn hard_links_never_reach_outside() {
    let out = Outside::new();
    let victim = out.victim.to_str().unwrap().to_owned();
    for tar in [
        Layer::new().hardlink("h", &victim).build(),
        Layer::new()
            .raw(
                b"h",
                tar::EntryType::Link,
                b"../../../../../../../../etc/passwd",
                b"",
            )
            .build(),
        Layer::new()
            .symlink("s", out.root.to_str().unwrap())
            .hardlink("h", "s/victim")
            .build(),
        Layer::new()
            .symlink("s", "../../../../../../../..")
            .hardlink("h", &format!("s{victim}"))
            .build(),
    ] {
        let layer = tempfile::tempdir().unwrap();
        let err = apply(&tar, layer.path()).unwrap_err();
        assert!(matches!(err, Error::BadEntry { .. }), "{err}");
        out.assert_untouched();
    }
}

#[test]
fn whiteouts_never_delete_outside() {
    let out = Outside::new();
    let abs = out.root.to_str().unwrap();
    for tar in [
        Layer::new()
            .symlink("d", abs)
            .file("d/.wh.victim", b"")
            .build(),
        Layer::new()
            .symlink("d", "../../../../../../../..")
            .file(&format!("d{abs}/.wh.victim"), b"")
            .build(),
        Layer::new()
            .symlink("d", abs)
            .file("d/.wh..wh..opq", b"")
            .build(),
        Layer::new()
            .raw(b"a/.wh...", tar::EntryType::Regular, b"", b"")
            .build(),
    ] {
        let layer = tempfile::tempdir().unwrap();
        let _ = apply(&tar, layer.path());
        out.assert_untouched();
        assert_eq!(
            xattr(&out.root, ApplyOptions::default().whiteouts.opaque_xattr()),
            None
        );
    }
}

#[test]
fn truncated_and_garbage_streams_fail_cleanly() {
    let tar = Layer::new()
        .file("a", &vec![7u8; 100_000])
        .file("b", b"b")
        .build();
    let layer = tempfile::tempdir().unwrap();
    let err = apply(&tar[..50_000], layer.path()).unwrap_err();
    assert!(err.to_string().contains("a"), "{err}");
    let layer = tempfile::tempdir().unwrap();
    let err = apply(&[0x55u8; 1024], layer.path()).unwrap_err();
    assert!(matches!(err, Error::BadStream { .. }), "{err}");
}

/// `find` listing: path, mode, owner, type, size, link target, mtime.
fn listing(dir: &Path) -> String {
    let out = std::process::Command::new("find")
        .arg(".")
        .args(["-printf", "%p %m %U %G %y %s %l %T@\n"])
        .current_dir(dir)
        .output()
        .unwrap();
    let mut lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    lines.sort();
    lines.join("\n")
}

#[test]
fn result_matches_gnu_tar_extraction() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    for d in ["bin", "etc/ssl", "usr/share/doc", "var/empty"] {
        fs::create_dir_all(src.join(d)).unwrap();
    }
    fs::copy("/bin/busybox", src.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", src.join("bin/sh")).unwrap();
    fs::hard_link(src.join("bin/busybox"), src.join("bin/ls")).unwrap();
    fs::write(src.join("etc/ssl/key"), b"k").unwrap();
    fs::set_permissions(src.join("etc/ssl"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(src.join("etc/ssl/key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(
        src.join(format!("usr/share/doc/{}", "n".repeat(180))),
        b"long",
    )
    .unwrap();
    let tarball = work.path().join("layer.tar");
    let status = std::process::Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--format=posix", "-C"])
        .arg(&src)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let by_tar = work.path().join("by-tar");
    let by_brig = work.path().join("by-brig");
    fs::create_dir(&by_tar).unwrap();
    fs::create_dir(&by_brig).unwrap();
    let status = std::process::Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "-xpf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&by_tar)
        .status()
        .unwrap();
    assert!(status.success());
    apply(&fs::read(&tarball).unwrap(), &by_brig).unwrap();
    assert_eq!(listing(&by_brig), listing(&by_tar));
}
