//! Lifecycle with real containers (root only): stop escalation, restart
//! policy, health checks, pause, crash repair, names under concurrency.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use brig_engine::health::HealthStatus;
use brig_engine::proc::ProcessId;
use brig_engine::record::State;
use brig_engine::{Error, WaitCondition};
use brig_testkit::require_root;
use common::{TestEngine, cgroup_exists, opts};

monitor_entry!();

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn stop_sends_sigterm_then_sigkill_after_the_timeout() {
    require_root!();
    let t = TestEngine::new();
    // PID 1 ignores SIGTERM without a handler: only SIGKILL ends it.
    let stubborn = t.run_sh("sleep 1000", |_| {});
    let began = Instant::now();
    let rec = t.engine.stop(&stubborn, Some(1)).unwrap();
    let took = began.elapsed();
    assert_eq!((rec.state, rec.exit_code), (State::Exited, Some(137)));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // A program that handles SIGTERM ends at once.
    let polite = t.run_sh(
        "trap 'exit 42' TERM; while true; do sleep 0.1; done",
        |_| {},
    );
    std::thread::sleep(Duration::from_millis(300));
    let began = Instant::now();
    let rec = t.engine.stop(&polite, Some(10)).unwrap();
    assert_eq!(rec.exit_code, Some(42));
    assert!(began.elapsed() < Duration::from_secs(3));
    // Stopping a stopped container is fine, and it starts again.
    t.engine.stop(&polite, None).unwrap();
    t.engine.start(&polite, false).unwrap();
    assert_eq!(t.engine.find(&polite).unwrap().state, State::Running);
}

#[test]
fn on_failure_restarts_with_backoff_up_to_the_limit() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh("echo run; exit 3", |o| {
        o.restart = Some("on-failure:2".into())
    });
    wait_for("two restarts", Duration::from_secs(15), || {
        let r = t.engine.find(&id).unwrap();
        r.state == State::Exited && r.restart_count == 2
    });
    let r = t.engine.find(&id).unwrap();
    assert_eq!(r.exit_code, Some(3));
    assert_eq!(t.log_text(&id).matches("run").count(), 3);
    // always: restarts until stopped by hand.
    let id = t.run_sh("exit 0", |o| o.restart = Some("always".into()));
    wait_for("a restart", Duration::from_secs(10), || {
        t.engine.find(&id).unwrap().restart_count >= 1
    });
    let r = t.engine.stop(&id, Some(1)).unwrap();
    assert_eq!(r.state, State::Exited);
    let count = r.restart_count;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        t.engine.find(&id).unwrap().restart_count,
        count,
        "restarted after stop"
    );
}

#[test]
fn health_goes_starting_healthy_unhealthy() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh("sleep 1000", |o| {
        o.health_cmd = Some("test -f /tmp/ok".into());
        o.health_interval = Some("200ms".into());
        o.health_retries = Some(2);
    });
    let status = || t.engine.find(&id).unwrap().health.map(|h| h.status);
    let wait_status = |want: HealthStatus| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while status() != Some(want) {
            if Instant::now() >= deadline {
                let log = t.root().join("containers").join(&id).join("monitor.log");
                panic!(
                    "not {want:?}: {:#?}\nmonitor log: {}",
                    t.engine.find(&id).unwrap().health,
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    };
    assert_eq!(status(), Some(HealthStatus::Starting));
    t.engine
        .exec(
            &id,
            &brig_engine::ExecOptions {
                command: vec!["touch".into(), "/tmp/ok".into()],
                ..Default::default()
            },
        )
        .unwrap();
    wait_status(HealthStatus::Healthy);
    t.engine
        .exec(
            &id,
            &brig_engine::ExecOptions {
                command: vec!["rm".into(), "/tmp/ok".into()],
                ..Default::default()
            },
        )
        .unwrap();
    wait_status(HealthStatus::Unhealthy);
    let h = t.engine.find(&id).unwrap().health.unwrap();
    assert!(h.failing_streak >= 2 && !h.log.is_empty());
    // healthcheck run records a result now.
    let r = t.engine.healthcheck_run(&id).unwrap();
    assert_eq!(r.exit_code, 1);
    let inspect = t.engine.inspect(&id).unwrap();
    assert_eq!(inspect["State"]["Health"]["Status"], "unhealthy");
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh(
        "while true; do date +%s%N > /tmp/t; sleep 0.05; done",
        |_| {},
    );
    t.engine.pause(&id).unwrap();
    assert_eq!(t.engine.find(&id).unwrap().state, State::Paused);
    assert!(t.engine.pause(&id).is_err());
    t.engine.unpause(&id).unwrap();
    assert_eq!(t.engine.find(&id).unwrap().state, State::Running);
    // rm -f of a paused container works.
    t.engine.pause(&id).unwrap();
    t.engine.remove(&id, true, true).unwrap();
    assert!(!cgroup_exists(&id));
}

#[test]
fn a_reboot_leaves_containers_exited_and_startable() {
    require_root!();
    let t = TestEngine::new();
    let a = t.run_sh("sleep 1000", |_| {});
    let b = t.run_sh("sleep 1000", |_| {});
    // Simulate a reboot: kill every monitor and container, unmount, wipe /run.
    for id in [&a, &b] {
        let r = t.engine.find(id).unwrap();
        let monitor = r.monitor.unwrap();
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(monitor.pid).unwrap(),
            rustix::process::Signal::KILL,
        )
        .unwrap();
        wait_for("monitor gone", Duration::from_secs(5), || {
            !monitor.is_alive()
        });
        let cg = format!("/sys/fs/cgroup/pids/brig/{id}/cgroup.procs");
        for pid in std::fs::read_to_string(&cg).unwrap_or_default().lines() {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(pid.parse().unwrap()).unwrap(),
                rustix::process::Signal::KILL,
            );
        }
    }
    std::fs::remove_dir_all(t.runroot()).unwrap();
    let engine = t.reopen();
    for id in [&a, &b] {
        let r = engine.find(id).unwrap();
        assert_eq!((r.state, r.exit_code), (State::Exited, Some(255)), "{id}");
        assert!(!cgroup_exists(id));
    }
    engine.start(&a, false).unwrap();
    assert_eq!(engine.find(&a).unwrap().state, State::Running);
    engine.remove(&a, true, true).unwrap();
}

#[test]
fn a_killed_creator_leaves_nothing_after_the_next_command() {
    require_root!();
    let t = TestEngine::new();
    let c = t.engine.create(&opts(&["true"])).unwrap();
    // Pretend the creating process died half way.
    let dead = ProcessId {
        pid: i32::MAX - 7,
        start: 1,
    };
    t.engine
        .ctx()
        .db
        .modify(&c.id, |r| {
            r.state = State::Creating;
            r.owner = Some(dead);
            Ok(())
        })
        .unwrap();
    let engine = t.reopen();
    assert!(matches!(engine.find(&c.id), Err(Error::NoSuchContainer(_))));
    assert!(!t.root().join("containers").join(&c.id).exists());
    assert!(!t.root().join("snapshots").join(&c.id).exists());
}

#[test]
fn a_killed_rm_is_finished_by_the_next_command() {
    require_root!();
    let t = TestEngine::new();
    let id = t.run_sh("exit 0", |_| {});
    t.engine.wait(&id, WaitCondition::NotRunning).unwrap();
    let dead = ProcessId {
        pid: i32::MAX - 7,
        start: 1,
    };
    t.engine
        .ctx()
        .db
        .modify(&id, |r| {
            r.state = State::Removing;
            r.owner = Some(dead);
            Ok(())
        })
        .unwrap();
    let engine = t.reopen();
    assert!(matches!(engine.find(&id), Err(Error::NoSuchContainer(_))));
    assert!(!t.root().join("containers").join(&id).exists());
    assert!(!t.root().join("snapshots").join(&id).exists());
    assert!(!cgroup_exists(&id));
}

#[test]
fn twenty_parallel_creates_of_one_name_exactly_one_wins() {
    require_root!();
    let t = TestEngine::new();
    let barrier = Arc::new(Barrier::new(20));
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let barrier = barrier.clone();
                let engine = t.reopen();
                s.spawn(move || {
                    let mut o = opts(&["true"]);
                    o.name = Some("x".into());
                    barrier.wait();
                    engine.create(&o)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{errors:#?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, Error::NameInUse { .. }))
    );
    assert_eq!(t.engine.containers().unwrap().len(), 1);
    let snapshots = std::fs::read_dir(t.root().join("snapshots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.'))
        });
    assert_eq!(snapshots.count(), 1, "losers left snapshots");
}

#[test]
fn fifty_parallel_detached_runs_all_succeed() {
    require_root!();
    let t = TestEngine::new();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let engine = t.reopen();
                s.spawn(move || {
                    let c = engine.create(&opts(&["sleep", "1000"])).expect("create");
                    engine.start(&c.id, false).expect("start");
                    c.id
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut listed: Vec<String> = t
        .engine
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut ids = ids;
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
}
