//! Lexical path handling for config.json paths (no filesystem access).

use std::path::{Component, Path, PathBuf};

/// Cleans an absolute path lexically: drops `.` and repeated `/`, and applies
/// `..` (which stays at `/`). `None` for a relative or empty path.
///
/// This only normalizes names (for comparisons like "is this /dev?" and for
/// error messages); the real lookup is confined by the kernel (see `resolve`).
pub(super) fn clean_absolute(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut clean = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(name) => clean.push(name),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(clean)
}

/// The filesystem magic of a statfs result (the field's type differs by architecture).
#[allow(clippy::unnecessary_cast)]
pub(super) fn fs_magic(statfs: &rustix::fs::StatFs) -> i64 {
    statfs.f_type as i64
}

/// True when `path` is `dir` or below it (both cleaned and absolute).
pub(super) fn is_within(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_dots_and_confines_dotdot_to_the_root() {
        let clean =
            |p: &str| clean_absolute(Path::new(p)).map(|p| p.to_string_lossy().into_owned());
        assert_eq!(clean("/proc").as_deref(), Some("/proc"));
        assert_eq!(clean("//dev/./pts/").as_deref(), Some("/dev/pts"));
        assert_eq!(clean("/../../etc/../tmp").as_deref(), Some("/tmp"));
        assert_eq!(clean("/..").as_deref(), Some("/"));
        assert_eq!(clean("dev/pts"), None);
        assert_eq!(clean(""), None);
    }

    #[test]
    fn within_compares_whole_components() {
        assert!(is_within(Path::new("/dev/pts"), Path::new("/dev")));
        assert!(is_within(Path::new("/dev"), Path::new("/dev")));
        assert!(!is_within(Path::new("/devices"), Path::new("/dev")));
        assert!(is_within(Path::new("/anything"), Path::new("/")));
    }
}
