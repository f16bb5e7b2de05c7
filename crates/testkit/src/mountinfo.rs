//! Parsing /proc/<pid>/mountinfo as a container prints it.

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Where it is mounted (octal escapes decoded).
    pub mount_point: String,
    /// Filesystem type, e.g. "tmpfs".
    pub fstype: String,
    /// Per-mount options (ro, nosuid, nodev, noexec, relatime...).
    pub mount_options: Vec<String>,
    /// Superblock options (size=, mode=...).
    pub super_options: Vec<String>,
}

impl MountEntry {
    /// True when `option` is a per-mount or superblock option.
    pub fn has(&self, option: &str) -> bool {
        self.mount_options
            .iter()
            .chain(&self.super_options)
            .any(|o| o == option)
    }
}

/// Parses mountinfo text; lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let (left, right) = line.split_once(" - ")?;
    let fields: Vec<&str> = left.split(' ').collect();
    let mut right = right.split(' ');
    Some(MountEntry {
        mount_point: unescape(fields.get(4)?),
        mount_options: fields.get(5)?.split(',').map(str::to_owned).collect(),
        fstype: right.next()?.to_owned(),
        super_options: right
            .nth(1)
            .unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect(),
    })
}

fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(byte) = u8::from_str_radix(&code, 8) {
                out.push(byte as char);
                continue;
            }
            out.push('\\');
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}

/// The last (topmost) mount at `point`.
pub fn find<'a>(mounts: &'a [MountEntry], point: &str) -> Option<&'a MountEntry> {
    mounts.iter().rev().find(|m| m.mount_point == point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_line() {
        let text = "614 613 0:72 / /dev/shm rw,nosuid,nodev,noexec,relatime master:1 - tmpfs shm rw,size=65536k,mode=1777\n\
                    bad line\n\
                    615 613 0:73 / /a\\040b ro - proc proc rw";
        let mounts = parse(text);
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[0].mount_point, "/dev/shm");
        assert_eq!(mounts[0].fstype, "tmpfs");
        assert!(mounts[0].has("noexec") && mounts[0].has("size=65536k"));
        assert_eq!(
            find(&mounts, "/a b").map(|m| m.fstype.as_str()),
            Some("proc")
        );
    }
}
