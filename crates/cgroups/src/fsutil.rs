//! Reading and writing cgroup files with errors that name the file, and the
//! directory walks shared by every backend.
//!
//! The same code runs on real cgroup filesystems and on fake trees in a temp
//! directory. The two differ in one place only: a fake tree is a plain
//! filesystem, so removing a cgroup there also removes its files.

use std::collections::HashMap;
use std::io::{ErrorKind as IoKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{CgroupError, Result};

const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Writes `value` to the cgroup file `path` in a single write. `field` is the
/// spec field the value comes from, for the error message.
pub(crate) fn write_file(path: &Path, value: &str, field: &str) -> Result<()> {
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .and_then(|mut file| file.write_all(value.as_bytes()));
    result.map_err(|source| {
        let hint = write_hint(path, &source);
        CgroupError::Write {
            path: path.to_path_buf(),
            value: value.to_owned(),
            field: field.to_owned(),
            source,
            hint,
        }
    })
}

fn write_hint(path: &Path, err: &std::io::Error) -> &'static str {
    let errno = err.raw_os_error().map(rustix::io::Errno::from_raw_os_error);
    if !path.exists() {
        return " (the file does not exist: the kernel or this cgroup lacks that controller or feature)";
    }
    match errno {
        Some(rustix::io::Errno::INVAL) => " (the kernel rejected the value)",
        Some(rustix::io::Errno::BUSY) => " (the cgroup is busy, e.g. usage is above the new limit)",
        Some(rustix::io::Errno::NOSPC) => " (the cgroup has no CPUs or memory nodes)",
        Some(rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => {
            " (permission denied: brig-runtime must run as root)"
        }
        _ => "",
    }
}

/// Reads a whole cgroup file.
pub(crate) fn read_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| CgroupError::io("read", path, e))
}

/// Reads a cgroup file that may be absent (older kernel, controller off).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == IoKind::NotFound => Ok(None),
        Err(e) => Err(CgroupError::io("read", path, e)),
    }
}

/// Reads a single-number file; `max` reads as `u64::MAX`, absent as `None`.
pub(crate) fn read_u64(path: &Path) -> Result<Option<u64>> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    parse_u64(text.trim())
        .map(Some)
        .ok_or_else(|| CgroupError::Parse {
            path: path.to_path_buf(),
            reason: format!("{:?} is not a number", text.trim()),
        })
}

/// Parses a cgroup number; `max` is `u64::MAX`, negative numbers are 0
/// (v1 files print -1 for "unlimited" in a few places).
pub(crate) fn parse_u64(text: &str) -> Option<u64> {
    if text == "max" {
        return Some(u64::MAX);
    }
    text.parse::<u64>()
        .ok()
        .or_else(|| text.parse::<i64>().ok().map(|_| 0))
}

/// Parses `key value` lines (memory.stat, cpu.stat, memory.events ...).
pub(crate) fn parse_flat_keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(char::is_whitespace)?;
            Some((key.to_owned(), parse_u64(value.trim())?))
        })
        .collect()
}

/// Reads a flat keyed file; an absent file gives an empty map.
pub(crate) fn read_flat_keyed(path: &Path) -> Result<HashMap<String, u64>> {
    Ok(read_optional(path)?
        .map(|t| parse_flat_keyed(&t))
        .unwrap_or_default())
}

/// True when `path` is on a cgroup (v1 or v2) filesystem.
pub(crate) fn is_cgroupfs(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|fs| {
        let magic = fs.f_type;
        magic == CGROUP_SUPER_MAGIC || magic == CGROUP2_SUPER_MAGIC
    })
}

/// Creates `dir` and its missing parents (never above `top`) and returns
/// the directories it created, outermost first. A parent that vanishes
/// meanwhile (the last container of a shared parent was removed) is
/// created again.
pub(crate) fn mkdir_all(dir: &Path, top: &Path) -> Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    for attempt in 0..5 {
        let missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|d| *d != top && !d.is_dir())
            .map(Path::to_path_buf)
            .collect();
        let mut vanished = false;
        for d in missing.iter().rev() {
            match std::fs::create_dir(d) {
                Ok(()) => created.push(d.clone()),
                // Another runtime made the shared parent meanwhile: fine.
                Err(e) if e.kind() == IoKind::AlreadyExists => {}
                Err(e) if e.kind() == IoKind::NotFound && attempt < 4 => {
                    vanished = true;
                    break;
                }
                Err(e) => return Err(CgroupError::io("create cgroup", d, e)),
            }
        }
        if !vanished {
            break;
        }
    }
    Ok(created)
}

/// The pids in `dir`'s `cgroup.procs` and in every cgroup below it.
pub(crate) fn read_pids_recursive(dir: &Path) -> Result<Vec<i32>> {
    let mut pids = Vec::new();
    collect_pids(dir, &mut pids)?;
    Ok(pids)
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    let Some(text) = read_optional(&procs)? else {
        return Ok(());
    };
    pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for sub in subdirs(dir)? {
        collect_pids(&sub, pids)?;
    }
    Ok(())
}

/// The child cgroups of `dir` (none when `dir` is gone).
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CgroupError::io("list", dir, e)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CgroupError::io("list", dir, e))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

/// How long `rmdir_tree` retries a cgroup the kernel still calls busy
/// (tasks that were just killed can pin it for a moment).
const RMDIR_PATIENCE: Duration = Duration::from_secs(2);

/// Removes `dir` and every cgroup below it, deepest first. An absent `dir`
/// is not an error.
pub(crate) fn rmdir_tree(dir: &Path) -> Result<()> {
    // Most cgroups have no children: one rmdir, no listing.
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    if !is_cgroupfs(dir) {
        return std::fs::remove_dir_all(dir)
            .map_err(|e| CgroupError::io("remove fake cgroup", dir, e));
    }
    for sub in subdirs(dir)? {
        rmdir_tree(&sub)?;
    }
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
            Err(e) if is_busy(&e) && start.elapsed() < RMDIR_PATIENCE => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(CgroupError::io("remove cgroup", dir, e)),
        }
    }
}

/// Removes `dir` only when it is an empty cgroup (no tasks, no children):
/// used for parents we created. Anything else leaves it alone.
pub(crate) fn rmdir_if_empty(dir: &Path) -> bool {
    if !is_cgroupfs(dir) {
        let only_files = subdirs(dir).is_ok_and(|d| d.is_empty());
        let no_procs = read_optional(&dir.join("cgroup.procs"))
            .ok()
            .flatten()
            .is_none_or(|t| t.trim().is_empty());
        return only_files && no_procs && std::fs::remove_dir_all(dir).is_ok();
    }
    std::fs::remove_dir(dir).is_ok()
}

fn is_busy(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error().map(rustix::io::Errno::from_raw_os_error),
        Some(rustix::io::Errno::BUSY | rustix::io::Errno::NOTEMPTY)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_files_parse_numbers_and_max() {
        let map = parse_flat_keyed("usage_usec 10\nnr_periods 0\nlimit max\nbad x\n");
        assert_eq!(map["usage_usec"], 10);
        assert_eq!(map["limit"], u64::MAX);
        assert!(!map.contains_key("bad"));
    }

    #[test]
    fn mkdir_all_reports_only_what_it_created() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("a")).unwrap();
        let created = mkdir_all(&tmp.path().join("a/b/c"), tmp.path()).unwrap();
        assert_eq!(
            created,
            vec![tmp.path().join("a/b"), tmp.path().join("a/b/c")]
        );
        assert!(
            mkdir_all(&tmp.path().join("a/b/c"), tmp.path())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn write_errors_name_file_value_and_field() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("missing-dir/memory.max");
        let err = write_file(&path, "100", "linux.resources.memory.limit")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("memory.max") && err.contains("\"100\"") && err.contains("memory.limit"),
            "{err}"
        );
    }

    #[test]
    fn pids_are_collected_from_nested_cgroups() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join("cgroup.procs"), "1\n2\n").unwrap();
        std::fs::write(tmp.path().join("sub/cgroup.procs"), "3\n").unwrap();
        let mut pids = read_pids_recursive(tmp.path()).unwrap();
        pids.sort();
        assert_eq!(pids, vec![1, 2, 3]);
    }

    #[test]
    fn fake_tree_removal_deletes_files_too() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c1");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("memory.max"), "max").unwrap();
        rmdir_tree(&dir).unwrap();
        assert!(!dir.exists());
        rmdir_tree(&dir).unwrap();
    }
}
