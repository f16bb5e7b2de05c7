//! The layer directory as seen by an unpacker: every path is resolved with
//! `openat2(RESOLVE_IN_ROOT)` below the layer's root fd, so `..` and
//! symlinks (absolute or relative) can never lead outside it, and every
//! change is made with `*at` calls on a single name inside a resolved
//! directory, never through a symlink in the last component.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);
const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

/// A layer directory being written.
#[derive(Debug)]
pub(crate) struct Tree {
    root: Rc<OwnedFd>,
    /// Resolved directories by relative path. Cleared whenever something is
    /// removed, since a removed directory or symlink may be on a cached path.
    cache: HashMap<Vec<u8>, Rc<OwnedFd>>,
}

impl Tree {
    pub fn open(path: &Path) -> Result<Self> {
        let root = rustix::fs::open(path, DIR_FLAGS, Mode::empty())
            .map_err(|e| Error::io("open layer directory", path, e))?;
        Ok(Tree {
            root: Rc::new(root),
            cache: HashMap::new(),
        })
    }

    pub fn root(&self) -> Rc<OwnedFd> {
        self.root.clone()
    }

    /// Resolves `rel` inside the root without creating anything.
    pub fn existing_dir(&mut self, rel: &[u8]) -> Result<Option<Rc<OwnedFd>>, Errno> {
        if rel.is_empty() {
            return Ok(Some(self.root.clone()));
        }
        if let Some(fd) = self.cache.get(rel) {
            return Ok(Some(fd.clone()));
        }
        match open_in_root(&self.root, rel) {
            Ok(fd) => {
                let fd = Rc::new(fd);
                self.cache.insert(rel.to_vec(), fd.clone());
                Ok(Some(fd))
            }
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Resolves directory `rel`, creating missing components (mode 0755, as
    /// tar and Docker do for parents a layer does not list).
    pub fn dir(&mut self, rel: &[u8], entry: &str) -> Result<Rc<OwnedFd>> {
        match self.existing_dir(rel) {
            Ok(Some(fd)) => return Ok(fd),
            Ok(None) => {}
            Err(Errno::NOTDIR) => {
                return Err(Error::entry(entry, "a parent directory is not a directory"));
            }
            Err(e) => return Err(Error::entry_io(entry, "open parent directory", e)),
        }
        let mut prefix: Vec<u8> = Vec::new();
        let mut current = self.root.clone();
        for component in rel.split(|&b| b == b'/') {
            if !prefix.is_empty() {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(component);
            current = match open_in_root(&self.root, &prefix) {
                Ok(fd) => Rc::new(fd),
                Err(Errno::NOENT) => {
                    let name = OsStr::from_bytes(component);
                    match rustix::fs::mkdirat(&*current, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(Error::entry_io(entry, "create parent directory", e)),
                    }
                    // A dangling symlink in the way makes this fail: refused.
                    let fd = rustix::fs::openat(
                        &*current,
                        name,
                        DIR_FLAGS | OFlags::NOFOLLOW,
                        Mode::empty(),
                    )
                    .map_err(|e| {
                        Error::entry_io(
                            entry,
                            "create parent directory (a non-directory is in the way)",
                            e,
                        )
                    })?;
                    Rc::new(fd)
                }
                Err(Errno::NOTDIR) => {
                    return Err(Error::entry(entry, "a parent directory is not a directory"));
                }
                Err(e) => return Err(Error::entry_io(entry, "open parent directory", e)),
            };
        }
        self.cache.insert(rel.to_vec(), current.clone());
        Ok(current)
    }

    /// Forgets resolved directories (after anything was removed).
    pub fn invalidate(&mut self) {
        self.cache.clear();
    }

    /// Removes `name` in `parent` whatever it is; directories recursively.
    /// Never follows symlinks.
    pub fn remove(&mut self, parent: BorrowedFd<'_>, name: &OsStr, entry: &str) -> Result<()> {
        self.invalidate();
        remove_at(parent, name).map_err(|e| Error::entry_io(entry, "remove what is in the way", e))
    }
}

/// Opens directory `rel` (relative, below `root`) as if `root` were `/`.
pub(crate) fn open_in_root(root: &OwnedFd, rel: &[u8]) -> Result<OwnedFd, Errno> {
    let path = OsStr::from_bytes(rel);
    let mut attempts = 0;
    loop {
        match rustix::fs::openat2(root, path, DIR_FLAGS, Mode::empty(), RESOLVE) {
            // The kernel asks for a retry when a rename raced the lookup.
            Err(Errno::AGAIN) if attempts < 8 => attempts += 1,
            other => return other,
        }
    }
}

/// Stats `name` in `dir` without following a symlink.
pub(crate) fn lstat_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
) -> Result<Option<rustix::fs::Stat>, Errno> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `name` in `dir`, recursively for directories, without following
/// symlinks. Missing is fine.
pub(crate) fn remove_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Err(Errno::NOENT) => Ok(()),
            other => other,
        };
    }
    let child = rustix::fs::openat(dir, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?;
    clear_dir(child.as_fd())?;
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Err(Errno::NOENT) => Ok(()),
        other => other,
    }
}

/// Removes everything inside the open directory `dir`.
pub(crate) fn clear_dir(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        remove_at(dir, OsStr::from_bytes(&n))?;
    }
    Ok(())
}
