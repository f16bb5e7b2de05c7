//! exec, inspect, cp, diff, export, volumes, secrets, update, events, top,
//! stats, logs options, ps filters, rename, system df/prune (root only).

mod common;

use std::time::Duration;

use brig_engine::record::State;
use brig_engine::{ErrorKind, ExecOptions, ListOptions, LogOptions, WaitCondition};
use brig_testkit::require_root;
use common::{TestEngine, opts};

monitor_entry!();

fn exec(t: &TestEngine, id: &str, args: &[&str]) -> i32 {
    t.engine
        .exec(
            id,
            &ExecOptions {
                command: args.iter().map(|s| (*s).to_owned()).collect(),
                ..Default::default()
            },
        )
        .unwrap()
}

#[test]
fn exec_exit_codes_user_env_and_workdir() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh("sleep 1000", |_| {});
    assert_eq!(exec(&t, &id, &["sh", "-c", "exit 5"]), 5);
    let err = t
        .engine
        .exec(
            &id,
            &ExecOptions {
                command: vec!["nope".into()],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CommandNotFound);
    let o = ExecOptions {
        command: vec![
            "sh".into(),
            "-c".into(),
            "[ \"$(id -u)\" = 1000 ] && [ \"$PWD\" = /tmp ] && [ \"$X\" = y ]".into(),
        ],
        user: Some("user".into()),
        workdir: Some("/tmp".into()),
        env: vec!["X=y".into()],
        ..Default::default()
    };
    assert_eq!(t.engine.exec(&id, &o).unwrap(), 0);
    let d = ExecOptions {
        command: vec!["sh".into(), "-c".into(), "touch /tmp/detached".into()],
        detach: true,
        ..Default::default()
    };
    assert_eq!(t.engine.exec(&id, &d).unwrap(), 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(exec(&t, &id, &["test", "-f", "/tmp/detached"]), 0);
    let stopped = t.engine.create(&opts(&["true"])).unwrap();
    assert_eq!(
        t.engine
            .exec(
                &stopped.id,
                &ExecOptions {
                    command: vec!["true".into()],
                    ..Default::default()
                }
            )
            .unwrap_err()
            .kind(),
        ErrorKind::State
    );
}

#[test]
fn inspect_has_dockers_shape_and_hides_secrets() {
    require_root!();
    let t = TestEngine::new();
    t.engine
        .secret_create("dbpw", b"hunter2-secret", &[])
        .unwrap();
    let mut o = opts(&["sh", "-c", "cat /run/secrets/dbpw; id -u"]);
    o.name = Some("web".into());
    o.secrets = vec!["dbpw".into()];
    o.env = vec!["API_TOKEN=abc123".into(), "PLAIN=ok".into()];
    o.user = Some("1000".into());
    o.labels = vec!["tier=front".into()];
    o.memory = Some("64m".into());
    let c = t.engine.create(&o).unwrap();
    assert!(
        c.warnings.iter().any(|w| w.contains("API_TOKEN")),
        "{:?}",
        c.warnings
    );
    t.engine.start(&c.id, false).unwrap();
    assert_eq!(t.engine.wait(&c.id, WaitCondition::NotRunning).unwrap(), 0);
    // The secret is readable by the container's (non-root) user.
    assert_eq!(t.log_text(&c.id), "hunter2-secret1000\n");
    let j = t.engine.inspect("web").unwrap();
    assert_eq!(j["Id"], c.id);
    assert_eq!(j["Name"], "/web");
    assert_eq!(j["State"]["Status"], "exited");
    assert_eq!(j["State"]["ExitCode"], 0);
    assert_eq!(j["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(j["Config"]["Labels"]["tier"], "front");
    assert_eq!(j["Config"]["Cmd"][0], "sh");
    assert_eq!(j["Brig"]["Secrets"][0]["Target"], "/run/secrets/dbpw");
    let text = j.to_string();
    assert!(!text.contains("hunter2"), "secret value in inspect");
    assert!(
        !text.contains("abc123"),
        "secret-looking env value in inspect"
    );
    assert!(text.contains("PLAIN=ok"));
    let s = t.engine.secret_inspect("dbpw").unwrap();
    assert!(!s.to_string().contains("hunter2"));
    assert!(t.engine.secret_remove("dbpw").is_err(), "in use");
    t.engine.remove(&c.id, false, false).unwrap();
    t.engine.secret_remove("dbpw").unwrap();
    assert!(t.engine.secret_list().unwrap().is_empty());
}

#[test]
fn named_volumes_are_seeded_from_the_image_and_outlive_containers() {
    require_root!();
    let t = TestEngine::new();
    let a = t.run_sh(
        "ls /etc > /listing; cp /etc/passwd /seeded-check 2>/dev/null; echo kept > /etc/extra",
        |o| {
            o.volumes = vec!["conf:/etc".into()];
        },
    );
    assert_eq!(t.engine.wait(&a, WaitCondition::NotRunning).unwrap(), 0);
    let data = t.root().join("volumes/conf/_data");
    assert!(data.join("passwd").exists(), "seeded from the image");
    assert_eq!(
        std::fs::read_to_string(data.join("extra")).unwrap(),
        "kept\n"
    );
    assert!(t.engine.volume_remove("conf").is_err(), "in use");
    t.engine.remove(&a, false, true).unwrap();
    let b = t.run_sh("cat /etc/extra", |o| {
        o.volumes = vec!["conf:/etc:ro".into()]
    });
    assert_eq!(t.engine.wait(&b, WaitCondition::NotRunning).unwrap(), 0);
    assert_eq!(t.log_text(&b), "kept\n");
    let j = t.engine.volume_inspect("conf").unwrap();
    assert_eq!(j["Driver"], "local");
    t.engine.remove(&b, false, false).unwrap();
    t.engine
        .volume_create(Some("spare"), &["a=b".into()])
        .unwrap();
    let anon = t.run_sh("true", |o| o.volumes = vec!["/scratch".into()]);
    t.engine.wait(&anon, WaitCondition::NotRunning).unwrap();
    t.engine.remove(&anon, false, false).unwrap();
    let pruned = t.engine.volume_prune(false).unwrap();
    assert_eq!(pruned.len(), 1, "only the anonymous volume: {pruned:?}");
    t.engine.volume_remove("conf").unwrap();
    let left: Vec<String> = t
        .engine
        .volume_list()
        .unwrap()
        .into_iter()
        .map(|v| v.volume.name)
        .collect();
    assert_eq!(left, ["spare"]);
}

#[test]
fn cp_diff_and_export() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh(
        "echo hi > /created; rm /etc/hostname.bak 2>/dev/null; rm -f /bin/vi; sleep 1000",
        |_| {},
    );
    std::thread::sleep(Duration::from_millis(300));
    let host = tempfile::tempdir().unwrap();
    t.engine
        .copy_out(&id, "/created", &host.path().join("out.txt"))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(host.path().join("out.txt")).unwrap(),
        "hi\n"
    );
    std::fs::write(host.path().join("in.txt"), "from host").unwrap();
    t.engine
        .copy_in(&id, &host.path().join("in.txt"), "/tmp/")
        .unwrap();
    assert_eq!(
        exec(&t, &id, &["grep", "-q", "from host", "/tmp/in.txt"]),
        0
    );
    // A link pointing at the host's /etc resolves inside the container.
    assert_eq!(exec(&t, &id, &["ln", "-s", "/etc", "/hostetc"]), 0);
    t.engine
        .copy_out(&id, "/hostetc/passwd", &host.path().join("p"))
        .unwrap();
    let copied = std::fs::read_to_string(host.path().join("p")).unwrap();
    assert!(
        copied.contains("user:x:1000"),
        "container's passwd, not the host's"
    );
    let diff = t.engine.diff(&id).unwrap();
    let find = |p: &str| diff.iter().find(|c| c.path == p).map(|c| c.kind);
    assert_eq!(find("/created"), Some('A'), "{diff:?}");
    assert_eq!(find("/bin/vi"), Some('D'), "{diff:?}");
    assert_eq!(find("/bin"), Some('C'), "{diff:?}");
    assert_eq!(find("/etc/hostname"), None, "mount points are left out");
    t.engine.stop(&id, Some(0)).unwrap();
    // A stopped container's files are reached through its snapshot.
    t.engine
        .copy_out(&id, "/created", &host.path().join("again"))
        .unwrap();
    let mut tar_bytes = Vec::new();
    t.engine.export(&id, &mut tar_bytes).unwrap();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "created"), "{:?}", &names[..5]);
    assert!(names.iter().any(|n| n == "bin/busybox"));
    assert!(!names.iter().any(|n| n == "bin/vi"));
    assert!(
        !t.root()
            .join("containers")
            .join(&id)
            .join("rootfs/bin")
            .exists(),
        "temporary mount left"
    );
}

#[test]
fn update_changes_a_running_containers_limits() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh("sleep 1000", |o| o.memory = Some("64m".into()));
    let cg = format!("/sys/fs/cgroup/memory/brig/{id}/memory.limit_in_bytes");
    assert_eq!(
        std::fs::read_to_string(&cg).unwrap().trim(),
        (64u64 << 20).to_string()
    );
    t.engine
        .update(
            &id,
            &brig_engine::UpdateOptions {
                memory: Some("128m".into()),
                pids_limit: Some(50),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&cg).unwrap().trim(),
        (128u64 << 20).to_string()
    );
    let pids = format!("/sys/fs/cgroup/pids/brig/{id}/pids.max");
    assert_eq!(std::fs::read_to_string(pids).unwrap().trim(), "50");
    assert_eq!(
        t.engine.find(&id).unwrap().config.resources.memory,
        Some(128 << 20)
    );
    assert!(
        t.engine
            .update(
                &id,
                &brig_engine::UpdateOptions {
                    memory: Some("lots".into()),
                    ..Default::default()
                }
            )
            .is_err()
    );
}

#[test]
fn logs_tail_since_follow_and_rotation() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh(
        "for i in 1 2 3 4 5; do echo line$i; done; sleep 0.5; echo late",
        |o| {
            o.log_opts = vec!["max-size=4k".into(), "max-file=2".into()];
        },
    );
    let mut got = Vec::new();
    t.engine
        .logs(
            &id,
            &LogOptions {
                follow: true,
                ..Default::default()
            },
            &mut |e| {
                got.push(e.log.clone());
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(got.last().map(String::as_str), Some("late\n"), "{got:?}");
    assert_eq!(got.len(), 6);
    let mut tail = Vec::new();
    t.engine
        .logs(
            &id,
            &LogOptions {
                tail: Some(2),
                ..Default::default()
            },
            &mut |e| {
                tail.push(e.log.clone());
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(tail, ["line5\n", "late\n"]);
    let future = brig_engine::time::now_ns() + 10_000_000_000;
    let mut none = 0;
    t.engine
        .logs(
            &id,
            &LogOptions {
                since: Some(future),
                ..Default::default()
            },
            &mut |_| {
                none += 1;
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(none, 0);
    // Rotation: 4 KiB files, at most 2.
    let noisy = t.run_sh(
        "i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxx; i=$((i+1)); done",
        |o| {
            o.log_opts = vec!["max-size=4k".into(), "max-file=2".into()];
        },
    );
    t.engine.wait(&noisy, WaitCondition::NotRunning).unwrap();
    let log = t
        .root()
        .join("containers")
        .join(&noisy)
        .join("container.log");
    assert!(
        log.exists()
            && t.root()
                .join("containers")
                .join(&noisy)
                .join("container.log.1")
                .exists()
    );
    assert!(
        !t.root()
            .join("containers")
            .join(&noisy)
            .join("container.log.2")
            .exists()
    );
    assert!(std::fs::metadata(&log).unwrap().len() <= 4096);
}

#[test]
fn ps_filters_rename_top_stats_events_and_system() {
    require_root!();
    let t = TestEngine::new();
    let since = brig_engine::time::now_ns();
    let a = t.run_sh("sleep 1000", |o| {
        o.name = Some("alpha".into());
        o.labels = vec!["team=a".into()];
    });
    let b = t.run_sh("exit 3", |o| o.name = Some("beta".into()));
    t.engine.wait(&b, WaitCondition::NotRunning).unwrap();
    let names = |filters: &[&str], all: bool| -> Vec<String> {
        t.engine
            .list(&ListOptions {
                all,
                filters: filters.iter().map(|s| (*s).to_owned()).collect(),
                last: None,
            })
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    };
    assert_eq!(names(&[], false), ["alpha"]);
    assert_eq!(names(&[], true), ["beta", "alpha"]);
    assert_eq!(names(&["status=exited"], true), ["beta"]);
    assert_eq!(names(&["exited=3"], true), ["beta"]);
    assert_eq!(names(&["label=team=a"], true), ["alpha"]);
    assert_eq!(names(&["name=alp"], true), ["alpha"]);
    assert!(
        t.engine
            .list(&ListOptions {
                filters: vec!["bogus=1".into()],
                ..Default::default()
            })
            .is_err()
    );
    t.engine.rename("beta", "gamma").unwrap();
    assert!(t.engine.rename("gamma", "alpha").is_err());
    assert_eq!(t.engine.find("gamma").unwrap().id, b);
    let top = t.engine.top(&a).unwrap();
    assert!(
        top.iter().any(|r| r.command.contains("sleep 1000")),
        "{top:?}"
    );
    let s1 = t.engine.stats(&a).unwrap();
    assert!(s1.memory_usage > 0 && s1.pids >= 1, "{s1:?}");
    let mut actions = Vec::new();
    t.engine
        .events(
            &brig_engine::EventOptions {
                since: Some(since),
                ..Default::default()
            },
            false,
            &mut |e| {
                actions.push(e.action.clone());
                Ok(())
            },
        )
        .unwrap();
    for a in ["create", "start", "die", "rename"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let df = t.engine.df().unwrap();
    assert_eq!(df[1].total, 2);
    assert_eq!(df[1].active, 1);
    let info = t.engine.info().unwrap();
    assert_eq!(info["ContainersRunning"], 1);
    let report = t.engine.system_prune(false, true).unwrap();
    assert_eq!(report.containers, std::slice::from_ref(&b));
    assert_eq!(t.engine.containers().unwrap().len(), 1);
    assert_eq!(t.engine.find(&a).unwrap().state, State::Running);
    let (_, audit) = t.engine.audit(&a).unwrap();
    assert_eq!(audit.len(), 12);
}

#[test]
fn bad_input_creates_nothing() {
    require_root!();
    let t = TestEngine::new();
    type Change = Box<dyn Fn(&mut brig_engine::CreateOptions)>;
    let cases: Vec<Change> = vec![
        Box::new(|o| o.image = "no-such-image:1".into()),
        Box::new(|o| o.volumes = vec!["/definitely/missing:/data:ro".into()]),
        Box::new(|o| {
            o.auto_remove = true;
            o.restart = Some("always".into());
        }),
        Box::new(|o| o.memory = Some("12x".into())),
        Box::new(|o| o.cpus = Some("-1".into())),
        Box::new(|o| o.name = Some("bad name".into())),
    ];
    for change in &cases {
        let mut o = opts(&["true"]);
        change(&mut o);
        assert!(t.engine.create(&o).is_err());
    }
    let mut o = opts(&["true"]);
    o.name = Some("taken".into());
    t.engine.create(&o).unwrap();
    assert_eq!(t.engine.create(&o).unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(t.engine.containers().unwrap().len(), 1);
    let snapshots = std::fs::read_dir(t.root().join("snapshots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.'))
        })
        .count();
    assert_eq!(snapshots, 1);
    assert_eq!(
        t.engine
            .create(&brig_engine::CreateOptions {
                image: "no-such-image:1".into(),
                ..Default::default()
            })
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn userns_auto_maps_root_to_a_private_range_without_chowning_the_image() {
    require_root!();
    let t = TestEngine::new();
    let script =
        "cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox; touch /made-here && echo write-ok";
    let a = t.run_sh(script, |o| o.userns = Some("auto".into()));
    let b = t.run_sh("sleep 1000", |o| o.userns = Some("auto".into()));
    assert_eq!(
        t.engine.wait(&a, WaitCondition::NotRunning).unwrap(),
        0,
        "{}",
        t.log_text(&a)
    );
    let out = t.log_text(&a);
    let map: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    let start: u32 = map[1].parse().unwrap();
    assert_eq!((map[0], map[2]), ("0", "65536"), "{out}");
    assert!(start >= 1 << 20, "{out}");
    assert!(
        out.contains("\n0\n0\nwrite-ok"),
        "root inside, image files root-owned: {out}"
    );
    // The shared layer is untouched; the container's file belongs to its range.
    use std::os::unix::fs::MetadataExt;
    let made = t.root().join("snapshots").join(&a).join("upper/made-here");
    assert_eq!(std::fs::metadata(made).unwrap().uid(), start);
    let b_map = std::fs::read_to_string(format!(
        "/proc/{}/uid_map",
        t.engine.find(&b).unwrap().pid.unwrap()
    ))
    .unwrap();
    let b_start: u32 = b_map.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_ne!(b_start, start, "each container has its own range");
}

#[test]
fn init_runs_tini_as_pid_1() {
    require_root!();
    if !std::path::Path::new("/usr/bin/tini-static").exists() {
        eprintln!("SKIPPED (needs tini-static: apt-get install tini): init_runs_tini_as_pid_1");
        return;
    }
    let t = TestEngine::new();
    let id = t.run_sh("cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$", |o| {
        o.init = true
    });
    assert_eq!(t.engine.wait(&id, WaitCondition::NotRunning).unwrap(), 0);
    let out = t.log_text(&id);
    assert!(out.starts_with("/run/brig-init -- sh -c"), "{out}");
    assert!(
        out.lines().nth(1).is_none_or(|l| l != "1"),
        "the command is not PID 1: {out}"
    );
}

#[test]
fn userns_auto_volumes_are_idmapped_so_files_land_root_owned() {
    require_root!();
    let t = TestEngine::new();
    // Two containers with different ID ranges share one named volume.
    let script =
        "id -u; touch /data/made-by-a; mkdir /data/dir; stat -c '%u %g' /data /data/made-by-a";
    let a = t.run_sh(script, |o| {
        o.userns = Some("auto".into());
        o.volumes = vec!["shared:/data".into()];
    });
    assert_eq!(
        t.engine.wait(&a, WaitCondition::NotRunning).unwrap(),
        0,
        "{}",
        t.log_text(&a)
    );
    let out = t.log_text(&a);
    assert_eq!(
        out, "0\n0 0\n0 0\n",
        "root inside owns the volume and its files"
    );
    use std::os::unix::fs::MetadataExt;
    let data = t.root().join("volumes/shared/_data");
    for file in ["made-by-a", "dir"] {
        let meta = std::fs::metadata(data.join(file)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "{file} is stored as root");
    }
    let b = t.run_sh(
        "stat -c '%u' /data/made-by-a; echo more > /data/made-by-a && echo write-ok",
        |o| {
            o.userns = Some("auto".into());
            o.volumes = vec!["shared:/data".into()];
        },
    );
    assert_eq!(
        t.engine.wait(&b, WaitCondition::NotRunning).unwrap(),
        0,
        "{}",
        t.log_text(&b)
    );
    assert_eq!(
        t.log_text(&b),
        "0\nwrite-ok\n",
        "another range sees root's file"
    );
}
