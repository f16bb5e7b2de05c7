//! The copy snapshotter, for where overlayfs is not available: each
//! container gets a full copy of its image's layers merged into
//! `<root>/snapshots/<id>/rootfs` (whiteouts delete, opaque directories
//! start empty), bind-mounted or used as is.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use brig_image::Digest;
use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, Stat, Timespec, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;

use crate::apply::tree::{lstat_at, open_in_root, remove_at};
use crate::error::{Error, Result};
use crate::layers::LayerStore;
use crate::mount::MountSpec;
use crate::snapshotter::{SnapshotDirs, SnapshotInfo, Snapshotter};
use crate::usage::disk_usage;

const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
const OPAQUE_XATTRS: [&str; 2] = ["trusted.overlay.opaque", "user.overlay.opaque"];

/// Snapshots as full copies.
#[derive(Debug, Clone)]
pub struct CopySnapshotter {
    dirs: SnapshotDirs,
}

impl CopySnapshotter {
    /// Snapshots under `<root>/snapshots`, copied from the layers of `layers`.
    pub fn open(root: &Path, layers: LayerStore) -> Result<Self> {
        Ok(CopySnapshotter {
            dirs: SnapshotDirs::open(root, layers, "copy")?,
        })
    }
}

impl Snapshotter for CopySnapshotter {
    fn prepare(&self, id: &str, layers: &[Digest]) -> Result<Vec<MountSpec>> {
        let same_owner = self.dirs.layers.options().same_owner;
        self.dirs.create(id, layers, |tmp| {
            let rootfs = tmp.join("rootfs");
            fs::create_dir(&rootfs).map_err(|e| Error::io("create directory", &rootfs, e))?;
            for layer in layers {
                merge_layer(&self.dirs.layers.path(layer), &rootfs, same_owner)?;
            }
            Ok(())
        })?;
        self.mounts(id)
    }

    fn mounts(&self, id: &str) -> Result<Vec<MountSpec>> {
        self.dirs.layers_of(id)?;
        Ok(vec![MountSpec::Bind {
            source: self.dirs.path(id)?.join("rootfs"),
            readonly: false,
        }])
    }

    fn remove(&self, id: &str) -> Result<()> {
        self.dirs.remove(id)
    }

    fn list(&self) -> Result<Vec<SnapshotInfo>> {
        self.dirs.list()
    }

    fn usage(&self, id: &str) -> Result<u64> {
        self.dirs.layers_of(id)?;
        Ok(disk_usage(&self.dirs.path(id)?.join("rootfs")))
    }
}

/// Copies one overlay-format layer over `dst`.
pub fn merge_layer(src: &Path, dst: &Path, same_owner: bool) -> Result<()> {
    let open =
        |p: &Path| rustix::fs::open(p, DIR, Mode::empty()).map_err(|e| Error::io("open", p, e));
    let mut m = Merge {
        dst_root: open(dst)?,
        links: HashMap::new(),
        same_owner,
        layer: src,
    };
    let src_fd = open(src)?;
    let dst_fd = m
        .dst_root
        .try_clone()
        .map_err(|e| Error::io("open", dst, e))?;
    m.dir(src_fd.as_fd(), dst_fd.as_fd(), &[])
}

struct Merge<'a> {
    dst_root: OwnedFd,
    /// Hard links within the layer: (dev, inode) -> first copy's path.
    links: HashMap<(u64, u64), Vec<u8>>,
    same_owner: bool,
    layer: &'a Path,
}

impl Merge<'_> {
    fn fail(&self, rel: &[u8], action: &'static str, e: impl Into<std::io::Error>) -> Error {
        Error::io(action, self.layer.join(OsStr::from_bytes(rel)), e)
    }

    fn dir(&mut self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>, rel: &[u8]) -> Result<()> {
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(src).map_err(|e| self.fail(rel, "list", e))? {
            let entry = entry.map_err(|e| self.fail(rel, "list", e))?;
            let n = entry.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(n.to_vec());
            }
        }
        for name in names {
            let mut child_rel = rel.to_vec();
            if !child_rel.is_empty() {
                child_rel.push(b'/');
            }
            child_rel.extend_from_slice(&name);
            self.entry(src, dst, OsStr::from_bytes(&name), &child_rel)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &OsStr,
        rel: &[u8],
    ) -> Result<()> {
        let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.fail(rel, "inspect", e))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::CharacterDevice && st.st_rdev == 0 {
            // A whiteout: what lower layers had here is gone.
            return remove_at(dst, name).map_err(|e| self.fail(rel, "apply whiteout", e));
        }
        match kind {
            FileType::Directory => self.directory(src, dst, name, rel, &st),
            FileType::RegularFile => self.regular(src, dst, name, rel, &st),
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, name, Vec::new())
                    .map_err(|e| self.fail(rel, "read symlink", e))?;
                remove_at(dst, name).map_err(|e| self.fail(rel, "replace", e))?;
                rustix::fs::symlinkat(target.as_c_str(), dst, name)
                    .map_err(|e| self.fail(rel, "create symlink", e))?;
                self.meta_at(dst, name, &st, false, rel)
            }
            FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
                remove_at(dst, name).map_err(|e| self.fail(rel, "replace", e))?;
                let perm = Mode::from_raw_mode(st.st_mode & 0o7777);
                rustix::fs::mknodat(dst, name, kind, perm, st.st_rdev)
                    .map_err(|e| self.fail(rel, "create node", e))?;
                self.meta_at(dst, name, &st, true, rel)
            }
            _ => Ok(()), // Sockets are not content.
        }
    }

    fn directory(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &OsStr,
        rel: &[u8],
        st: &Stat,
    ) -> Result<()> {
        let src_child = rustix::fs::openat(src, name, DIR, Mode::empty())
            .map_err(|e| self.fail(rel, "open", e))?;
        let opaque = OPAQUE_XATTRS.iter().any(|x| {
            let mut buf = [0u8; 4];
            matches!(rustix::fs::fgetxattr(&src_child, *x, &mut buf), Ok(1) if buf[0] == b'y')
        });
        let existing = lstat_at(dst, name).map_err(|e| self.fail(rel, "inspect", e))?;
        let keep = existing
            .is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory)
            && !opaque;
        if !keep {
            remove_at(dst, name).map_err(|e| self.fail(rel, "replace", e))?;
            rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))
                .map_err(|e| self.fail(rel, "create directory", e))?;
        }
        let dst_child = rustix::fs::openat(dst, name, DIR, Mode::empty())
            .map_err(|e| self.fail(rel, "open", e))?;
        self.meta_fd(src_child.as_fd(), dst_child.as_fd(), st, rel)?;
        self.dir(src_child.as_fd(), dst_child.as_fd(), rel)?;
        rustix::fs::futimens(&dst_child, &times(st)).map_err(|e| self.fail(rel, "set times", e))
    }

    fn regular(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &OsStr,
        rel: &[u8],
        st: &Stat,
    ) -> Result<()> {
        remove_at(dst, name).map_err(|e| self.fail(rel, "replace", e))?;
        let key = (st.st_dev, st.st_ino);
        if st.st_nlink > 1
            && let Some(first) = self.links.get(&key)
        {
            let (parent, base) = match first.iter().rposition(|&b| b == b'/') {
                Some(i) => (&first[..i], &first[i + 1..]),
                None => (&first[..0], &first[..]),
            };
            let parent_fd = if parent.is_empty() {
                self.dst_root
                    .try_clone()
                    .map_err(|e| self.fail(rel, "open", e))?
            } else {
                open_in_root(&self.dst_root, parent)
                    .map_err(|e| self.fail(rel, "open hard link target", e))?
            };
            return rustix::fs::linkat(
                &parent_fd,
                OsStr::from_bytes(base),
                dst,
                name,
                AtFlags::empty(),
            )
            .map_err(|e| self.fail(rel, "create hard link", e));
        }
        let input = rustix::fs::openat(
            src,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.fail(rel, "open", e))?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let output = rustix::fs::openat(dst, name, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| self.fail(rel, "create", e))?;
        let (mut input, mut output) = (File::from(input), File::from(output));
        std::io::copy(&mut input, &mut output).map_err(|e| self.fail(rel, "copy", e))?;
        self.meta_fd(input.as_fd(), output.as_fd(), st, rel)?;
        rustix::fs::futimens(&output, &times(st)).map_err(|e| self.fail(rel, "set times", e))?;
        if st.st_nlink > 1 {
            self.links.insert(key, rel.to_vec());
        }
        Ok(())
    }

    /// Owner, mode and xattrs (except overlay's own) from `src` to `dst`.
    fn meta_fd(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        st: &Stat,
        rel: &[u8],
    ) -> Result<()> {
        if self.same_owner {
            rustix::fs::fchown(
                dst,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
            )
            .map_err(|e| self.fail(rel, "set owner", e))?;
        }
        rustix::fs::fchmod(dst, Mode::from_raw_mode(st.st_mode & 0o7777))
            .map_err(|e| self.fail(rel, "set mode", e))?;
        let mut list = vec![0u8; 64 << 10];
        let n = match rustix::fs::flistxattr(src, &mut list) {
            Ok(n) => n,
            Err(Errno::NOTSUP) => return Ok(()),
            Err(e) => return Err(self.fail(rel, "list xattrs", e)),
        };
        for key in list[..n].split(|&b| b == 0).filter(|k| !k.is_empty()) {
            if key.starts_with(b"trusted.overlay.") || key.starts_with(b"user.overlay.") {
                continue;
            }
            let key = OsStr::from_bytes(key);
            let mut value = vec![0u8; 64 << 10];
            let Ok(len) = rustix::fs::fgetxattr(src, key, &mut value) else {
                continue;
            };
            match rustix::fs::fsetxattr(dst, key, &value[..len], XattrFlags::empty()) {
                Ok(()) => {}
                Err(Errno::PERM | Errno::NOTSUP) if !self.same_owner => {}
                Err(e) => return Err(self.fail(rel, "set xattr", e)),
            }
        }
        Ok(())
    }

    fn meta_at(
        &self,
        dst: BorrowedFd<'_>,
        name: &OsStr,
        st: &Stat,
        chmod: bool,
        rel: &[u8],
    ) -> Result<()> {
        if self.same_owner {
            rustix::fs::chownat(
                dst,
                name,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| self.fail(rel, "set owner", e))?;
        }
        if chmod {
            rustix::fs::chmodat(
                dst,
                name,
                Mode::from_raw_mode(st.st_mode & 0o7777),
                AtFlags::empty(),
            )
            .map_err(|e| self.fail(rel, "set mode", e))?;
        }
        rustix::fs::utimensat(dst, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.fail(rel, "set times", e))
    }
}

fn times(st: &Stat) -> Timestamps {
    let t = |sec: i64, nsec: u64| Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    Timestamps {
        last_access: t(st.st_atime, st.st_atime_nsec),
        last_modification: t(st.st_mtime, st.st_mtime_nsec),
    }
}
