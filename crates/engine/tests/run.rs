//! Real containers from a busybox image (root only): run, logs, exit
//! codes, the hardened line observed from inside, foreground attach, --rm.

mod common;

use std::time::{Duration, Instant};

use brig_engine::attach::{self, AttachClient};
use brig_engine::record::State;
use brig_engine::{ErrorKind, WaitCondition};
use brig_testkit::require_root;
use common::{TestEngine, cgroup_exists, opts};

monitor_entry!();

#[test]
fn detached_run_logs_exit_code_and_rm_leaves_nothing() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh("echo out; echo err >&2; exit 3", |_| {});
    assert_eq!(t.engine.wait(&id, WaitCondition::NotRunning).unwrap(), 3);
    let rec = t.engine.find(&id).unwrap();
    assert_eq!(rec.state, State::Exited);
    assert_eq!(rec.exit_code, Some(3));
    let mut streams = Vec::new();
    t.engine
        .logs(&id, &Default::default(), &mut |e| {
            streams.push((e.stream.clone(), e.log.clone()));
            Ok(())
        })
        .unwrap();
    streams.sort();
    assert_eq!(
        streams,
        [
            ("stderr".into(), "err\n".into()),
            ("stdout".into(), "out\n".into())
        ]
    );
    t.engine.remove(&id, false, true).unwrap();
    assert!(t.engine.find(&id).is_err());
    assert!(!t.root().join("containers").join(&id).exists());
    assert!(!t.root().join("snapshots").join(&id).exists());
    assert!(!cgroup_exists(&id));
}

#[test]
fn the_hardened_line_as_seen_from_inside() {
    require_root!();
    let t = TestEngine::new();
    let profile = t.root().join("profile.json");
    // Allow everything but mkdir: a rule the test can observe.
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let script = "id -u; id -g; grep -E '^(CapBnd|CapEff|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; \
        touch /rootfile 2>/dev/null && echo root-writable || echo root-readonly; \
        touch /tmp/ok && echo tmp-writable; stat -c %a /tmp; \
        mkdir /tmp/dir 2>&1 || echo mkdir-denied; \
        cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max";
    let id = t.run_sh(script, |o| {
        o.user = Some("1000:1000".into());
        o.cap_drop = vec!["ALL".into()];
        o.cap_add = vec!["NET_BIND_SERVICE".into()];
        o.read_only = true;
        o.tmpfs = vec!["/tmp".into()];
        o.security_opts = vec![
            "no-new-privileges".into(),
            format!("seccomp={}", profile.display()),
        ];
        o.memory = Some("512m".into());
        o.cpus = Some("0.5".into());
        o.pids_limit = Some(100);
    });
    assert_eq!(
        t.engine.wait(&id, WaitCondition::NotRunning).unwrap(),
        0,
        "{}",
        t.log_text(&id)
    );
    let out = t.log_text(&id);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["1000", "1000"], "{out}");
    let bnd = 1u64 << 10;
    assert!(out.contains(&format!("CapBnd:\t{bnd:016x}")), "{out}");
    assert!(out.contains(&format!("CapEff:\t{bnd:016x}")), "{out}");
    assert!(out.contains(&format!("CapAmb:\t{bnd:016x}")), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(
        out.contains("mkdir-denied") && out.contains("Operation not permitted"),
        "{out}"
    );
    assert!(out.contains("root-readonly"), "{out}");
    assert!(out.contains("tmp-writable"), "{out}");
    assert!(out.contains("\n1777\n"), "{out}");
    assert!(out.contains("536870912"), "{out}");
    assert!(out.contains("\n50000\n"), "{out}");
    assert!(out.trim_end().ends_with("100"), "{out}");
}

#[test]
fn foreground_run_gets_all_output_and_the_exit_code() {
    require_root!();
    let t = TestEngine::new();
    let created = t
        .engine
        .create(&opts(&["sh", "-c", "echo hello; echo oops >&2; exit 7"]))
        .unwrap();
    t.engine.start(&created.id, true).unwrap();
    let mut client =
        AttachClient::connect(&t.engine.ctx().paths.attach_socket(&created.id)).unwrap();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = loop {
        let (kind, payload) = attach::read_frame(&mut client_stream(&mut client))
            .unwrap()
            .expect("frame");
        match kind {
            attach::STDOUT => out.extend(payload),
            attach::STDERR => err.extend(payload),
            attach::EXIT => break i32::from_be_bytes(payload.try_into().unwrap()),
            other => panic!("unexpected frame {other}"),
        }
    };
    assert_eq!(code, 7);
    assert_eq!(String::from_utf8_lossy(&out), "hello\n");
    assert_eq!(String::from_utf8_lossy(&err), "oops\n");
}

fn client_stream(c: &mut AttachClient) -> std::fs::File {
    std::fs::File::from(c.as_fd().try_clone_to_owned().unwrap())
}

#[test]
fn rm_flag_removes_the_container_when_it_exits() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh("exit 0", |o| o.auto_remove = true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.engine.find(&id).is_ok() {
        assert!(Instant::now() < deadline, "--rm container still there");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!t.root().join("containers").join(&id).exists());
    assert!(!t.root().join("snapshots").join(&id).exists());
    assert!(!cgroup_exists(&id));
}

#[test]
fn a_missing_command_is_127_and_a_directory_126() {
    require_root!();
    let t = TestEngine::new();
    let c = t.engine.create(&opts(&["no-such-program"])).unwrap();
    let err = t.engine.start(&c.id, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CommandNotFound, "{err}");
    let rec = t.engine.find(&c.id).unwrap();
    assert_eq!((rec.state, rec.exit_code), (State::Created, Some(127)));
    let c = t.engine.create(&opts(&["/etc"])).unwrap();
    let err = t.engine.start(&c.id, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CannotExecute, "{err}");
}
