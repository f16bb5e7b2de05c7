//! `tmpcopyup`: a new tmpfs starts with a copy of what the image had at its
//! destination (Podman passes it for `--tmpfs`). Copies through fds only:
//! the source fd still sees the image's directory under the new tmpfs.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{
    AtFlags, Dir, FileType, Gid, Mode, OFlags, Uid, chownat, fchmod, fchown, mkdirat, mknodat,
    openat, readlinkat, statat, symlinkat,
};
use rustix::io::Errno;

/// Nesting limit, against a pathological image (the kernel's own path depth is bounded too).
const MAX_DEPTH: usize = 64;

/// Copies the entries of directory `src` into directory `dst` (both opened
/// for reading), keeping modes, owners, symlinks and device nodes.
pub(super) fn copy_dir_contents(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<(), Errno> {
    copy_level(src, dst, 0)
}

fn copy_level(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: usize) -> Result<(), Errno> {
    if depth > MAX_DEPTH {
        return Err(Errno::LOOP);
    }
    let mut dir = Dir::read_from(src)?;
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        copy_entry(src, dst, name, depth)?;
    }
    Ok(())
}

fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    depth: usize,
) -> Result<(), Errno> {
    let stat = statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let mode = Mode::from_raw_mode(stat.st_mode & 0o7777);
    let owner = (
        Some(Uid::from_raw(stat.st_uid)),
        Some(Gid::from_raw(stat.st_gid)),
    );
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => {
            mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
            let from = open_dir(src, name)?;
            let to = open_dir(dst, name)?;
            copy_level(from.as_fd(), to.as_fd(), depth + 1)?;
            fchown(&to, owner.0, owner.1)?;
            fchmod(&to, mode)
        }
        FileType::RegularFile => {
            let from = openat(
                src,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let to = openat(dst, name, flags, Mode::from_raw_mode(0o600))?;
            copy_bytes(from, &to)?;
            fchown(&to, owner.0, owner.1)?;
            fchmod(&to, mode)
        }
        FileType::Symlink => {
            let target = readlinkat(src, name, Vec::new())?;
            symlinkat(target.as_c_str(), dst, name)?;
            chownat(dst, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)
        }
        kind => {
            mknodat(dst, name, kind, mode, stat.st_rdev)?;
            chownat(dst, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)
        }
    }
}

fn open_dir(parent: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
    openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn copy_bytes(from: OwnedFd, to: &OwnedFd) -> Result<(), Errno> {
    let mut reader = std::fs::File::from(from);
    let mut writer = std::fs::File::from(
        to.try_clone()
            .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?,
    );
    std::io::copy(&mut reader, &mut writer)
        .map(drop)
        .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn open(path: &std::path::Path) -> OwnedFd {
        rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn copies_files_dirs_and_symlinks_with_modes() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("sub")).unwrap();
        std::fs::write(src.path().join("sub/file"), b"hello").unwrap();
        std::fs::set_permissions(
            src.path().join("sub/file"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::fs::set_permissions(
            src.path().join("sub"),
            std::fs::Permissions::from_mode(0o751),
        )
        .unwrap();
        std::os::unix::fs::symlink("sub/file", src.path().join("link")).unwrap();
        copy_dir_contents(open(src.path()).as_fd(), open(dst.path()).as_fd()).unwrap();
        assert_eq!(
            std::fs::read(dst.path().join("sub/file")).unwrap(),
            b"hello"
        );
        let mode = |p: &str| {
            std::fs::symlink_metadata(dst.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("sub/file"), 0o640);
        assert_eq!(mode("sub"), 0o751);
        assert_eq!(
            std::fs::read_link(dst.path().join("link")).unwrap(),
            std::path::Path::new("sub/file")
        );
    }
}
