//! A busybox root filesystem from Debian's busybox-static.
//!
//! The tree is built once into a cache directory shared by all test processes
//! (keyed by the busybox binary's size and mtime, created by an atomic
//! rename) and then hard-linked into each test's bundle, so a new rootfs
//! costs a few hundred `symlink` calls and one `link`.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where Debian's busybox-static installs the binary.
pub const BUSYBOX: &str = "/bin/busybox";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
    user:x:1000:1000:user:/home/user:/bin/sh\n\
    nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nuser:x:1000:\nusers:x:100:user\nnobody:x:65534:\n";

/// Copies the cached busybox tree into `dest` (created if missing).
pub fn install_busybox_rootfs(dest: &Path) {
    let template = template();
    copy_tree(template, dest).unwrap_or_else(|e| {
        panic!(
            "copying busybox rootfs {} to {}: {e}",
            template.display(),
            dest.display()
        )
    });
}

/// The cached template tree, built on first use.
pub fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        build_cached_template().unwrap_or_else(|e| {
            panic!(
                "building the busybox rootfs from {BUSYBOX} (apt-get install busybox-static): {e}"
            )
        })
    })
}

fn build_cached_template() -> io::Result<PathBuf> {
    let meta = fs::metadata(BUSYBOX)?;
    let key = format!("{}-{}", meta.size(), meta.mtime());
    let cache = std::env::temp_dir().join(format!("brig-testkit-busybox-{key}"));
    if cache.join("bin/busybox").exists() {
        return Ok(cache);
    }
    let staging = std::env::temp_dir().join(format!(
        "brig-testkit-busybox-{key}.tmp-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&staging);
    build_busybox_tree(&staging)?;
    if let Err(e) = fs::rename(&staging, &cache) {
        // Another test process won the race; use its tree.
        let _ = fs::remove_dir_all(&staging);
        if !cache.join("bin/busybox").exists() {
            return Err(e);
        }
    }
    Ok(cache)
}

/// Writes a complete busybox root filesystem at `root`: `/bin/busybox`, a
/// symlink in `/bin` for every applet, `/etc/passwd` and `/etc/group` with
/// root, user (1000) and nobody, and the empty mount-point directories.
pub fn build_busybox_tree(root: &Path) -> io::Result<()> {
    for dir in [
        "bin",
        "etc",
        "proc",
        "sys",
        "dev",
        "root",
        "home/user",
        "tmp",
        "usr/bin",
        "sbin",
    ] {
        fs::create_dir_all(root.join(dir))?;
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::copy(BUSYBOX, root.join("bin/busybox"))?;
    for applet in applets()? {
        if applet == "busybox" || applet.contains('/') {
            continue;
        }
        symlink("busybox", root.join("bin").join(&applet))?;
    }
    fs::write(root.join("etc/passwd"), PASSWD)?;
    fs::write(root.join("etc/group"), GROUP)?;
    fs::write(root.join("etc/hostname"), "busybox\n")?;
    Ok(())
}

fn applets() -> io::Result<Vec<String>> {
    let out = Command::new(BUSYBOX).arg("--list").output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{BUSYBOX} --list failed: {}",
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The busybox tree as an uncompressed tar, an image layer for the engine's
/// tests and benchmarks, with `extra` regular files (path, text) added
/// under directories of their own.
pub fn busybox_tar(extra: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", template())
        .expect("tar the busybox tree");
    for (path, text) in extra {
        let parents: Vec<&Path> = Path::new(path)
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        for dir in parents.into_iter().rev() {
            let mut header = root_owned(tar::EntryType::Directory, 0o755, 0);
            builder
                .append_data(&mut header, dir, io::empty())
                .expect("tar a directory");
        }
        let mut header = root_owned(tar::EntryType::Regular, 0o644, text.len() as u64);
        builder
            .append_data(&mut header, path, text.as_bytes())
            .expect("tar a file");
    }
    builder.into_inner().expect("finish the busybox tar")
}

/// A tar header with every numeric field set: root-owned, epoch.
fn root_owned(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

/// Recreates `src` at `dest`: directories with their modes, symlinks as
/// symlinks, regular files as hard links (same filesystem) or copies.
pub fn copy_tree(src: &Path, dest: &Path) -> io::Result<()> {
    fs::create_dir_all(dest)?;
    fs::set_permissions(dest, fs::metadata(src)?.permissions())?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&from, &to)?;
        } else if kind.is_symlink() {
            symlink(fs::read_link(&from)?, &to)?;
        } else if from.file_name().is_some_and(|n| n == "busybox") {
            // The only big file; nothing in a test writes to it.
            fs::hard_link(&from, &to).or_else(|_| fs::copy(&from, &to).map(|_| ()))?;
        } else {
            // Small files are copied so a test may edit them freely.
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}
