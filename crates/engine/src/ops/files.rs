//! `cp` (both ways), `diff`, `export`: a container's files, confined to its
//! root filesystem. A running container is reached through its init's root
//! (`/proc/PID/root`, so volumes are included for `cp`); a stopped one has
//! its snapshot mounted for the time of the call.

use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use brig_snapshot::{MountSpec, Snapshotter};

use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::record::{ContainerRecord, State};
use crate::rootfs::{self, Root};
use crate::tarfs;

/// One `diff` line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// `A`dded, `C`hanged or `D`eleted.
    pub kind: char,
    pub path: String,
}

/// Unmounts a temporary root filesystem mount when dropped.
struct TempMount(PathBuf);

impl Drop for TempMount {
    fn drop(&mut self) {
        let _ = rootfs::unmount_all(&self.0);
    }
}

impl Engine {
    /// Runs `f` with the container's root. `live`: for a running container,
    /// its init's view (volumes included) instead of the image layers.
    fn with_root<T>(
        &self,
        reference: &str,
        live: bool,
        f: impl FnOnce(&Root) -> Result<T>,
    ) -> Result<T> {
        let rec = self.find(reference)?;
        if let (State::Running | State::Paused, Some(pid)) = (rec.state, rec.pid) {
            // The live view is the init's; the image view is the root
            // filesystem mount, which exists in the monitor's namespace.
            let path = match (live, rec.monitor) {
                (false, Some(m)) => PathBuf::from(format!(
                    "/proc/{}/root{}",
                    m.pid,
                    self.ctx.paths.rootfs(&rec.id).display()
                )),
                _ => PathBuf::from(format!("/proc/{pid}/root")),
            };
            return f(&Root::open(&path)?);
        }
        let _lock = self.ctx.lock(&rec.id)?;
        let rec = self.find(&rec.id)?;
        if rec.state.has_monitor() {
            return Err(Error::wrong_state(
                &rec.id,
                rec.state,
                "it started meanwhile; retry",
            ));
        }
        let target = self.ctx.paths.rootfs(&rec.id);
        std::fs::create_dir_all(&target).ctx("create directory", &target)?;
        rootfs::unmount_all(&target)?;
        let _mount = TempMount(target.clone());
        for spec in self.ctx.snapshotter()?.mounts(&rec.id)? {
            spec.mount_at(&target)?;
        }
        f(&Root::open(&target)?)
    }

    /// `cp CONTAINER:SRC -`: a tar of `src` (its contents only when it ends in `/.`).
    pub fn copy_out_tar(&self, reference: &str, src: &str, out: &mut dyn Write) -> Result<()> {
        self.with_root(reference, true, |root| {
            let (path, name) = tar_source(src);
            tarfs::write_tar(root, path, &name, out)
        })
    }

    /// `cp - CONTAINER:DEST`: extracts a tar into the directory `dest`.
    pub fn copy_in_tar(&self, reference: &str, dest: &str, input: &mut dyn Read) -> Result<()> {
        self.with_root(reference, true, |root| {
            tarfs::extract_tar(root, dest, input)
        })
    }

    /// `cp CONTAINER:SRC HOSTPATH`, with Docker's rules: into an existing
    /// directory under the source's name, otherwise as `HOSTPATH` itself.
    pub fn copy_out(&self, reference: &str, src: &str, host: &Path) -> Result<()> {
        let (into, rename) = if host.is_dir() {
            (host.to_owned(), None)
        } else {
            let parent = host
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            (
                parent.to_owned(),
                host.file_name().map(|n| n.to_string_lossy().into_owned()),
            )
        };
        let (path, default_name) = tar_source(src);
        let name = rename.unwrap_or(default_name);
        let (reader, mut writer) = std::io::pipe().ctx("create pipe", "cp")?;
        std::thread::scope(|s| {
            let producer = s.spawn(move || {
                self.with_root(reference, true, |root| {
                    tarfs::write_tar(root, path, &name, &mut writer)
                })
            });
            // The archive owns the reader: dropping it ends a blocked producer.
            let mut archive = tar::Archive::new(reader);
            archive.set_preserve_permissions(true);
            archive.set_overwrite(true);
            let unpacked = archive.unpack(&into).ctx("unpack into", &into);
            drop(archive);
            let produced = producer
                .join()
                .unwrap_or_else(|_| Err(Error::Spec("cp thread panicked".into())));
            produced.and(unpacked)
        })
    }

    /// `cp HOSTPATH CONTAINER:DEST`, with Docker's rules.
    pub fn copy_in(&self, reference: &str, host: &Path, dest: &str) -> Result<()> {
        let meta = std::fs::symlink_metadata(host).ctx("read", host)?;
        let host_name = host
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".to_owned());
        self.with_root(reference, true, |root| {
            let dest_is_dir = root.stat(dest).is_ok_and(|m| m.is_dir());
            let (dir, name) = if dest_is_dir || dest.ends_with('/') {
                (dest.to_owned(), host_name.clone())
            } else {
                let (parent, base) = dest
                    .trim_end_matches('/')
                    .rsplit_once('/')
                    .unwrap_or((".", dest));
                (
                    if parent.is_empty() {
                        "/".to_owned()
                    } else {
                        parent.to_owned()
                    },
                    base.to_owned(),
                )
            };
            let (mut reader, mut writer) = std::io::pipe().ctx("create pipe", "cp")?;
            std::thread::scope(|s| {
                let producer = s.spawn(move || -> std::io::Result<()> {
                    let mut b = tar::Builder::new(&mut writer);
                    b.follow_symlinks(false);
                    if meta.is_dir() {
                        b.append_dir_all(&name, host)?;
                    } else {
                        b.append_path_with_name(host, &name)?;
                    }
                    b.finish()
                });
                let extracted = tarfs::extract_tar(root, &dir, &mut reader);
                drop(reader);
                let produced = producer
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("panicked")));
                extracted.and(produced.ctx("read", host))
            })
        })
    }

    /// `brig diff`: files added, changed and deleted against the image.
    pub fn diff(&self, reference: &str) -> Result<Vec<Change>> {
        let rec = self.find(reference)?;
        let mounts = self.ctx.snapshotter()?.mounts(&rec.id)?;
        let (upper, lowers) = match mounts.first() {
            Some(MountSpec::Overlay {
                upperdir,
                lowerdirs,
                ..
            }) => (upperdir.clone(), lowerdirs.clone()),
            Some(MountSpec::Bind { source, .. }) => (source.clone(), Vec::new()),
            None => return Ok(Vec::new()),
        };
        let skip: Vec<String> = skipped_paths(&rec);
        let mut out = Vec::new();
        walk_upper(&upper, "", &lowers, &skip, &mut out)?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// `brig export`: the container's root filesystem as a tar.
    pub fn export(&self, reference: &str, out: &mut dyn Write) -> Result<()> {
        self.with_root(reference, false, |root| {
            tarfs::write_tar(root, "/", ".", out)
        })
    }
}

/// (`path` to read, name of the top tar entry) for a `cp` source.
fn tar_source(src: &str) -> (&str, String) {
    if let Some(dir) = src.strip_suffix("/.") {
        return (if dir.is_empty() { "/" } else { dir }, ".".to_owned());
    }
    let name = src.trim_end_matches('/').rsplit('/').next().unwrap_or(src);
    let name = if name.is_empty() { "." } else { name };
    (src, name.to_owned())
}

/// Mount points brig and the runtime make; `diff` leaves them out, as Docker does.
fn skipped_paths(rec: &ContainerRecord) -> Vec<String> {
    let mut skip: Vec<String> = [
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/dev",
        "/proc",
        "/sys",
        "/run/brig-init",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    skip.extend(rec.config.mounts.iter().map(|m| m.target().to_owned()));
    skip.extend(rec.config.secrets.iter().map(|s| s.target.clone()));
    skip
}

fn walk_upper(
    dir: &Path,
    rel: &str,
    lowers: &[PathBuf],
    skip: &[String],
    out: &mut Vec<Change>,
) -> Result<()> {
    for entry in std::fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{rel}/{name}");
        if skip.contains(&path) {
            continue;
        }
        let ft = entry.file_type().ctx("stat", entry.path())?;
        let in_lower = lowers.iter().any(|l| {
            l.join(path.trim_start_matches('/'))
                .symlink_metadata()
                .is_ok()
        });
        let whiteout = ft.is_char_device()
            && std::fs::symlink_metadata(entry.path()).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.rdev() == 0
            });
        if whiteout {
            out.push(Change { kind: 'D', path });
            continue;
        }
        out.push(Change {
            kind: if in_lower { 'C' } else { 'A' },
            path: path.clone(),
        });
        if ft.is_dir() {
            let before = out.len();
            walk_upper(&entry.path(), &path, lowers, skip, out)?;
            // A directory that only holds skipped mount points did not change.
            if in_lower && out.len() == before {
                out.pop();
            }
        }
    }
    Ok(())
}
