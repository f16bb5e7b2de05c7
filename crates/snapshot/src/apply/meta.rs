//! File metadata from tar headers (owner, mode, times, xattrs) and applying
//! it to objects created inside a layer.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use super::{ApplyOptions, ApplyStats};
use crate::error::{Error, Result};

/// Xattr prefixes a layer may not set: overlayfs interprets them (opaque,
/// redirect, metacopy), so a layer could otherwise change what the merged
/// view shows beyond its own files.
const RESERVED_XATTR_PREFIXES: [&[u8]; 2] = [b"trusted.overlay.", b"user.overlay."];
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// The metadata of one entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    pub fn from_entry<R: Read>(entry: &mut tar::Entry<'_, R>, name: &str) -> Result<Self> {
        let h = entry.header();
        let bad = |what: &str| Error::entry(name, format!("unreadable {what} in the tar header"));
        let mut meta = Meta {
            mode: h.mode().map_err(|_| bad("mode"))? & 0o7777,
            uid: h
                .uid()
                .map_err(|_| bad("uid"))?
                .try_into()
                .map_err(|_| bad("uid"))?,
            gid: h
                .gid()
                .map_err(|_| bad("gid"))?
                .try_into()
                .map_err(|_| bad("gid"))?,
            mtime: h
                .mtime()
                .map_err(|_| bad("mtime"))?
                .try_into()
                .unwrap_or(i64::MAX),
            mtime_nsec: 0,
            xattrs: Vec::new(),
        };
        if let Some(exts) = entry
            .pax_extensions()
            .map_err(|e| Error::entry_io(name, "read PAX header", e))?
        {
            for ext in exts {
                let ext = ext.map_err(|e| Error::entry_io(name, "read PAX header", e))?;
                let Ok(key) = ext.key() else { continue };
                if key.starts_with("GNU.sparse.") {
                    return Err(Error::entry(
                        name,
                        "PAX sparse files (tar --sparse --format=posix) are not supported; rebuild the layer without --sparse or with the GNU format",
                    ));
                }
                if key == "mtime"
                    && let Some((secs, nsec)) = ext.value().ok().and_then(parse_pax_time)
                {
                    (meta.mtime, meta.mtime_nsec) = (secs, nsec);
                }
                if let Some(xattr) = key.strip_prefix(PAX_XATTR_PREFIX) {
                    meta.xattrs
                        .push((xattr.as_bytes().to_vec(), ext.value_bytes().to_vec()));
                }
            }
        }
        if meta.uid == u32::MAX || meta.gid == u32::MAX {
            return Err(Error::entry(name, "uid or gid -1 is not a valid owner"));
        }
        Ok(meta)
    }

    pub fn timestamps(&self) -> Timestamps {
        let t = Timespec {
            tv_sec: self.mtime,
            tv_nsec: self.mtime_nsec as _,
        };
        Timestamps {
            last_access: t,
            last_modification: t,
        }
    }

    fn owner(&self) -> (Option<Uid>, Option<Gid>) {
        (Some(Uid::from_raw(self.uid)), Some(Gid::from_raw(self.gid)))
    }

    fn settable_xattrs(&self) -> impl Iterator<Item = &(Vec<u8>, Vec<u8>)> {
        self.xattrs
            .iter()
            .filter(|(k, _)| !RESERVED_XATTR_PREFIXES.iter().any(|p| k.starts_with(p)))
    }
}

/// A PAX time: `secs[.fraction]` (fraction of up to 9 digits kept).
fn parse_pax_time(v: &str) -> Option<(i64, i64)> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    if secs < 0 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    Some((secs, digits.parse().ok()?))
}

/// Owner, then mode (chown clears setuid bits), then xattrs, on an open
/// file or directory. Times are set by the caller at the right moment.
pub(crate) fn apply_fd(
    fd: BorrowedFd<'_>,
    meta: &Meta,
    opts: &ApplyOptions,
    stats: &mut ApplyStats,
    name: &str,
) -> Result<()> {
    if opts.same_owner {
        let (u, g) = meta.owner();
        rustix::fs::fchown(fd, u, g).map_err(|e| Error::entry_io(name, "set owner", e))?;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode))
        .map_err(|e| Error::entry_io(name, "set mode", e))?;
    for (k, v) in meta.settable_xattrs() {
        let r = rustix::fs::fsetxattr(fd, OsStr::from_bytes(k), v, XattrFlags::empty());
        xattr_result(r, opts, stats, name)?;
    }
    Ok(())
}

/// The same for objects that cannot be opened (symlinks, device nodes):
/// addressed as `name` in the directory `dir`, never following a symlink.
pub(crate) fn apply_at(
    dir: BorrowedFd<'_>,
    file: &OsStr,
    meta: &Meta,
    is_symlink: bool,
    opts: &ApplyOptions,
    stats: &mut ApplyStats,
    name: &str,
) -> Result<()> {
    if opts.same_owner {
        let (u, g) = meta.owner();
        rustix::fs::chownat(dir, file, u, g, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| Error::entry_io(name, "set owner", e))?;
    }
    if !is_symlink {
        rustix::fs::chmodat(dir, file, Mode::from_raw_mode(meta.mode), AtFlags::empty())
            .map_err(|e| Error::entry_io(name, "set mode", e))?;
    }
    if meta.settable_xattrs().next().is_some() {
        // lsetxattr through the directory's fd: the last component is not
        // followed, and the directory is already resolved inside the layer.
        let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
        path.extend_from_slice(file.as_bytes());
        let path = OsStr::from_bytes(&path);
        for (k, v) in meta.settable_xattrs() {
            let r = rustix::fs::lsetxattr(path, OsStr::from_bytes(k), v, XattrFlags::empty());
            xattr_result(r, opts, stats, name)?;
        }
    }
    rustix::fs::utimensat(dir, file, &meta.timestamps(), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Error::entry_io(name, "set times", e))
}

/// Without privileges, xattrs the kernel refuses (security.*, trusted.*)
/// are skipped and counted; with them, every failure is an error.
fn xattr_result(
    r: rustix::io::Result<()>,
    opts: &ApplyOptions,
    stats: &mut ApplyStats,
    name: &str,
) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(Errno::PERM | Errno::NOTSUP | Errno::ACCESS) if !opts.same_owner => {
            stats.skipped_xattrs += 1;
            Ok(())
        }
        Err(e) => Err(Error::entry_io(name, "set extended attribute", e)),
    }
}

/// Sets access and modification times on an open object.
pub(crate) fn set_times_fd(fd: impl AsFd, meta: &Meta, name: &str) -> Result<()> {
    rustix::fs::futimens(fd, &meta.timestamps()).map_err(|e| Error::entry_io(name, "set times", e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pax_times_keep_nanoseconds() {
        assert_eq!(
            super::parse_pax_time("1795925364.676441643"),
            Some((1795925364, 676441643))
        );
        assert_eq!(super::parse_pax_time("12.5"), Some((12, 500_000_000)));
        assert_eq!(super::parse_pax_time("12"), Some((12, 0)));
        assert_eq!(super::parse_pax_time("-1.5"), None);
    }
}
