//! `--user` and `--group-add` resolved against the container's own
//! `/etc/passwd` and `/etc/group`, as Docker does when a container starts.

use crate::error::{Error, Result};

/// The user a container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// From passwd, for `HOME` when the image sets none.
    pub home: Option<String>,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 || line.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 4 || line.starts_with('#') {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f[3].split(',').filter(|m| !m.is_empty()).collect(),
        })
    })
}

fn find_group(group: &str, groups: &str) -> Option<u32> {
    group.parse().ok().or_else(|| {
        group_entries(groups)
            .find(|g| g.name == group)
            .map(|g| g.gid)
    })
}

/// Resolves `user` (`""`, `name`, `uid`, `name:group`, `uid:gid`) and
/// `group_add` (names or IDs). A numeric user needs no passwd entry; a
/// name does.
pub fn resolve_user(
    user: &str,
    group_add: &[String],
    passwd: &str,
    groups: &str,
) -> Result<ResolvedUser> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = match user_part.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid).map_or(
            PasswdEntry {
                name: "",
                uid,
                gid: 0,
                home: "/",
            },
            |e| e,
        ),
        Err(_) => passwd_entries(passwd)
            .find(|e| e.name == user_part)
            .ok_or_else(|| {
                Error::invalid(
                    "--user",
                    user,
                    format!("no user {user_part:?} in the container's /etc/passwd; use a numeric UID or add the user to the image"),
                )
            })?,
    };
    // A numeric UID without a passwd entry runs with GID 0, as in Docker.
    let gid = match group_part {
        Some(g) => find_group(g, groups).ok_or_else(|| {
            Error::invalid(
                "--user",
                user,
                format!("no group {g:?} in the container's /etc/group; use a numeric GID"),
            )
        })?,
        None => entry.gid,
    };
    let mut additional: Vec<u32> = if entry.name.is_empty() || group_part.is_some() {
        Vec::new()
    } else {
        group_entries(groups)
            .filter(|g| g.members.contains(&entry.name) && g.gid != gid)
            .map(|g| g.gid)
            .collect()
    };
    for g in group_add {
        let id = find_group(g, groups).ok_or_else(|| {
            Error::invalid(
                "--group-add",
                g,
                "no such group in the container's /etc/group",
            )
        })?;
        if !additional.contains(&id) {
            additional.push(id);
        }
    }
    Ok(ResolvedUser {
        uid: entry.uid,
        gid,
        additional_gids: additional,
        home: (!entry.name.is_empty()).then(|| entry.home.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nuser:x:1000:\nusers:x:100:user\naudio:x:29:\n";

    #[test]
    fn names_numbers_and_groups_resolve() {
        let r = resolve_user("user", &[], PASSWD, GROUP).unwrap();
        assert_eq!(
            (r.uid, r.gid, r.additional_gids.clone()),
            (1000, 1000, vec![100])
        );
        assert_eq!(r.home.as_deref(), Some("/home/user"));
        let r = resolve_user("1000:1000", &[], PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (1000, 1000));
        assert!(r.additional_gids.is_empty());
        let r = resolve_user("4242", &["audio".into(), "7".into()], PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.additional_gids), (4242, 0, vec![29, 7]));
        let r = resolve_user("", &[], PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (0, 0));
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(resolve_user("ghost", &[], PASSWD, GROUP).is_err());
        assert!(resolve_user("user:ghosts", &[], PASSWD, GROUP).is_err());
        assert!(resolve_user("user", &["ghosts".into()], PASSWD, GROUP).is_err());
    }
}
