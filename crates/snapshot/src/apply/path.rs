//! Turning tar entry names into paths inside the layer directory, and
//! recognizing whiteouts. Pure functions, no I/O.

use crate::error::{Error, Result};

/// AUFS-style whiteout prefix (OCI image spec, "Whiteouts").
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Marks a directory as opaque.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Prefix of AUFS metadata files that are not whiteouts.
const AUFS_META_PREFIX: &str = ".wh..wh.";

/// A normalized path inside the layer: no empty, `.` or `..` components,
/// relative to the layer root. Empty for the root itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPath {
    components: Vec<Vec<u8>>,
}

impl LayerPath {
    /// Normalizes a tar name: a leading `/` and `./` are dropped (as tar
    /// does), `..` is refused because no layer needs it to name its own
    /// files.
    pub fn parse(raw: &[u8]) -> Result<Self> {
        let mut components = Vec::new();
        for part in raw.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    return Err(Error::entry(
                        &String::from_utf8_lossy(raw),
                        "'..' in a path could leave the layer; refused",
                    ));
                }
                p if p.contains(&0) => {
                    return Err(Error::entry(
                        &String::from_utf8_lossy(raw),
                        "NUL byte in path",
                    ));
                }
                p => components.push(p.to_vec()),
            }
        }
        Ok(LayerPath { components })
    }

    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The parent directory's components as a relative path (`a/b`).
    pub fn parent_bytes(&self) -> Vec<u8> {
        match self.components.split_last() {
            Some((_, parent)) => parent.join(&b'/'),
            None => Vec::new(),
        }
    }

    /// The last component (empty for the root).
    pub fn name(&self) -> &[u8] {
        self.components.last().map(Vec::as_slice).unwrap_or(b"")
    }

    /// The whole path as a relative path (`a/b/c`; empty for the root).
    pub fn bytes(&self) -> Vec<u8> {
        self.components.join(&b'/')
    }
}

/// What an entry name means for overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A normal file system object.
    Plain,
    /// `.wh.NAME`: hide `NAME` of lower layers.
    Whiteout(Vec<u8>),
    /// `.wh..wh..opq`: hide everything lower layers have in this directory.
    Opaque,
    /// Other `.wh..wh.*` AUFS metadata, ignored.
    AufsMeta,
}

/// Classifies the last component of an entry.
pub fn classify(path: &LayerPath, entry: &str) -> Result<EntryKind> {
    let name = path.name();
    if name == OPAQUE_MARKER.as_bytes() {
        return Ok(EntryKind::Opaque);
    }
    if name.starts_with(AUFS_META_PREFIX.as_bytes()) {
        return Ok(EntryKind::AufsMeta);
    }
    let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) else {
        return Ok(EntryKind::Plain);
    };
    if hidden.is_empty() || hidden == b"." || hidden == b".." {
        return Err(Error::entry(
            entry,
            "whiteout of an empty, '.' or '..' name",
        ));
    }
    Ok(EntryKind::Whiteout(hidden.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> LayerPath {
        LayerPath::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn names_are_normalized_inside_the_layer() {
        assert_eq!(p("./a//b/./c").bytes(), b"a/b/c");
        assert_eq!(p("/etc/passwd").bytes(), b"etc/passwd");
        assert!(p("./").is_root());
        assert_eq!(p("a/b/").name(), b"b");
        assert_eq!(p("a/b/c").parent_bytes(), b"a/b");
        assert!(LayerPath::parse(b"a/../../etc").is_err());
        assert!(LayerPath::parse(b"..").is_err());
    }

    #[test]
    fn whiteouts_are_recognized_and_dangerous_ones_refused() {
        assert_eq!(
            classify(&p("a/.wh.b"), "").unwrap(),
            EntryKind::Whiteout(b"b".to_vec())
        );
        assert_eq!(
            classify(&p("a/.wh..wh..opq"), "").unwrap(),
            EntryKind::Opaque
        );
        assert_eq!(
            classify(&p(".wh..wh.plnk"), "").unwrap(),
            EntryKind::AufsMeta
        );
        assert_eq!(classify(&p("a/b.wh.c"), "").unwrap(), EntryKind::Plain);
        assert!(classify(&p("a/.wh.."), "").is_err());
        assert!(classify(&p("a/.wh..."), "").is_err());
        assert!(classify(&p("a/.wh."), "").is_err());
    }
}
