//! Working inside a container's root filesystem from the host, confined to
//! it: every path is resolved with `openat2(RESOLVE_IN_ROOT)`, so symlinks
//! and `..` in the image can never lead outside (the confinement `cp`,
//! user lookup and command checks rely on).

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::{Error, IoContext, Result};

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// An open container root directory.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    fd: OwnedFd,
}

impl Root {
    pub fn open(path: &Path) -> Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx("open the container root", path)?;
        Ok(Root {
            path: path.to_owned(),
            fd,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `path` (absolute or relative, read as if `/` were the root).
    pub fn open_at(&self, path: &str, flags: OFlags, mode: u32) -> std::io::Result<OwnedFd> {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        rustix::fs::openat2(
            &self.fd,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
            RESOLVE,
        )
        .map_err(Into::into)
    }

    /// Reads a small text file; `None` if it does not exist.
    pub fn read_to_string(&self, path: &str, limit: u64) -> Result<Option<String>> {
        match self.open_at(path, OFlags::RDONLY, 0) {
            Ok(fd) => {
                let mut text = String::new();
                File::from(fd)
                    .take(limit)
                    .read_to_string(&mut text)
                    .ctx("read", self.path.join(path.trim_start_matches('/')))?;
                Ok(Some(text))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(
                "open",
                self.path.join(path.trim_start_matches('/')),
                e,
            )),
        }
    }

    /// Metadata of `path` (following symlinks, confined).
    pub fn stat(&self, path: &str) -> std::io::Result<std::fs::Metadata> {
        let fd = self.open_at(path, OFlags::PATH, 0)?;
        // An O_PATH descriptor supports fstat through std's metadata.
        File::from(fd).metadata()
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}

/// Finds the program `args[0]` runs, as execvp would with the container's
/// `PATH`: a missing program is [`Error::CommandNotFound`] (exit 127), one
/// that is a directory or not executable [`Error::CannotExecute`] (126).
pub fn check_command(root: &Root, program: &str, env: &[String], cwd: &str) -> Result<()> {
    let candidates: Vec<String> = if program.contains('/') {
        if program.starts_with('/') {
            vec![program.to_owned()]
        } else {
            vec![format!("{}/{program}", cwd.trim_end_matches('/'))]
        }
    } else {
        let path = env
            .iter()
            .find_map(|v| v.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
            .collect()
    };
    let mut not_executable = None;
    for candidate in &candidates {
        match root.stat(candidate) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(meta) if meta.is_dir() => {
                not_executable.get_or_insert_with(|| format!("{candidate} is a directory"));
            }
            Ok(_) => {
                not_executable
                    .get_or_insert_with(|| format!("{candidate} is not executable (chmod +x it)"));
            }
            Err(_) => {}
        }
    }
    match not_executable {
        Some(reason) => Err(Error::CannotExecute {
            command: program.to_owned(),
            reason,
        }),
        None => Err(Error::CommandNotFound {
            command: program.to_owned(),
        }),
    }
}

/// Whether `path` is a mount point (its device differs from its parent's,
/// or it is the target of a bind mount of the same filesystem).
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let Some(want) = path.to_str() else {
        return false;
    };
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape(mp) == want)
}

/// mountinfo escapes spaces and a few other bytes as `\NNN` octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = (b[i] == b'\\' && i + 4 <= b.len())
            .then(|| std::str::from_utf8(&b[i + 1..i + 4]).ok())
            .flatten()
            .and_then(|t| u8::from_str_radix(t, 8).ok());
        match octal {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts everything mounted at `path` (stacked mounts included).
pub fn unmount_all(path: &Path) -> Result<()> {
    for _ in 0..16 {
        match rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH) {
            Ok(()) => {}
            Err(Errno::INVAL) | Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(Error::io("unmount", path, e.into())),
        }
    }
    Ok(())
}

/// Copies the tree under `from` (a directory inside `root`) into the empty
/// directory `to`, keeping owners, modes and symlinks (a named volume's
/// first use, seeded from the image as Docker does).
pub fn copy_into_volume(root: &Root, from: &str, to: &Path) -> Result<()> {
    let src = match root.open_at(from, OFlags::RDONLY | OFlags::DIRECTORY, 0) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(2) | Some(20)) => return Ok(()),
        Err(e) => {
            return Err(Error::io(
                "open",
                root.path().join(from.trim_start_matches('/')),
                e,
            ));
        }
    };
    let dst = rustix::fs::open(
        to,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx("open volume", to)?;
    let meta = rustix::fs::fstat(&src).ctx("stat", from)?;
    rustix::fs::fchmod(&dst, Mode::from_raw_mode(meta.st_mode & 0o7777)).ctx("chmod", to)?;
    rustix::fs::fchown(&dst, Some(uid(meta.st_uid)), Some(gid(meta.st_gid))).ctx("chown", to)?;
    copy_dir(&src, &dst, to)
}

fn uid(n: u32) -> rustix::fs::Uid {
    rustix::fs::Uid::from_raw(n)
}

fn gid(n: u32) -> rustix::fs::Gid {
    rustix::fs::Gid::from_raw(n)
}

fn copy_dir(src: &OwnedFd, dst: &OwnedFd, at: &Path) -> Result<()> {
    let dir = rustix::fs::Dir::read_from(src).ctx("list", at)?;
    for entry in dir {
        let entry = entry.ctx("list", at)?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let here = at.join(name.to_string_lossy().as_ref());
        let st = rustix::fs::statat(src, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .ctx("stat", &here)?;
        let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
        match rustix::fs::FileType::from_raw_mode(st.st_mode) {
            rustix::fs::FileType::Directory => {
                rustix::fs::mkdirat(dst, name, mode).ctx("create directory", &here)?;
                let s = rustix::fs::openat(
                    src,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ctx("open", &here)?;
                let d = rustix::fs::openat(
                    dst,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ctx("open", &here)?;
                copy_dir(&s, &d, &here)?;
                rustix::fs::fchmod(&d, mode).ctx("chmod", &here)?;
            }
            rustix::fs::FileType::RegularFile => {
                let s = rustix::fs::openat(
                    src,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ctx("open", &here)?;
                let d = rustix::fs::openat(
                    dst,
                    name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
                    mode,
                )
                .ctx("create", &here)?;
                std::io::copy(
                    &mut File::from(s),
                    &mut File::from(d.try_clone().ctx("dup", &here)?),
                )
                .ctx("copy", &here)?;
                rustix::fs::fchmod(&d, mode).ctx("chmod", &here)?;
            }
            rustix::fs::FileType::Symlink => {
                let target =
                    rustix::fs::readlinkat(src, name, Vec::new()).ctx("read link", &here)?;
                rustix::fs::symlinkat(target.as_c_str(), dst, name).ctx("create symlink", &here)?;
            }
            // Devices, fifos and sockets are not volume content.
            _ => continue,
        }
        rustix::fs::chownat(
            dst,
            name,
            Some(uid(st.st_uid)),
            Some(gid(st.st_gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .ctx("chown", &here)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("bin/tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            root.join("bin/tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(root.join("bin/data"), "x").unwrap();
        std::fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        // A symlink that points at the host's /etc resolves inside the root.
        std::os::unix::fs::symlink("/etc", root.join("hostetc")).unwrap();
        let r = Root::open(root).unwrap();
        assert!(
            r.read_to_string("/hostetc/passwd", 1000)
                .unwrap()
                .unwrap()
                .starts_with("root:x:0:0::/root")
        );
        assert!(
            r.read_to_string("/../../etc/shadow", 1000)
                .unwrap()
                .is_none()
        );
        let env = vec!["PATH=/usr/bin:/bin".to_owned()];
        assert!(check_command(&r, "tool", &env, "/").is_ok());
        assert!(check_command(&r, "/bin/tool", &env, "/").is_ok());
        assert!(matches!(
            check_command(&r, "nope", &env, "/"),
            Err(Error::CommandNotFound { .. })
        ));
        assert!(matches!(
            check_command(&r, "data", &env, "/"),
            Err(Error::CannotExecute { .. })
        ));
        assert!(matches!(
            check_command(&r, "/bin", &env, "/"),
            Err(Error::CannotExecute { .. })
        ));
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
