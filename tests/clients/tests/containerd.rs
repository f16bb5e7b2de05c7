//! containerd's io.containerd.runc.v2 shim drives brig-runtime (given by
//! `ctr run --runc-binary`) with runc's flags, `--log` JSON included, exactly
//! as it drives runc: every flow runs with each runtime and both must agree.

use std::time::{Duration, Instant};

use brig_clients::{Containerd, RuntimeUnderTest, agree, require_clients, runtimes};

const IMAGE: &str = "localhost/brig-busybox:test";

/// `ctr run --runc-binary RT [flags] IMAGE ID args...`.
fn ctr_run(
    cd: &Containerd,
    rt: &RuntimeUnderTest,
    flags: &[&str],
    id: &str,
    args: &[&str],
) -> brig_testkit::CmdOutput {
    let binary = rt.binary.display().to_string();
    let mut all = vec!["run", "--runc-binary", binary.as_str()];
    all.extend_from_slice(flags);
    all.extend_from_slice(&[IMAGE, id]);
    all.extend_from_slice(args);
    cd.ctr(&all)
}

/// The status column of `ctr task ls` for `id`.
fn task_status(cd: &Containerd, id: &str) -> String {
    let out = cd.ctr(&["tasks", "list"]);
    out.stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("(none)")
        .to_owned()
}

fn wait_for_status(cd: &Containerd, id: &str, status: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if task_status(cd, id) == status {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn ctr_run_rm_passes_exit_codes_through() {
    require_clients!("containerd", "ctr", "containerd-shim-runc-v2");
    let cd = Containerd::start("ctr-run");
    let mut seen = Vec::new();
    for rt in runtimes() {
        let mut observed = Vec::new();
        for (n, cmd) in [
            &["true"][..],
            &["sh", "-c", "echo hello from pid $$; exit 42"],
        ]
        .iter()
        .enumerate()
        {
            let id = format!("run-{}-{n}", rt.tag());
            let out = ctr_run(&cd, &rt, &["--rm"], &id, cmd);
            assert!(!out.timed_out, "{}:\n{}", rt.name, out.describe());
            observed.push((out.code, out.stdout.trim().to_owned()));
        }
        let missing = ctr_run(
            &cd,
            &rt,
            &["--rm"],
            &format!("run-{}-x", rt.tag()),
            &["nosuchcommand"],
        );
        // The shim reads the runtime's --log JSON and passes its message on.
        assert!(
            missing.stderr.contains("nosuchcommand")
                && missing.stderr.contains("executable file not found"),
            "{}: ctr should show the runtime's error:\n{}",
            rt.name,
            missing.describe()
        );
        let left = cd.ctr(&["containers", "list", "--quiet"]).stdout;
        let observed = (
            observed,
            missing.code,
            left.trim().to_owned(),
            cd.runtime_ids(&rt.binary),
        );
        assert_eq!(
            observed,
            (
                vec![
                    (Some(0), String::new()),
                    (Some(42), "hello from pid 1".to_owned()),
                ],
                Some(1),
                String::new(),
                vec![],
            ),
            "{}: ctr run --rm (exit codes, output, nothing left)",
            rt.name
        );
        seen.push((rt.name, observed));
    }
    agree("ctr run --rm", &seen);
}

#[test]
fn detached_task_exec_kill_delete() {
    require_clients!("containerd", "ctr", "containerd-shim-runc-v2");
    let cd = Containerd::start("ctr-task");
    let mut seen = Vec::new();
    for rt in runtimes() {
        let id = format!("task-{}", rt.tag());
        let run = ctr_run(
            &cd,
            &rt,
            &["--detach"],
            &id,
            &[
                "sh",
                "-c",
                "trap 'exit 7' TERM; while :; do sleep 0.1; done",
            ],
        );
        run.assert_ok();
        let running = wait_for_status(&cd, &id, "RUNNING");
        let exec = cd.ctr(&[
            "tasks",
            "exec",
            "--exec-id",
            "e1",
            &id,
            "sh",
            "-c",
            "echo from-exec; head -c 8 /proc/1/cmdline | tr '\\0' ' '; exit 4",
        ]);
        let exec_missing = cd.ctr(&["tasks", "exec", "--exec-id", "e2", &id, "nosuchcommand"]);
        let ps = cd.ctr(&["tasks", "ps", &id]);
        let lists_init = ps.stdout.lines().skip(1).count() >= 1;
        let pause = cd.ctr(&["tasks", "pause", &id]);
        let paused = task_status(&cd, &id);
        let resume = cd.ctr(&["tasks", "resume", &id]);
        let resumed = task_status(&cd, &id);
        let kill = cd.ctr(&["tasks", "kill", &id]);
        let stopped = wait_for_status(&cd, &id, "STOPPED");
        let delete = cd.ctr(&["tasks", "delete", &id]);
        let known_after_delete = cd.runtime_ids(&rt.binary).contains(&id);
        cd.ctr(&["containers", "delete", &id]).assert_ok();
        let observed = (
            running,
            (exec.code, exec.stdout.trim().to_owned()),
            exec_missing.code,
            exec_missing.stderr.contains("executable file not found"),
            lists_init,
            (pause.code, paused, resume.code, resumed),
            (kill.code, stopped),
            (delete.code, delete.stderr.contains("exit code 7")),
            known_after_delete,
            cd.scope().directories_named(&id),
        );
        assert_eq!(
            observed,
            (
                true,
                (Some(4), "from-exec\nsh -c tr".to_owned()),
                Some(1),
                true,
                true,
                (Some(0), "PAUSED".into(), Some(0), "RUNNING".into()),
                (Some(0), true),
                (Some(0), true),
                false,
                vec![],
            ),
            "{}: detached task\n{}\n{}\n{}",
            rt.name,
            exec.describe(),
            pause.describe(),
            delete.describe()
        );
        seen.push((rt.name, observed));
    }
    agree("ctr task exec/pause/resume/kill/delete", &seen);
}

#[test]
fn ctr_run_tty_gets_a_terminal() {
    require_clients!("containerd", "ctr", "containerd-shim-runc-v2", "script");
    let cd = Containerd::start("ctr-tty");
    let mut seen = Vec::new();
    for rt in runtimes() {
        let binary = rt.binary.display().to_string();
        let id = format!("tty-{}", rt.tag());
        let out = cd.ctr_on_terminal(&[
            "run",
            "--runc-binary",
            &binary,
            "--rm",
            "--tty",
            IMAGE,
            &id,
            "sh",
            "-c",
            // One write, then a pause: ctr's copy of the pty output can
            // lose what a task writes right before it exits (seen with runc).
            "t=$(tty); test -t 0 && s=stdin-is-a-tty; echo \"$t $s\"; sleep 0.5; exit 3",
        ]);
        let observed = (
            out.code,
            out.stdout.contains("/dev/pts/0"),
            out.stdout.contains("stdin-is-a-tty"),
        );
        assert_eq!(
            observed,
            (Some(3), true, true),
            "{}:\n{}",
            rt.name,
            out.describe()
        );
        seen.push((rt.name, observed));
    }
    agree("ctr run --tty", &seen);
}

#[test]
fn paused_task_dies_of_sigkill_and_force_delete() {
    require_clients!("containerd", "ctr", "containerd-shim-runc-v2");
    let cd = Containerd::start("ctr-paused");
    let mut seen = Vec::new();
    for rt in runtimes() {
        let killed = format!("paused-kill-{}", rt.tag());
        ctr_run(&cd, &rt, &["--detach"], &killed, &["sleep", "1000"]).assert_ok();
        cd.ctr(&["tasks", "pause", &killed]).assert_ok();
        let kill = cd.ctr(&["tasks", "kill", "--signal", "SIGKILL", &killed]);
        let stopped = wait_for_status(&cd, &killed, "STOPPED");
        // Killing a stopped task again: the shim maps the runtime's
        // "container not running" to "process already finished".
        let again = cd.ctr(&["tasks", "kill", "--signal", "SIGKILL", &killed]);
        let delete = cd.ctr(&["tasks", "delete", &killed]);

        let forced = format!("paused-force-{}", rt.tag());
        ctr_run(&cd, &rt, &["--detach"], &forced, &["sleep", "1000"]).assert_ok();
        cd.ctr(&["tasks", "pause", &forced]).assert_ok();
        let force = cd.ctr(&["tasks", "delete", "--force", &forced]);
        let observed = (
            kill.code,
            stopped,
            again.stderr.contains("process already finished"),
            delete.code,
            force.code,
            task_status(&cd, &forced),
            cd.runtime_ids(&rt.binary),
        );
        assert_eq!(
            observed,
            (
                Some(0),
                true,
                true,
                Some(0),
                Some(0),
                "(none)".into(),
                vec![]
            ),
            "{}: SIGKILL and delete --force of paused tasks\n{}\n{}",
            rt.name,
            again.describe(),
            force.describe()
        );
        for id in [&killed, &forced] {
            cd.ctr(&["containers", "delete", id]).assert_ok();
        }
        seen.push((rt.name, observed));
    }
    agree("paused task: kill -9, delete --force", &seen);
}
