//! The container commands end to end (root only): `brig` runs real busybox
//! containers; exit codes, detaching, signal forwarding, the hardened line.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Brig;

const IMAGE: &str = "busybox:test";

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("SKIPPED (needs root): {}", module_path!());
            return;
        }
    };
}

/// The runtime: brig-runtime built beside `brig`, else runc.
fn runtime() -> String {
    if let Ok(r) = std::env::var("BRIG_TEST_RUNTIME") {
        return r;
    }
    let beside = Path::new(env!("CARGO_BIN_EXE_brig")).with_file_name("brig-runtime");
    if beside.exists() {
        beside.display().to_string()
    } else {
        "runc".to_owned()
    }
}

struct Engine {
    brig: Brig,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Engine {
    /// A store with a busybox image imported as `busybox:test`.
    fn new() -> Engine {
        let e = Engine { brig: Brig::new() };
        let tar = e.brig.path("busybox.tar");
        std::fs::write(&tar, brig_testkit::rootfs::busybox_tar(&[])).unwrap();
        let r = e.run(&[
            "import",
            "--change",
            r#"CMD ["sh"]"#,
            "--change",
            "ENV PATH=/bin",
            tar.to_str().unwrap(),
            IMAGE,
        ]);
        assert_eq!(r.code, 0, "import: {}", r.stderr);
        e
    }

    /// `brig --root R --runroot R2 --runtime RT ARGS` (global flags first:
    /// after `run IMAGE` everything belongs to the container's command).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brig"));
        cmd.arg("--root")
            .arg(self.brig.root())
            .arg("--runroot")
            .arg(self.brig.runroot())
            .arg("--runtime")
            .arg(runtime())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Out {
        let o = self.command(args).output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-a", "-q", "--no-trunc"]).stdout;
        for id in ids.lines() {
            let _ = self.run(&["rm", "-f", "-v", id]);
        }
        // The default network stays after its last container (as docker0).
        let _ = self.run(&["network", "rm", "brig"]);
    }
}

#[test]
fn run_exit_codes_are_dockers() {
    require_root!();
    let e = Engine::new();
    let r = e.run(&["run", "--rm", IMAGE, "echo", "hello", "-n"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "hello -n\n"),
        "{}",
        r.stderr
    );
    assert_eq!(e.run(&["run", "--rm", IMAGE, "sh", "-c", "exit 3"]).code, 3);
    let r = e.run(&["run", "--rm", IMAGE, "no-such-program"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
    assert_eq!(e.run(&["run", "--rm", IMAGE, "/etc"]).code, 126);
    let r = e.run(&["run", "--rm", "--memory", "12x", IMAGE, "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("--memory"), "{}", r.stderr);
    for command in ["run", "exec"] {
        let r = e.run(&[command, "--bogus", IMAGE, "true"]);
        assert_eq!(r.code, 125, "{}", r.stderr);
        assert!(
            r.stderr.contains("unexpected argument '--bogus'"),
            "an unknown flag is named, not taken for the {}: {}",
            if command == "run" {
                "image"
            } else {
                "container"
            },
            r.stderr
        );
    }
    assert_eq!(e.run(&["run", "--rm", "no-such-image:1"]).code, 125);
    let r = e.run(&["run", "--rm", "--restart", "always", IMAGE, "true"]);
    assert_eq!(r.code, 125);
    let r = e.run(&["run", "-v", "/definitely/missing:/x:ro", IMAGE, "true"]);
    assert_eq!(r.code, 125);
    assert_eq!(e.run(&["ps", "-a", "-q"]).stdout, "", "nothing was left");
}

#[test]
fn detached_containers_through_their_lifecycle() {
    require_root!();
    let e = Engine::new();
    let r = e.run(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "app=web",
        IMAGE,
        "sh",
        "-c",
        "echo ready; sleep 1000",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = r.stdout.trim().to_owned();
    assert_eq!(id.len(), 64);
    let ps = e.run(&["ps", "--format", "json"]);
    let row: serde_json::Value = serde_json::from_str(ps.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(row["Names"], "web");
    assert_eq!(row["State"], "running");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !e.run(&["logs", "web"]).stdout.contains("ready") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = e.run(&["exec", "web", "sh", "-c", "echo $HOSTNAME; exit 4"]);
    assert_eq!((r.code, r.stdout.trim()), (4, &id[..12]));
    let r = e.run(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.Config.Labels.app}}",
        "web",
    ]);
    assert_eq!(r.stdout.trim(), "running web");
    assert_eq!(e.run(&["stop", "-t", "1", "web"]).code, 0);
    assert_eq!(
        e.run(&["inspect", "-f", "{{.State.ExitCode}}", "web"])
            .stdout
            .trim(),
        "137"
    );
    assert_eq!(e.run(&["wait", "web"]).stdout.trim(), "137");
    assert_eq!(e.run(&["start", "web"]).code, 0);
    let r = e.run(&["rm", "web"]);
    assert_eq!(r.code, 125, "rm of a running container needs -f");
    assert_eq!(e.run(&["rm", "-f", "web"]).code, 0);
    assert_eq!(e.run(&["ps", "-a", "-q"]).stdout, "");
}

#[test]
fn closing_brig_does_not_stop_the_container() {
    require_root!();
    let e = Engine::new();
    let mut fg = e
        .command(&["run", "--name", "fg", IMAGE, "sleep", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while e
        .run(&["inspect", "-f", "{{.State.Status}}", "fg"])
        .stdout
        .trim()
        != "running"
    {
        assert!(Instant::now() < deadline, "never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    fg.kill().unwrap();
    fg.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        e.run(&["inspect", "-f", "{{.State.Status}}", "fg"])
            .stdout
            .trim(),
        "running"
    );
}

#[test]
fn a_foreground_run_forwards_signals() {
    require_root!();
    let e = Engine::new();
    let child = e
        .command(&[
            "run",
            "--rm",
            IMAGE,
            "sh",
            "-c",
            "trap 'echo got-term; exit 9' TERM; echo up; while true; do sleep 0.1; done",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(9),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("up") && stdout.contains("got-term"),
        "{stdout}"
    );
}

#[test]
fn the_hardened_line_works_as_written() {
    require_root!();
    let e = Engine::new();
    let profile: PathBuf = e.brig.path("profile.json");
    std::fs::write(&profile, r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod","fchmodat","fchmodat2"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#).unwrap();
    let seccomp = format!("--security-opt=seccomp={}", profile.display());
    let r = e.run(&[
        "run", "--rm", "--user", "1000:1000", "--cap-drop=ALL", "--cap-add=NET_BIND_SERVICE", "--read-only",
        "--tmpfs", "/tmp", "--security-opt=no-new-privileges", &seccomp, "--memory=512m", "--cpus=0.5",
        "--pids-limit=100", IMAGE, "sh", "-c",
        "id -u; grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; touch /tmp/x && echo tmp-ok; touch /x 2>/dev/null || echo ro-ok; cat /sys/fs/cgroup/pids/pids.max",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("1000\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains("CapBnd:\t0000000000000400"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("NoNewPrivs:\t1"), "{}", r.stdout);
    assert!(
        r.stdout.contains("tmp-ok") && r.stdout.contains("ro-ok"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.trim_end().ends_with("100"), "{}", r.stdout);
}

#[test]
fn volumes_secrets_and_audit_from_the_command_line() {
    require_root!();
    let e = Engine::new();
    let r = e
        .command(&["secret", "create", "token", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"s3cret")?;
            c.wait_with_output()
        });
    assert!(r.unwrap().status.success());
    assert_eq!(e.run(&["volume", "create", "data"]).stdout.trim(), "data");
    let r = e.run(&[
        "run",
        "--name",
        "v",
        "-v",
        "data:/data",
        "--secret",
        "token",
        IMAGE,
        "sh",
        "-c",
        "cat /run/secrets/token > /data/copy",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = e.run(&[
        "run",
        "--rm",
        "-v",
        "data:/data:ro",
        IMAGE,
        "cat",
        "/data/copy",
    ]);
    assert_eq!(r.stdout, "s3cret");
    assert!(!e.run(&["inspect", "v"]).stdout.contains("s3cret"));
    assert!(
        !e.run(&["secret", "inspect", "token"])
            .stdout
            .contains("s3cret")
    );
    let audit = e.run(&["audit", "--format", "json", "v"]);
    assert_eq!(audit.stdout.lines().count(), 12, "{}", audit.stdout);
    assert_eq!(e.run(&["volume", "rm", "data"]).code, 125, "in use");
    assert_eq!(e.run(&["rm", "v"]).code, 0);
    assert_eq!(e.run(&["volume", "rm", "data"]).code, 0);
    let ls = e.run(&["volume", "ls", "-q"]);
    assert_eq!(ls.stdout, "");
}

#[test]
fn the_config_file_sets_container_defaults_and_flags_win() {
    require_root!();
    let e = Engine::new();
    let config = e.brig.path("brig.toml");
    std::fs::write(
        &config,
        "[containers]\nuserns = \"auto\"\npids_limit = 77\nlog_opts = { max-size = \"1m\" }\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let show = "cat /sys/fs/cgroup/pids/pids.max; cat /proc/self/uid_map";
    let r = e.run(&["--config", config, "run", "--rm", IMAGE, "sh", "-c", show]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "77", "{}", r.stdout);
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        (map[0], map[2]),
        ("0", "65536"),
        "userns auto: {}",
        r.stdout
    );
    assert_ne!(map[1], "0", "{}", r.stdout);
    let r = e.run(&[
        "--config",
        config,
        "run",
        "--rm",
        "--pids-limit",
        "5",
        "--userns",
        "host",
        IMAGE,
        "sh",
        "-c",
        show,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("5\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains("4294967295"),
        "host user namespace: {}",
        r.stdout
    );
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused_with_its_name() {
    let e = Brig::new();
    let config = e.path("brig.toml");
    std::fs::write(&config, "[engine]\nruntime = \"runc\"\nroot_dir = \"/x\"\n").unwrap();
    let r = e.fails(
        &["--config", config.to_str().unwrap(), "ps"],
        &["brig.toml", "unknown field `root_dir`", "line 3"],
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let missing = e.path("missing.toml");
    e.fails(
        &["--config", missing.to_str().unwrap(), "ps"],
        &["missing.toml"],
    );
}
