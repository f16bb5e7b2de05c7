//! Applying one layer (an uncompressed tar stream) into an empty layer
//! directory, in the form overlayfs reads as a lower layer:
//! - `.wh.NAME` becomes a whiteout (character device 0:0) named `NAME`;
//! - `.wh..wh..opq` sets the directory's `overlay.opaque` xattr to `y`;
//! - owners, modes (setuid too), times, xattrs, hard links, symlinks,
//!   device nodes (with privileges), sparse files and long names are kept.
//!
//! Nothing outside the directory is ever written, linked or removed,
//! whatever the entry names, link targets or whiteouts say: see [`tree`].

mod meta;
pub(crate) mod path;
pub(crate) mod tree;
mod write;

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, XattrFlags};
use rustix::io::Errno;
use tar::EntryType;

use crate::error::{Error, Result};
use meta::Meta;
use path::{EntryKind, LayerPath, classify};
use tree::{Tree, lstat_at};

/// How whiteouts and opaque directories are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutFormat {
    /// Whiteout devices and `trusted.overlay.opaque` (needs CAP_SYS_ADMIN;
    /// overlay mounted without `userxattr`).
    OverlayTrusted,
    /// Whiteout devices and `user.overlay.opaque` (unprivileged; overlay
    /// mounted with `userxattr`).
    OverlayUser,
}

impl WhiteoutFormat {
    /// The xattr that marks an opaque directory.
    pub fn opaque_xattr(self) -> &'static str {
        match self {
            WhiteoutFormat::OverlayTrusted => "trusted.overlay.opaque",
            WhiteoutFormat::OverlayUser => "user.overlay.opaque",
        }
    }
}

/// Options of [`apply_layer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Give files the owners the layer names (needs CAP_CHOWN).
    pub same_owner: bool,
    /// Create character and block devices (needs CAP_MKNOD); skipped and
    /// counted otherwise.
    pub devices: bool,
    pub whiteouts: WhiteoutFormat,
}

impl Default for ApplyOptions {
    /// Everything when running as root; otherwise what an unprivileged user
    /// can do.
    fn default() -> Self {
        let root = rustix::process::geteuid().is_root();
        ApplyOptions {
            same_owner: root,
            devices: root,
            whiteouts: if root {
                WhiteoutFormat::OverlayTrusted
            } else {
                WhiteoutFormat::OverlayUser
            },
        }
    }
}

/// What an apply did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    pub entries: u64,
    /// Bytes of regular file content.
    pub bytes: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    pub skipped_devices: u64,
    pub skipped_xattrs: u64,
}

/// Applies the tar stream `reader` to the directory `dest`. On error, what
/// was written so far stays: callers unpack into a temporary directory.
/// The reader is left after the end-of-archive marker.
pub fn apply_layer<R: Read>(
    reader: &mut R,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyStats> {
    let mut state = Apply {
        tree: Tree::open(dest)?,
        opts: *opts,
        stats: ApplyStats::default(),
        dir_times: Vec::new(),
        buf: vec![0u8; 256 << 10],
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive
        .entries()
        .map_err(|source| Error::BadStream { source })?
    {
        let mut entry = entry.map_err(|source| Error::BadStream { source })?;
        state.entry(&mut entry)?;
    }
    state.finish_dirs();
    Ok(state.stats)
}

struct Apply {
    tree: Tree,
    opts: ApplyOptions,
    stats: ApplyStats,
    /// Directory times are set last: adding children changes them.
    dir_times: Vec<(Vec<u8>, Meta)>,
    buf: Vec<u8>,
}

impl Apply {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let path = LayerPath::parse(&raw)?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        self.stats.entries += 1;
        match classify(&path, &name)? {
            EntryKind::AufsMeta => return Ok(()),
            EntryKind::Opaque => return self.opaque(&path, &name),
            EntryKind::Whiteout(hidden) => return self.whiteout(&path, &hidden, &name),
            EntryKind::Plain => {}
        }
        let meta = Meta::from_entry(entry, &name)?;
        if path.is_root() {
            if kind == EntryType::Directory {
                let root = self.tree.root();
                meta::apply_fd(root.as_fd(), &meta, &self.opts, &mut self.stats, &name)?;
                self.dir_times.push((Vec::new(), meta));
            }
            return Ok(());
        }
        let parent = self.tree.dir(&path.parent_bytes(), &name)?;
        let file = OsStr::from_bytes(path.name());
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular(&parent, file, entry, &meta, &name)
            }
            EntryType::Directory => self.directory(&parent, file, &path, meta, &name),
            EntryType::Symlink => self.symlink(&parent, file, entry, &meta, &name),
            EntryType::Link => self.hardlink(&parent, file, entry, &name),
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.node(&parent, file, kind, entry, &meta, &name)
            }
            other => Err(Error::entry(
                &name,
                format!("unsupported tar entry type {other:?}"),
            )),
        }
    }

    /// Makes room for a new non-directory object at `file`.
    fn clear_way(&mut self, parent: &OwnedFd, file: &OsStr, name: &str) -> Result<()> {
        match lstat_at(parent.as_fd(), file) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => self.tree.remove(parent.as_fd(), file, name),
            Err(e) => Err(Error::entry_io(name, "inspect existing file", e)),
        }
    }

    fn regular<R: Read>(
        &mut self,
        parent: &OwnedFd,
        file: &OsStr,
        entry: &mut tar::Entry<'_, R>,
        meta: &Meta,
        name: &str,
    ) -> Result<()> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(parent, file, flags, Mode::from_raw_mode(0o600)) {
            Err(Errno::EXIST) => {
                self.clear_way(parent, file, name)?;
                rustix::fs::openat(parent, file, flags, Mode::from_raw_mode(0o600))
            }
            other => other,
        }
        .map_err(|e| Error::entry_io(name, "create file", e))?;
        let out = File::from(fd);
        let n = write::write_sparse(&out, entry, &mut self.buf)
            .map_err(|e| Error::entry_io(name, "write file", e))?;
        self.stats.bytes += n;
        meta::apply_fd(out.as_fd(), meta, &self.opts, &mut self.stats, name)?;
        meta::set_times_fd(&out, meta, name)
    }

    fn directory(
        &mut self,
        parent: &OwnedFd,
        file: &OsStr,
        path: &LayerPath,
        meta: Meta,
        name: &str,
    ) -> Result<()> {
        match rustix::fs::mkdirat(parent, file, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(Errno::EXIST) => {
                let st = lstat_at(parent.as_fd(), file)
                    .map_err(|e| Error::entry_io(name, "inspect existing file", e))?;
                if st.is_none_or(|s| FileType::from_raw_mode(s.st_mode) != FileType::Directory) {
                    self.clear_way(parent, file, name)?;
                    rustix::fs::mkdirat(parent, file, Mode::from_raw_mode(0o700))
                        .map_err(|e| Error::entry_io(name, "create directory", e))?;
                }
            }
            Err(e) => return Err(Error::entry_io(name, "create directory", e)),
        }
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(parent, file, dir_flags, Mode::empty())
            .map_err(|e| Error::entry_io(name, "open directory", e))?;
        meta::apply_fd(fd.as_fd(), &meta, &self.opts, &mut self.stats, name)?;
        self.dir_times.push((path.bytes(), meta));
        Ok(())
    }

    fn symlink<R: Read>(
        &mut self,
        parent: &OwnedFd,
        file: &OsStr,
        entry: &tar::Entry<'_, R>,
        meta: &Meta,
        name: &str,
    ) -> Result<()> {
        let target = entry
            .link_name_bytes()
            .ok_or_else(|| Error::entry(name, "symlink without a target"))?
            .into_owned();
        // The target is stored as given; it is only ever resolved inside
        // the layer or the container, never by the unpacker.
        let target = OsStr::from_bytes(&target);
        self.clear_way(parent, file, name)?;
        rustix::fs::symlinkat(target, parent, file)
            .map_err(|e| Error::entry_io(name, "create symlink", e))?;
        meta::apply_at(
            parent.as_fd(),
            file,
            meta,
            true,
            &self.opts,
            &mut self.stats,
            name,
        )
    }

    fn hardlink<R: Read>(
        &mut self,
        parent: &OwnedFd,
        file: &OsStr,
        entry: &tar::Entry<'_, R>,
        name: &str,
    ) -> Result<()> {
        let raw = entry
            .link_name_bytes()
            .ok_or_else(|| Error::entry(name, "hard link without a target"))?
            .into_owned();
        let target = LayerPath::parse(&raw)?;
        if target.is_root() {
            return Err(Error::entry(name, "hard link to the layer root"));
        }
        let target_dir = match self.tree.existing_dir(&target.parent_bytes()) {
            Ok(Some(fd)) => fd,
            Ok(None) | Err(Errno::NOTDIR) => {
                return Err(Error::entry(name, "hard link target is not in the layer"));
            }
            Err(e) => return Err(Error::entry_io(name, "open hard link target", e)),
        };
        let target_name = OsStr::from_bytes(target.name());
        if target.bytes() == LayerPath::parse(entry.path_bytes().as_ref())?.bytes() {
            return Ok(()); // A link to itself: nothing to do.
        }
        self.clear_way(parent, file, name)?;
        // Without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink.
        rustix::fs::linkat(&*target_dir, target_name, parent, file, AtFlags::empty()).map_err(|e| {
            match e {
                Errno::NOENT => Error::entry(name, "hard link target is not in the layer"),
                e => Error::entry_io(name, "create hard link", e),
            }
        })
    }

    fn node<R: Read>(
        &mut self,
        parent: &OwnedFd,
        file: &OsStr,
        kind: EntryType,
        entry: &tar::Entry<'_, R>,
        meta: &Meta,
        name: &str,
    ) -> Result<()> {
        let h = entry.header();
        let file_type = match kind {
            EntryType::Char => FileType::CharacterDevice,
            EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        if file_type != FileType::Fifo && !self.opts.devices {
            self.stats.skipped_devices += 1;
            return Ok(());
        }
        let major = h.device_major().ok().flatten().unwrap_or(0);
        let minor = h.device_minor().ok().flatten().unwrap_or(0);
        self.clear_way(parent, file, name)?;
        rustix::fs::mknodat(
            parent,
            file,
            file_type,
            Mode::from_raw_mode(0o600),
            rustix::fs::makedev(major, minor),
        )
        .map_err(|e| Error::entry_io(name, "create device node", e))?;
        meta::apply_at(
            parent.as_fd(),
            file,
            meta,
            false,
            &self.opts,
            &mut self.stats,
            name,
        )
    }

    /// `.wh.NAME`: a whiteout device, unless this layer itself has `NAME`
    /// (a whiteout only hides lower layers' files).
    fn whiteout(&mut self, path: &LayerPath, hidden: &[u8], name: &str) -> Result<()> {
        let parent = self.tree.dir(&path.parent_bytes(), name)?;
        let hidden = OsStr::from_bytes(hidden);
        match lstat_at(parent.as_fd(), hidden) {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => {}
            Err(e) => return Err(Error::entry_io(name, "inspect whited-out file", e)),
        }
        rustix::fs::mknodat(
            &*parent,
            hidden,
            FileType::CharacterDevice,
            Mode::empty(),
            rustix::fs::makedev(0, 0),
        )
        .map_err(|e| Error::entry_io(name, "create whiteout device", e))?;
        self.stats.whiteouts += 1;
        Ok(())
    }

    /// `.wh..wh..opq`: mark the directory opaque for overlay.
    fn opaque(&mut self, path: &LayerPath, name: &str) -> Result<()> {
        let dir = self.tree.dir(&path.parent_bytes(), name)?;
        rustix::fs::fsetxattr(
            &*dir,
            self.opts.whiteouts.opaque_xattr(),
            b"y",
            XattrFlags::empty(),
        )
        .map_err(|e| Error::entry_io(name, "mark directory opaque", e))?;
        self.stats.opaque_dirs += 1;
        Ok(())
    }

    /// Sets directory times now that nothing more is added to them.
    fn finish_dirs(&mut self) {
        for (rel, meta) in self.dir_times.iter().rev() {
            if let Ok(Some(fd)) = self.tree.existing_dir(rel) {
                let _ = meta::set_times_fd(&*fd, meta, "");
            }
        }
    }
}
