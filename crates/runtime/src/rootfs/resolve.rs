//! Path resolution confined to the container's root, before pivot_root.
//!
//! Every lookup goes through `openat2(root, path, RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)`: the kernel resolves symlinks and `..` as if `root`
//! were `/`, so a symlink in the image (absolute, relative or through `..`)
//! can never lead a mount, device or directory creation to a host path.
//! Missing components are created one by one inside the directory the kernel
//! resolved, and a dangling symlink is followed (still inside the root), which
//! is how runc's securejoin behaves.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags, mkdirat, openat, openat2, readlinkat};
use rustix::io::Errno;

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);
/// Like the kernel's limit on nested symlinks.
const MAX_DANGLING_SYMLINKS: usize = 40;

/// What to create when a path does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Create {
    /// Fail with ENOENT.
    Nothing,
    /// A directory (and its missing parents).
    Dir,
    /// An empty regular file (and its missing parent directories).
    File,
}

/// An fd for a path inside the root, and whether the path was there before.
#[derive(Debug)]
pub(super) struct Resolved {
    pub fd: OwnedFd,
    pub existed: bool,
}

/// Opens `path` (relative to the root; a leading `/` is ignored) inside
/// `root` with `flags` (`O_CLOEXEC` is added), creating it as `create` says.
pub(super) fn open_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    create: Create,
) -> Result<Resolved, Errno> {
    let relative = relative(path);
    match lookup(root, relative, flags) {
        Ok(fd) => Ok(Resolved { fd, existed: true }),
        Err(Errno::NOENT) if create != Create::Nothing => {
            let fd = create_in_root(root, relative, flags, create)?;
            Ok(Resolved { fd, existed: false })
        }
        Err(errno) => Err(errno),
    }
}

/// Retries of a lookup that the kernel could not prove safe (see [`lookup`]).
const MAX_LOOKUP_RETRIES: usize = 64;

/// One confined lookup. The kernel answers EAGAIN when a `..` was walked
/// while any mount or rename happened on the machine (it cannot prove the
/// walk stayed inside); that is a retry, not an error.
fn lookup(root: BorrowedFd<'_>, path: impl AsRef<Path>, flags: OFlags) -> Result<OwnedFd, Errno> {
    let path = path.as_ref();
    let mut tries = 0;
    loop {
        match openat2(root, path, flags | OFlags::CLOEXEC, Mode::empty(), RESOLVE) {
            Err(Errno::AGAIN) if tries < MAX_LOOKUP_RETRIES => tries += 1,
            other => return other,
        }
    }
}

/// `path` without its leading `/`, or `.` for the root itself.
pub(super) fn relative(path: &Path) -> &Path {
    let stripped = path.strip_prefix("/").unwrap_or(path);
    if stripped.as_os_str().is_empty() {
        Path::new(".")
    } else {
        stripped
    }
}

/// Creates the missing `path` inside `root` (the caller has seen it missing)
/// and opens it with `flags`.
pub(super) fn create_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    create: Create,
) -> Result<OwnedFd, Errno> {
    let path = relative(path);
    let mut next = match create_last(root, path, flags, create)? {
        Walk::Done(fd) => return Ok(fd),
        Walk::Retry(next) => next,
    };
    for _ in 0..MAX_DANGLING_SYMLINKS {
        match walk_and_create(root, &next, flags, create)? {
            Walk::Done(fd) => return Ok(fd),
            Walk::Retry(retry) => next = retry,
        }
    }
    Err(Errno::LOOP)
}

/// The usual case, in one lookup: only the last component is missing.
/// Anything else goes to the component-by-component walk.
fn create_last(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    create: Create,
) -> Result<Walk, Errno> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(Walk::Retry(path.to_path_buf()));
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let dir = match lookup(root, parent, OFlags::PATH | OFlags::DIRECTORY) {
        Ok(dir) => dir,
        Err(Errno::NOENT) => return Ok(Walk::Retry(path.to_path_buf())),
        Err(errno) => return Err(errno),
    };
    match create_missing(dir.as_fd(), name, create == Create::File)? {
        Some(target) => Ok(Walk::Retry(retry_path(path, &target, &[]))),
        None => {
            let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            Ok(Walk::Done(openat(&dir, name, flags, Mode::empty())?))
        }
    }
}

enum Walk {
    Done(OwnedFd),
    /// A dangling symlink was met: resolve this path instead.
    Retry(PathBuf),
}

fn walk_and_create(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    create: Create,
) -> Result<Walk, Errno> {
    let components: Vec<&OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            Component::ParentDir => Some(OsStr::new("..")),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    let mut prefix = PathBuf::new();
    let mut current: Option<OwnedFd> = None;
    for (i, name) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let want = if last {
            flags
        } else {
            OFlags::PATH | OFlags::DIRECTORY
        };
        prefix.push(name);
        match lookup(root, &prefix, want) {
            Ok(fd) => {
                current = Some(fd);
                continue;
            }
            Err(Errno::NOENT) => {}
            Err(errno) => return Err(errno),
        }
        // `name` is missing from the directory the kernel resolved so far.
        let parent = current.as_ref().map_or(root, |fd| fd.as_fd());
        let as_file = last && create == Create::File;
        if let Some(target) = create_missing(parent, name, as_file)? {
            return Ok(Walk::Retry(retry_path(
                &prefix,
                &target,
                &components[i + 1..],
            )));
        }
        // We just made it, so it is no symlink: open it next to its parent.
        current = Some(openat(
            parent,
            *name,
            want | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?);
    }
    match current {
        Some(fd) => Ok(Walk::Done(fd)),
        None => Ok(Walk::Done(lookup(root, ".", flags)?)),
    }
}

/// Creates `name` in `parent`. `Ok(Some(target))` when `name` turns out to
/// be a dangling symlink (it exists but could not be opened).
fn create_missing(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    as_file: bool,
) -> Result<Option<Vec<u8>>, Errno> {
    let made = if as_file {
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
        openat(parent, name, flags, Mode::from_raw_mode(0o644)).map(drop)
    } else {
        mkdirat(parent, name, Mode::from_raw_mode(0o755))
    };
    match made {
        Ok(()) => Ok(None),
        Err(Errno::EXIST) => Ok(Some(readlinkat(parent, name, Vec::new())?.into_bytes())),
        Err(errno) => Err(errno),
    }
}

/// The path to resolve instead of `prefix` (whose last component is a
/// symlink to `target`) followed by `rest`; still looked up inside the root.
fn retry_path(prefix: &Path, target: &[u8], rest: &[&OsStr]) -> PathBuf {
    let target = Path::new(OsStr::from_bytes(target));
    let mut next = match target.is_absolute() {
        true => PathBuf::new(),
        false => prefix.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    next.push(relative(target));
    next.extend(rest);
    next
}

/// `/proc/self/fd/N` for `fd`, without allocating: mount(2) follows this
/// magic link to exactly the file the fd holds, so a path swapped after the
/// lookup cannot redirect the mount.
pub(super) struct ProcFdPath {
    buf: [u8; 32],
}

impl ProcFdPath {
    pub fn new(fd: BorrowedFd<'_>) -> Self {
        use std::os::fd::AsRawFd;
        const PREFIX: &[u8] = b"/proc/self/fd/";
        let mut buf = [0u8; 32];
        buf[..PREFIX.len()].copy_from_slice(PREFIX);
        let mut digits = [0u8; 10];
        let mut n = fd.as_raw_fd().unsigned_abs();
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for (i, d) in digits[..len].iter().rev().enumerate() {
            buf[PREFIX.len() + i] = *d;
        }
        Self { buf }
    }

    pub fn as_c_str(&self) -> &std::ffi::CStr {
        // The buffer always holds the prefix, 1-10 digits and a NUL (it is zeroed).
        std::ffi::CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"/proc/self/fd/")
    }
}

impl std::fmt::Debug for ProcFdPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ProcFdPath").field(&self.as_c_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn root_of(dir: &Path) -> OwnedFd {
        rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn proc_fd_path_formats_the_number() {
        let dir = tempfile::tempdir().unwrap();
        let fd = root_of(dir.path());
        let path = ProcFdPath::new(fd.as_fd());
        use std::os::fd::AsRawFd;
        assert_eq!(
            path.as_c_str().to_str().unwrap(),
            format!("/proc/self/fd/{}", fd.as_raw_fd())
        );
    }

    #[test]
    fn relative_strips_the_root() {
        assert_eq!(relative(Path::new("/a/b")), Path::new("a/b"));
        assert_eq!(relative(Path::new("/")), Path::new("."));
    }

    #[test]
    fn creates_missing_directories_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = root_of(dir.path());
        let r = open_in_root(root.as_fd(), Path::new("/a/b/c"), OFlags::PATH, Create::Dir).unwrap();
        assert!(!r.existed);
        assert!(dir.path().join("a/b/c").is_dir());
        let r = open_in_root(root.as_fd(), Path::new("/a/b/c"), OFlags::PATH, Create::Dir).unwrap();
        assert!(r.existed);
        open_in_root(
            root.as_fd(),
            Path::new("/a/file"),
            OFlags::PATH,
            Create::File,
        )
        .unwrap();
        assert!(dir.path().join("a/file").is_file());
    }

    #[test]
    fn symlinks_and_dotdot_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = root_of(dir.path());
        std::os::unix::fs::symlink(outside.path(), dir.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../..", dir.path().join("up")).unwrap();
        open_in_root(
            root.as_fd(),
            Path::new("/abs/made"),
            OFlags::PATH,
            Create::Dir,
        )
        .unwrap();
        open_in_root(
            root.as_fd(),
            Path::new("/up/made2"),
            OFlags::PATH,
            Create::Dir,
        )
        .unwrap();
        open_in_root(
            root.as_fd(),
            Path::new("/../../made3"),
            OFlags::PATH,
            Create::Dir,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "nothing created outside"
        );
        let inside = dir
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("made");
        assert!(
            inside.is_dir(),
            "the absolute symlink resolved inside the root: {}",
            inside.display()
        );
        assert!(dir.path().join("made2").is_dir());
        assert!(dir.path().join("made3").is_dir());
    }

    #[test]
    fn dangling_symlinks_are_followed_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = root_of(dir.path());
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink(
            "/run/resolv/resolv.conf",
            dir.path().join("etc/resolv.conf"),
        )
        .unwrap();
        open_in_root(
            root.as_fd(),
            Path::new("/etc/resolv.conf"),
            OFlags::PATH,
            Create::File,
        )
        .unwrap();
        assert!(dir.path().join("run/resolv/resolv.conf").is_file());
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        let err = open_in_root(
            root.as_fd(),
            Path::new("/loop/x"),
            OFlags::PATH,
            Create::Dir,
        )
        .unwrap_err();
        assert_eq!(err, Errno::LOOP);
    }
}
