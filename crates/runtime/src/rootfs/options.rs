//! `mounts[].options` (fstab style) -> mount flags, propagation, recursive
//! attributes and filesystem data, with runc's names and meanings.

use rustix::mount::{MountAttrFlags, MountFlags, MountPropagationFlags};

/// A mount's options, sorted by what they act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParsedOptions {
    /// Per-mount and superblock flags to set (`ro`, `nosuid`, ...), no bind/propagation bits.
    pub flags: MountFlags,
    /// Flags an option explicitly cleared (`rw`, `suid`, ...): for binds, which
    /// keep the source's flags unless told otherwise.
    pub cleared: MountFlags,
    /// `Some(recursive)` for `bind` / `rbind`.
    pub bind: Option<bool>,
    /// `remount`: change the mount already at the destination.
    pub remount: bool,
    /// Propagation changes, in order (`rprivate`, `shared`, ...).
    pub propagation: Vec<MountPropagationFlags>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) to set on the whole tree.
    pub recursive_set: MountAttrFlags,
    /// Recursive attributes to clear (`rrw`, `rsuid`, ...).
    pub recursive_clear: MountAttrFlags,
    /// `tmpcopyup`: fill a tmpfs with what the image has at its destination.
    pub tmpcopyup: bool,
    /// Options mount(2) does not know as flags: passed to the filesystem as data.
    pub data: Vec<String>,
    /// `idmap`/`ridmap`: an idmapped bind mount (see `idmapped.rs`).
    pub idmap: bool,
    /// `ridmap`: idmap every mount of an `rbind` tree, not only its top.
    pub idmap_recursive: bool,
}

impl Default for ParsedOptions {
    fn default() -> Self {
        Self {
            flags: MountFlags::empty(),
            cleared: MountFlags::empty(),
            bind: None,
            remount: false,
            propagation: Vec::new(),
            recursive_set: MountAttrFlags::empty(),
            recursive_clear: MountAttrFlags::empty(),
            tmpcopyup: false,
            data: Vec::new(),
            idmap: false,
            idmap_recursive: false,
        }
    }
}

/// A flag option: `clear` means the option removes `flag` (`rw` removes `MS_RDONLY`).
struct FlagOption {
    name: &'static str,
    clear: bool,
    flag: MountFlags,
}

const fn set(name: &'static str, flag: MountFlags) -> FlagOption {
    FlagOption {
        name,
        clear: false,
        flag,
    }
}
const fn clear(name: &'static str, flag: MountFlags) -> FlagOption {
    FlagOption {
        name,
        clear: true,
        flag,
    }
}

const MS_POSIXACL: MountFlags = MountFlags::from_bits_retain(1 << 16);
const MS_I_VERSION: MountFlags = MountFlags::from_bits_retain(1 << 23);

/// runc's table (libcontainer/specconv), so configs mean the same to both.
const FLAG_OPTIONS: &[FlagOption] = &[
    set("acl", MS_POSIXACL),
    clear("async", MountFlags::SYNCHRONOUS),
    clear("atime", MountFlags::NOATIME),
    set("defaults", MountFlags::empty()),
    clear("dev", MountFlags::NODEV),
    clear("diratime", MountFlags::NODIRATIME),
    set("dirsync", MountFlags::DIRSYNC),
    clear("exec", MountFlags::NOEXEC),
    set("iversion", MS_I_VERSION),
    set("lazytime", MountFlags::LAZYTIME),
    clear("loud", MountFlags::SILENT),
    set("mand", MountFlags::PERMIT_MANDATORY_FILE_LOCKING),
    clear("noacl", MS_POSIXACL),
    set("noatime", MountFlags::NOATIME),
    set("nodev", MountFlags::NODEV),
    set("nodiratime", MountFlags::NODIRATIME),
    set("noexec", MountFlags::NOEXEC),
    clear("noiversion", MS_I_VERSION),
    clear("nolazytime", MountFlags::LAZYTIME),
    clear("nomand", MountFlags::PERMIT_MANDATORY_FILE_LOCKING),
    clear("norelatime", MountFlags::RELATIME),
    clear("nostrictatime", MountFlags::STRICTATIME),
    set("nosuid", MountFlags::NOSUID),
    set("nosymfollow", MountFlags::NOSYMFOLLOW),
    set("relatime", MountFlags::RELATIME),
    set("ro", MountFlags::RDONLY),
    clear("rw", MountFlags::RDONLY),
    set("silent", MountFlags::SILENT),
    set("strictatime", MountFlags::STRICTATIME),
    clear("suid", MountFlags::NOSUID),
    set("sync", MountFlags::SYNCHRONOUS),
];

const PROPAGATION_OPTIONS: &[(&str, MountPropagationFlags)] = &[
    ("private", MountPropagationFlags::PRIVATE),
    (
        "rprivate",
        MountPropagationFlags::PRIVATE.union(MountPropagationFlags::REC),
    ),
    ("shared", MountPropagationFlags::SHARED),
    (
        "rshared",
        MountPropagationFlags::SHARED.union(MountPropagationFlags::REC),
    ),
    ("slave", MountPropagationFlags::DOWNSTREAM),
    (
        "rslave",
        MountPropagationFlags::DOWNSTREAM.union(MountPropagationFlags::REC),
    ),
    ("unbindable", MountPropagationFlags::UNBINDABLE),
    (
        "runbindable",
        MountPropagationFlags::UNBINDABLE.union(MountPropagationFlags::REC),
    ),
];

/// `(name, clear, attribute)` of the recursive options applied with mount_setattr.
const RECURSIVE_OPTIONS: &[(&str, bool, MountAttrFlags)] = &[
    ("rro", false, MountAttrFlags::MOUNT_ATTR_RDONLY),
    ("rrw", true, MountAttrFlags::MOUNT_ATTR_RDONLY),
    ("rnosuid", false, MountAttrFlags::MOUNT_ATTR_NOSUID),
    ("rsuid", true, MountAttrFlags::MOUNT_ATTR_NOSUID),
    ("rnodev", false, MountAttrFlags::MOUNT_ATTR_NODEV),
    ("rdev", true, MountAttrFlags::MOUNT_ATTR_NODEV),
    ("rnoexec", false, MountAttrFlags::MOUNT_ATTR_NOEXEC),
    ("rexec", true, MountAttrFlags::MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, MountAttrFlags::MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, MountAttrFlags::MOUNT_ATTR_NODIRATIME),
    (
        "rnosymfollow",
        false,
        MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW,
    ),
    ("rsymfollow", true, MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW),
];

/// Recursive access-time modes: setting one replaces the tree's atime mode.
const RECURSIVE_ATIME_OPTIONS: &[(&str, MountAttrFlags)] = &[
    ("rrelatime", MountAttrFlags::MOUNT_ATTR_RELATIME),
    ("rnorelatime", MountAttrFlags::MOUNT_ATTR_STRICTATIME),
    ("rnoatime", MountAttrFlags::MOUNT_ATTR_NOATIME),
    ("ratime", MountAttrFlags::MOUNT_ATTR_RELATIME),
    ("rstrictatime", MountAttrFlags::MOUNT_ATTR_STRICTATIME),
    ("rnostrictatime", MountAttrFlags::MOUNT_ATTR_RELATIME),
];

/// Options of other runtimes that change nothing here (crun's copy-up switch).
const IGNORED_OPTIONS: &[&str] = &["copy-symlink"];

/// Sorts `options` the way runc does. Never fails: whether an unknown option
/// (left in `data`) is acceptable depends on the mount type, see the planner.
pub(super) fn parse_options<'a>(options: impl IntoIterator<Item = &'a str>) -> ParsedOptions {
    let mut parsed = ParsedOptions::default();
    for option in options {
        parsed.add(option);
    }
    parsed
}

impl ParsedOptions {
    fn add(&mut self, option: &str) {
        if let Some(known) = FLAG_OPTIONS.iter().find(|f| f.name == option) {
            if known.clear {
                self.flags.remove(known.flag);
                self.cleared.insert(known.flag);
            } else {
                self.flags.insert(known.flag);
                self.cleared.remove(known.flag);
            }
        } else if let Some((_, p)) = PROPAGATION_OPTIONS.iter().find(|(n, _)| *n == option) {
            self.propagation.push(*p);
        } else if let Some(&(_, is_clear, attr)) =
            RECURSIVE_OPTIONS.iter().find(|(n, ..)| *n == option)
        {
            if is_clear {
                self.recursive_set.remove(attr);
                self.recursive_clear.insert(attr);
            } else {
                self.recursive_clear.remove(attr);
                self.recursive_set.insert(attr);
            }
        } else if let Some(&(_, mode)) = RECURSIVE_ATIME_OPTIONS.iter().find(|(n, _)| *n == option)
        {
            self.recursive_set.remove(ATIME_MODES);
            self.recursive_set.insert(mode);
            self.recursive_clear
                .insert(MountAttrFlags::MOUNT_ATTR__ATIME);
        } else {
            match option {
                "bind" => self.bind = Some(self.bind.unwrap_or(false)),
                "rbind" => self.bind = Some(true),
                "remount" => self.remount = true,
                "tmpcopyup" => self.tmpcopyup = true,
                "notmpcopyup" => self.tmpcopyup = false,
                "idmap" => self.idmap = true,
                "ridmap" => (self.idmap, self.idmap_recursive) = (true, true),
                _ if IGNORED_OPTIONS.contains(&option) => {}
                _ => self.data.push(option.to_owned()),
            }
        }
    }

    /// True when the options ask for any recursive attribute change.
    pub fn has_recursive_attrs(&self) -> bool {
        !self.recursive_set.is_empty() || !self.recursive_clear.is_empty()
    }
}

const ATIME_MODES: MountAttrFlags = MountAttrFlags::MOUNT_ATTR_RELATIME
    .union(MountAttrFlags::MOUNT_ATTR_NOATIME)
    .union(MountAttrFlags::MOUNT_ATTR_STRICTATIME);

/// The per-mount attributes a bind mount gets from its flag options, as
/// `(set, clear)` for mount_setattr. Superblock flags (sync, dirsync, ...)
/// mean nothing for a bind and are dropped, as a bind remount drops them.
pub(super) fn bind_attrs(
    flags: MountFlags,
    cleared: MountFlags,
) -> (MountAttrFlags, MountAttrFlags) {
    const SIMPLE: &[(MountFlags, MountAttrFlags)] = &[
        (MountFlags::RDONLY, MountAttrFlags::MOUNT_ATTR_RDONLY),
        (MountFlags::NOSUID, MountAttrFlags::MOUNT_ATTR_NOSUID),
        (MountFlags::NODEV, MountAttrFlags::MOUNT_ATTR_NODEV),
        (MountFlags::NOEXEC, MountAttrFlags::MOUNT_ATTR_NOEXEC),
        (
            MountFlags::NODIRATIME,
            MountAttrFlags::MOUNT_ATTR_NODIRATIME,
        ),
        (
            MountFlags::NOSYMFOLLOW,
            MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW,
        ),
    ];
    let (mut set, mut clear) = (MountAttrFlags::empty(), MountAttrFlags::empty());
    for &(flag, attr) in SIMPLE {
        if flags.contains(flag) {
            set |= attr;
        } else if cleared.contains(flag) {
            clear |= attr;
        }
    }
    // One access-time mode per mount; the strongest named wins, as with mount(8).
    let atime = if flags.contains(MountFlags::NOATIME) {
        Some(MountAttrFlags::MOUNT_ATTR_NOATIME)
    } else if flags.contains(MountFlags::STRICTATIME) {
        Some(MountAttrFlags::MOUNT_ATTR_STRICTATIME)
    } else if flags.contains(MountFlags::RELATIME)
        || cleared.intersects(MountFlags::NOATIME | MountFlags::STRICTATIME)
    {
        Some(MountAttrFlags::MOUNT_ATTR_RELATIME)
    } else if cleared.contains(MountFlags::RELATIME) {
        Some(MountAttrFlags::MOUNT_ATTR_STRICTATIME)
    } else {
        None
    };
    if let Some(mode) = atime {
        set |= mode;
        clear |= MountAttrFlags::MOUNT_ATTR__ATIME;
    }
    (set, clear)
}

/// `linux.rootfsPropagation` -> flags; `None` for a name that is not one.
pub(super) fn parse_root_propagation(value: &str) -> Option<MountPropagationFlags> {
    PROPAGATION_OPTIONS
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> ParsedOptions {
        parse_options(options.iter().copied())
    }

    #[test]
    fn flag_options_set_and_later_options_win() {
        let p = parse(&["nosuid", "ro", "nodev", "rw"]);
        assert_eq!(p.flags, MountFlags::NOSUID | MountFlags::NODEV);
        assert!(p.cleared.contains(MountFlags::RDONLY));
        assert!(p.data.is_empty());
    }

    #[test]
    fn bind_and_rbind_are_recognised_in_any_order() {
        assert_eq!(parse(&["bind"]).bind, Some(false));
        assert_eq!(parse(&["rbind"]).bind, Some(true));
        assert_eq!(parse(&["rbind", "bind"]).bind, Some(true));
    }

    #[test]
    fn propagation_options_keep_their_order_and_rec_bit() {
        let p = parse(&["rprivate", "shared", "rslave", "unbindable"]);
        assert_eq!(
            p.propagation,
            vec![
                MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
                MountPropagationFlags::SHARED,
                MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
                MountPropagationFlags::UNBINDABLE,
            ]
        );
        assert!(
            p.flags.is_empty(),
            "propagation must not leak into mount flags"
        );
    }

    #[test]
    fn unknown_options_become_filesystem_data() {
        let p = parse(&["nosuid", "mode=755", "size=65536k", "newinstance"]);
        assert_eq!(p.data, ["mode=755", "size=65536k", "newinstance"]);
        assert_eq!(p.flags, MountFlags::NOSUID);
    }

    #[test]
    fn recursive_attributes_are_separate_from_flags() {
        let p = parse(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert!(p.flags.is_empty());
        assert!(
            p.recursive_set
                .contains(MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NOSUID)
        );
        assert!(p.recursive_set.contains(MountAttrFlags::MOUNT_ATTR_NOATIME));
        assert!(
            p.recursive_clear
                .contains(MountAttrFlags::MOUNT_ATTR__ATIME)
        );
        let p = parse(&["rro", "rrw"]);
        assert!(p.recursive_set.is_empty());
        assert_eq!(p.recursive_clear, MountAttrFlags::MOUNT_ATTR_RDONLY);
    }

    #[test]
    fn bind_attrs_touch_only_what_the_options_name() {
        let (set, clear) = bind_attrs(MountFlags::RDONLY | MountFlags::NOSUID, MountFlags::NOEXEC);
        assert_eq!(
            set,
            MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NOSUID
        );
        assert_eq!(clear, MountAttrFlags::MOUNT_ATTR_NOEXEC);
        let (set, clear) = bind_attrs(MountFlags::SYNCHRONOUS, MountFlags::empty());
        assert!(
            set.is_empty() && clear.is_empty(),
            "superblock flags mean nothing for a bind"
        );
        let (set, clear) = bind_attrs(MountFlags::NOATIME, MountFlags::empty());
        assert_eq!(set, MountAttrFlags::MOUNT_ATTR_NOATIME);
        assert_eq!(clear, MountAttrFlags::MOUNT_ATTR__ATIME);
    }

    #[test]
    fn root_propagation_names() {
        assert_eq!(
            parse_root_propagation("rslave"),
            Some(MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC)
        );
        assert_eq!(
            parse_root_propagation("private"),
            Some(MountPropagationFlags::PRIVATE)
        );
        assert_eq!(parse_root_propagation("rbind"), None);
        assert_eq!(parse_root_propagation(""), None);
    }

    #[test]
    fn copyup_idmap_and_remount_are_flagged() {
        let p = parse(&["tmpcopyup", "idmap", "remount", "copy-symlink"]);
        assert!(p.tmpcopyup && p.idmap && p.remount);
        assert!(p.data.is_empty());
        assert!(!parse(&["tmpcopyup", "notmpcopyup"]).tmpcopyup);
    }
}
