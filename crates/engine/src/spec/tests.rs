//! Golden checks of generated configs: the JSON a runtime receives.

use std::path::Path;

use serde_json::Value;

use super::*;
use crate::options::CreateOptions;
use crate::testutil;

fn spec_json(change: impl FnOnce(&mut CreateOptions), user: ResolvedUser) -> Value {
    let config = testutil::config(change);
    let paths = Paths::new(Path::new("/var/lib/brig"), Path::new("/run/brig"));
    let host = HostFacts::plain();
    let id = "c".repeat(64);
    let spec = generate(&SpecInput {
        id: &id,
        name: "web",
        config: &config,
        user: &user,
        host: &host,
        paths: &paths,
        userns: None,
    })
    .expect("spec");
    serde_json::to_value(spec).unwrap()
}

fn root() -> ResolvedUser {
    ResolvedUser::default()
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn defaults_are_tight() {
    let s = spec_json(|_| {}, root());
    let caps = &s["process"]["capabilities"];
    let mut expected: Vec<String> = crate::caps::DEFAULT
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    expected.sort();
    assert_eq!(strings(&caps["bounding"]), expected);
    assert_eq!(strings(&caps["effective"]), expected);
    assert!(strings(&caps["inheritable"]).is_empty());
    assert_eq!(s["process"]["noNewPrivileges"], false);
    assert_eq!(s["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(s["process"]["cwd"], "/");
    assert_eq!(s["process"]["user"]["uid"], 0);
    assert_eq!(strings(&s["linux"]["maskedPaths"]), {
        let mut m: Vec<String> = MASKED_PATHS.iter().map(|p| (*p).to_owned()).collect();
        m.sort();
        m
    });
    assert_eq!(
        strings(&s["linux"]["readonlyPaths"]).len(),
        READONLY_PATHS.len()
    );
    let ns: Vec<&str> = s["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(ns, ["pid", "ipc", "uts", "mount", "cgroup", "network"]);
    assert_eq!(s["linux"]["resources"]["pids"]["limit"], DEFAULT_PIDS_LIMIT);
    assert_eq!(s["linux"]["resources"]["devices"][0]["allow"], false);
    assert_eq!(s["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(
        s["linux"]["cgroupsPath"],
        format!("/brig/{}", "c".repeat(64))
    );
    assert_eq!(
        s["root"]["path"],
        format!("/run/brig/rootfs/{}", "c".repeat(64))
    );
    assert_eq!(s["root"]["readonly"], false);
    assert_eq!(s["hostname"], "cccccccccccc");
    let env = strings(&s["process"]["env"]);
    assert!(env.contains(&"HOSTNAME=cccccccccccc".to_owned()), "{env:?}");
    assert!(env.contains(&"HOME=/root".to_owned()), "{env:?}");
}

#[test]
fn default_mounts_and_generated_files() {
    let s = spec_json(|o| o.shm_size = Some("128m".into()), root());
    let mounts = s["mounts"].as_array().unwrap();
    let dests: Vec<&str> = mounts
        .iter()
        .map(|m| m["destination"].as_str().unwrap())
        .collect();
    assert_eq!(
        dests,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/etc/hostname",
            "/etc/hosts",
            "/etc/resolv.conf"
        ]
    );
    assert!(strings(&mounts[3]["options"]).contains(&"ro".to_owned()));
    assert!(strings(&mounts[6]["options"]).contains(&format!("size={}", 128 << 20)));
    assert_eq!(
        mounts[7]["source"],
        format!("/var/lib/brig/containers/{}/hostname", "c".repeat(64))
    );
}

#[test]
fn the_hardened_line() {
    let user = ResolvedUser {
        uid: 1000,
        gid: 1000,
        ..Default::default()
    };
    let s = spec_json(
        |o| {
            o.user = Some("1000:1000".into());
            o.cap_drop = vec!["ALL".into()];
            o.cap_add = vec!["NET_BIND_SERVICE".into()];
            o.read_only = true;
            o.tmpfs = vec!["/tmp".into()];
            o.security_opts = vec!["no-new-privileges".into()];
            o.memory = Some("512m".into());
            o.cpus = Some("0.5".into());
            o.pids_limit = Some(100);
        },
        user,
    );
    let caps = &s["process"]["capabilities"];
    for set in [
        "bounding",
        "effective",
        "permitted",
        "ambient",
        "inheritable",
    ] {
        assert_eq!(strings(&caps[set]), ["CAP_NET_BIND_SERVICE"], "{set}");
    }
    assert_eq!(s["process"]["user"]["uid"], 1000);
    assert_eq!(s["process"]["user"]["gid"], 1000);
    assert_eq!(s["process"]["noNewPrivileges"], true);
    assert_eq!(s["root"]["readonly"], true);
    let r = &s["linux"]["resources"];
    assert_eq!(r["memory"]["limit"], 512 << 20);
    assert_eq!(r["cpu"]["quota"], 50_000);
    assert_eq!(r["cpu"]["period"], 100_000);
    assert_eq!(r["pids"]["limit"], 100);
    let tmp = s["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/tmp")
        .expect("/tmp mount");
    assert_eq!(tmp["type"], "tmpfs");
    assert!(strings(&tmp["options"]).contains(&"mode=1777".to_owned()));
    // Without CAP_SYS_ADMIN in the bounding set, mount stays denied.
    let text = s["linux"]["seccomp"].to_string();
    assert!(!text.contains("\"mount\""), "mount allowed");
}

#[test]
fn privileged_opens_everything() {
    let s = spec_json(|o| o.privileged = true, root());
    assert_eq!(strings(&s["process"]["capabilities"]["bounding"]).len(), 41);
    assert!(s["linux"].get("seccomp").is_none());
    assert!(strings(&s["linux"]["maskedPaths"]).is_empty());
    assert_eq!(s["linux"]["resources"]["devices"][0]["allow"], true);
    let sys = s["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/sys")
        .unwrap();
    assert!(strings(&sys["options"]).contains(&"rw".to_owned()));
}

#[test]
fn user_flags_reach_the_config() {
    let s = spec_json(
        |o| {
            o.volumes = vec!["/exists/data:/data:ro".into(), "cache:/data/cache".into()];
            o.sysctls = vec!["kernel.shmmax=1024".into()];
            o.ulimits = vec!["nofile=100:200".into()];
            o.oom_score_adj = Some(500);
            o.security_opts = vec!["seccomp=unconfined".into(), "apparmor=my-profile".into()];
            o.memory = Some("64m".into());
            o.memory_swap = Some("-1".into());
            o.cpu_shares = Some(512);
            o.cpuset_cpus = Some("0".into());
            o.pids_limit = Some(-1);
            o.oom_kill_disable = true;
            o.secrets = vec!["db".into()];
            o.network = Some("host".into());
            o.devices = vec!["/dev/fuse".into()];
        },
        root(),
    );
    let mounts = s["mounts"].as_array().unwrap();
    let data = mounts
        .iter()
        .position(|m| m["destination"] == "/data")
        .unwrap();
    let cache = mounts
        .iter()
        .position(|m| m["destination"] == "/data/cache")
        .unwrap();
    assert!(data < cache, "parents first");
    assert!(strings(&mounts[data]["options"]).contains(&"ro".to_owned()));
    assert_eq!(mounts[cache]["source"], "/var/lib/brig/volumes/cache/_data");
    let secret = mounts
        .iter()
        .find(|m| m["destination"] == "/run/secrets/db")
        .unwrap();
    assert_eq!(secret["source"], "/var/lib/brig/secrets/s1");
    assert!(strings(&secret["options"]).contains(&"ro".to_owned()));
    assert_eq!(s["linux"]["sysctl"]["kernel.shmmax"], "1024");
    assert_eq!(s["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
    assert_eq!(s["process"]["rlimits"][0]["soft"], 100);
    assert_eq!(s["process"]["oomScoreAdj"], 500);
    assert_eq!(s["process"]["apparmorProfile"], "my-profile");
    assert!(s["linux"].get("seccomp").is_none());
    let r = &s["linux"]["resources"];
    assert_eq!(r["memory"]["swap"], -1);
    assert_eq!(r["memory"]["disableOOMKiller"], true);
    assert_eq!(r["cpu"]["shares"], 512);
    assert_eq!(r["cpu"]["cpus"], "0");
    assert_eq!(r["pids"]["limit"], -1);
    let ns = s["linux"]["namespaces"].to_string();
    assert!(
        !ns.contains("network"),
        "host network keeps the host namespace"
    );
    assert_eq!(s["linux"]["devices"][0]["path"], "/dev/fuse");
    let last_rule = r["devices"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (last_rule["major"].clone(), last_rule["minor"].clone()),
        (10.into(), 229.into())
    );
}

#[test]
fn init_wraps_the_command_and_needs_a_binary() {
    let config = testutil::config(|o| o.init = true);
    let paths = Paths::new(Path::new("/r"), Path::new("/run"));
    let host = HostFacts::plain();
    let id = "c".repeat(64);
    let user = root();
    let input = SpecInput {
        id: &id,
        name: "n",
        config: &config,
        user: &user,
        host: &host,
        paths: &paths,
        userns: None,
    };
    assert!(generate(&input).unwrap_err().to_string().contains("tini"));
    let mut host = host.clone();
    host.init_binary = Some("/usr/bin/tini-static".into());
    let input = SpecInput {
        host: &host,
        ..input
    };
    let s = serde_json::to_value(generate(&input).unwrap()).unwrap();
    assert_eq!(
        s["process"]["args"],
        serde_json::json!([INIT_PATH, "--", "sh"])
    );
}

#[test]
fn userns_auto_maps_root_to_the_allocated_range() {
    let config = testutil::config(|o| o.userns = Some("auto".into()));
    let paths = Paths::new(Path::new("/r"), Path::new("/run"));
    let host = HostFacts::plain();
    let id = "c".repeat(64);
    let user = root();
    let s = serde_json::to_value(
        generate(&SpecInput {
            id: &id,
            name: "n",
            config: &config,
            user: &user,
            host: &host,
            paths: &paths,
            userns: Some((1 << 20, 65536)),
        })
        .unwrap(),
    )
    .unwrap();
    assert!(s["linux"]["namespaces"].to_string().contains("user"));
    assert_eq!(s["linux"]["uidMappings"][0]["hostID"], 1 << 20);
    assert_eq!(s["linux"]["gidMappings"][0]["size"], 65536);
}
