//! A small `/proc/self/mountinfo` parser, used off the hot path only: host
//! cgroup v1 layout (in the parent) and `--no-pivot`.

use std::path::PathBuf;

/// One line of mountinfo, the fields brig needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MountEntry {
    /// Path of the mounted subtree inside its filesystem (field 4).
    pub root: String,
    /// Where it is mounted (field 5).
    pub mount_point: PathBuf,
    /// Filesystem type (after the `-` separator).
    pub fstype: String,
    /// Superblock options (last field).
    pub super_options: String,
}

/// Parses mountinfo text; malformed lines are skipped (the kernel writes none).
pub(super) fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let mut fields = line.split(' ');
    let root = unescape(fields.nth(3)?);
    let mount_point = PathBuf::from(unescape(fields.next()?));
    // Skip mount options and the optional fields up to the "-" separator.
    fields.find(|f| *f == "-")?;
    let fstype = fields.next()?.to_owned();
    let _source = fields.next()?;
    let super_options = fields.next()?.to_owned();
    Some(MountEntry {
        root,
        mount_point,
        fstype,
        super_options,
    })
}

/// Undoes the kernel's octal escapes (`\040` for a space, `\134` for `\`).
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(value as u8);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 master:3 - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 /sub /mnt/with\\040space rw - cgroup2 cgroup2 rw,nsdelegate
garbage";

    #[test]
    fn parses_fields_and_skips_optional_ones() {
        let entries = parse(SAMPLE);
        assert_eq!(entries.len(), 3, "the malformed line is skipped");
        assert_eq!(
            entries[1].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(entries[1].fstype, "cgroup");
        assert_eq!(entries[1].super_options, "rw,cpu,cpuacct");
        assert_eq!(entries[2].root, "/sub");
        assert_eq!(entries[2].mount_point, PathBuf::from("/mnt/with space"));
    }
}
