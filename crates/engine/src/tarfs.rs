//! Tar streams to and from a container's root filesystem, confined to it:
//! every lookup goes through descriptors opened with `RESOLVE_IN_ROOT` and
//! nothing is followed that the container controls, so a symlink in the
//! container can never make `cp` read or write a host file.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::error::{Error, IoContext, Result};
use crate::rootfs::Root;

fn open_dir_at(dir: &OwnedFd, name: &std::ffi::CStr) -> std::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Into::into)
}

/// Writes `path` of the container (a file, link or whole directory) into
/// `out` as a tar whose top entry is named `name`.
pub fn write_tar(root: &Root, path: &str, name: &str, out: &mut dyn Write) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let (parent, base) = split(path);
    let parent_fd = root
        .open_at(parent, OFlags::RDONLY | OFlags::DIRECTORY, 0)
        .map_err(|e| not_found_or(e, path))?;
    let base_c = std::ffi::CString::new(base).map_err(|_| bad_path(path))?;
    add_entry(&mut builder, &parent_fd, &base_c, Path::new(name), path)?;
    builder.finish().ctx("write tar", path)?;
    Ok(())
}

fn not_found_or(e: std::io::Error, path: &str) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::invalid("cp", path, "no such file or directory in the container")
    } else {
        Error::io("open in the container", path, e)
    }
}

fn bad_path(path: &str) -> Error {
    Error::invalid("cp", path, "the path contains a NUL byte")
}

/// `/a/b/c` -> (`/a/b`, `c`); `/` -> (`/`, `.`).
fn split(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some(("", base)) => ("/", base),
        Some((parent, base)) => (parent, base),
        None if trimmed.is_empty() => ("/", "."),
        None => (".", trimmed),
    }
}

fn header_for(st: &rustix::fs::Stat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

fn add_entry(
    b: &mut tar::Builder<&mut dyn Write>,
    dir: &OwnedFd,
    name: &std::ffi::CStr,
    tar_path: &Path,
    shown: &str,
) -> Result<()> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ctx("stat", shown)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            let fd = open_dir_at(dir, name).ctx("open", shown)?;
            let mut h = header_for(&st, tar::EntryType::Directory);
            b.append_data(&mut h, tar_path, std::io::empty())
                .ctx("write tar", shown)?;
            let mut names: Vec<std::ffi::CString> = rustix::fs::Dir::read_from(&fd)
                .ctx("list", shown)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_owned())
                .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
                .collect();
            names.sort();
            for n in names {
                let child = tar_path.join(n.to_string_lossy().as_ref());
                add_entry(b, &fd, &n, &child, shown)?;
            }
        }
        FileType::RegularFile => {
            let fd = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ctx("open", shown)?;
            let mut h = header_for(&st, tar::EntryType::Regular);
            h.set_size(st.st_size as u64);
            b.append_data(&mut h, tar_path, File::from(fd).take(st.st_size as u64))
                .ctx("write tar", shown)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(dir, name, Vec::new()).ctx("read link", shown)?;
            let mut h = header_for(&st, tar::EntryType::Symlink);
            b.append_link(&mut h, tar_path, target.to_string_lossy().as_ref())
                .ctx("write tar", shown)?;
        }
        // Devices, fifos and sockets are skipped, as `docker cp` does for sockets.
        _ => {}
    }
    Ok(())
}

/// Extracts the tar `input` into the container directory `dest` (created
/// if missing). Entries may not climb out with `..` or absolute paths.
pub fn extract_tar(root: &Root, dest: &str, input: &mut dyn Read) -> Result<()> {
    let dest_fd = ensure_dirs(root, dest)?;
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().ctx("read tar", dest)? {
        let mut entry = entry.ctx("read tar", dest)?;
        let path = entry.path().ctx("read tar", dest)?.into_owned();
        let parts: Vec<String> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(p) => Some(Ok(p.to_string_lossy().into_owned())),
                Component::CurDir => None,
                _ => Some(Err(())),
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                Error::invalid(
                    "cp",
                    &path.display().to_string(),
                    "tar entries may not contain .. or absolute paths",
                )
            })?;
        let Some((last, dirs)) = parts.split_last() else {
            continue;
        };
        let mut dir = dest_fd.try_clone().ctx("dup", dest)?;
        for d in dirs {
            dir = mkdir_open(&dir, d, 0o755)?;
        }
        write_entry(&dir, last, &mut entry)?;
    }
    Ok(())
}

fn cstr(name: &str) -> Result<std::ffi::CString> {
    std::ffi::CString::new(name).map_err(|_| bad_path(name))
}

/// Opens (creating if needed) directory `name` under `dir`, refusing symlinks.
fn mkdir_open(dir: &OwnedFd, name: &str, mode: u32) -> Result<OwnedFd> {
    let c = cstr(name)?;
    match rustix::fs::mkdirat(dir, &c, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(Error::io("create directory", name, e.into())),
    }
    open_dir_at(dir, &c).ctx("open directory (not following links)", name)
}

/// Opens the container directory `dest`, creating missing parts. Each
/// existing part is resolved confined (a link inside the container stays
/// inside); missing ones are made under the directory walked so far.
fn ensure_dirs(root: &Root, dest: &str) -> Result<OwnedFd> {
    let mut dir = root
        .open_at("/", OFlags::RDONLY | OFlags::DIRECTORY, 0)
        .ctx("open", "/")?;
    let mut walked = String::new();
    for part in dest.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(Error::invalid(
                "cp",
                dest,
                "the destination may not contain ..",
            ));
        }
        walked.push('/');
        walked.push_str(part);
        dir = match root.open_at(&walked, OFlags::RDONLY | OFlags::DIRECTORY, 0) {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => mkdir_open(&dir, part, 0o755)?,
            Err(e) => return Err(Error::io("open in the container", walked, e)),
        };
    }
    Ok(dir)
}

fn write_entry(dir: &OwnedFd, name: &str, entry: &mut tar::Entry<'_, &mut dyn Read>) -> Result<()> {
    let c = cstr(name)?;
    let h = entry.header();
    let mode = h.mode().unwrap_or(0o644) & 0o7777;
    let (uid, gid) = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
    let kind = h.entry_type();
    if kind.is_dir() {
        let fd = mkdir_open(dir, name, mode)?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).ctx("chmod", name)?;
        let _ = rustix::fs::fchown(
            &fd,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        );
        return Ok(());
    }
    // Replace whatever is there (never write through an existing link).
    match rustix::fs::unlinkat(dir, &c, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::ISDIR) => {}
        Err(e) => return Err(Error::io("replace", name, e.into())),
    }
    if kind.is_symlink() {
        let target = entry
            .link_name()
            .ctx("read tar", name)?
            .ok_or_else(|| Error::invalid("cp", name, "a symlink entry without a target"))?;
        let t = cstr(&target.to_string_lossy())?;
        rustix::fs::symlinkat(&t, dir, &c).ctx("create symlink", name)?;
    } else if kind.is_file() || kind == tar::EntryType::Continuous {
        let fd = rustix::fs::openat(
            dir,
            &c,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .ctx("create", name)?;
        let mut f = File::from(fd);
        std::io::copy(entry, &mut f).ctx("write", name)?;
        rustix::fs::fchmod(&f, Mode::from_raw_mode(mode)).ctx("chmod", name)?;
    } else {
        // Hard links, devices and fifos are not copied.
        return Ok(());
    }
    let _ = rustix::fs::chownat(
        dir,
        &c,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let host_secret = dir.path().join("host-secret");
        std::fs::write(&host_secret, "secret").unwrap();
        let rootdir = dir.path().join("root");
        std::fs::create_dir_all(rootdir.join("data/sub")).unwrap();
        std::fs::write(rootdir.join("data/a.txt"), "a").unwrap();
        std::fs::write(rootdir.join("data/sub/b.txt"), "b").unwrap();
        // A link to the host's file, as a hostile image might plant.
        std::os::unix::fs::symlink(&host_secret, rootdir.join("data/evil")).unwrap();
        std::os::unix::fs::symlink(dir.path(), rootdir.join("escape")).unwrap();
        // The same absolute path exists inside the root, where it must resolve.
        std::fs::create_dir_all(rootdir.join(dir.path().strip_prefix("/").unwrap())).unwrap();
        let root = Root::open(&rootdir).unwrap();
        let mut tar_bytes = Vec::new();
        write_tar(&root, "/data", "data", &mut tar_bytes).unwrap();
        let mut names = Vec::new();
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            names.push((
                e.path().unwrap().display().to_string(),
                e.header().entry_type().is_symlink(),
            ));
        }
        assert!(names.contains(&("data/evil".into(), true)), "{names:?}");
        assert!(
            names.contains(&("data/sub/b.txt".into(), false)),
            "{names:?}"
        );
        // Extracting through "escape" (a link to the host dir) stays in the root.
        extract_tar(&root, "/escape/target", &mut &tar_bytes[..]).unwrap();
        assert!(
            !dir.path().join("target").exists(),
            "wrote outside the root"
        );
        // /escape resolved in the root is /tmp/... inside the root.
        let inside = rootdir
            .join(dir.path().strip_prefix("/").unwrap())
            .join("target/data/a.txt");
        assert_eq!(std::fs::read_to_string(inside).unwrap(), "a");
        // Overwriting "evil" replaces the link, not the host file.
        let mut t2 = Vec::new();
        {
            let mut b = tar::Builder::new(&mut t2);
            let mut h = tar::Header::new_gnu();
            h.set_size(3);
            h.set_mode(0o644);
            b.append_data(&mut h, "evil", &b"new"[..]).unwrap();
            b.finish().unwrap();
        }
        extract_tar(&root, "/data", &mut &t2[..]).unwrap();
        assert_eq!(std::fs::read_to_string(&host_secret).unwrap(), "secret");
        assert_eq!(
            std::fs::read_to_string(rootdir.join("data/evil")).unwrap(),
            "new"
        );
        assert!(write_tar(&root, "/nope", "x", &mut Vec::new()).is_err());
    }
}
