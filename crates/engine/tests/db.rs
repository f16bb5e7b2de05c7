//! The engine database under concurrency (no root needed).

use std::sync::{Arc, Barrier};

use brig_engine::config::ContainerConfig;
use brig_engine::db::Db;
use brig_engine::record::{ContainerRecord, State};
use brig_engine::{Error, ErrorKind};

fn config() -> ContainerConfig {
    serde_json::from_value(serde_json::json!({
        "args": ["sh"], "entrypoint": [], "cmd": ["sh"], "env": [], "working_dir": "/",
        "user": "", "group_add": [], "hostname": "h", "labels": {}, "tty": false,
        "open_stdin": false, "init": false, "stop_signal": "SIGTERM", "stop_timeout": 10,
        "mounts": [], "read_only": false, "secrets": [],
        "security": {"privileged": false, "cap_add": [], "cap_drop": [], "no_new_privileges": false,
            "seccomp": {"kind": "default"}, "apparmor": null, "label": [], "userns": "host",
            "unmask_system_paths": false},
        "resources": {"memory": null, "memory_swap": null, "memory_reservation": null,
            "nano_cpus": null, "cpu_shares": null, "cpuset_cpus": null, "pids_limit": null,
            "oom_kill_disable": false, "oom_score_adj": null, "ulimits": [], "shm_size": null},
        "sysctls": {}, "devices": [], "restart": {"name": "no"}, "auto_remove": false,
        "healthcheck": null, "log": {"max_size": null, "max_file": 1}, "network": "none",
        "ports": [], "exposed_ports": [], "runtime": "/usr/sbin/runc", "warnings": []
    }))
    .expect("config JSON")
}

fn record(id: &str, name: &str) -> ContainerRecord {
    ContainerRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        image: "busybox".into(),
        image_id: "sha256:00".into(),
        config: config(),
        state: State::Created,
        pid: None,
        monitor: None,
        owner: None,
        exit_code: None,
        oom_killed: false,
        created_at: 1,
        started_at: None,
        finished_at: None,
        restart_count: 0,
        stop_requested: false,
        health: None,
        error: None,
    }
}

#[test]
fn twenty_parallel_inserts_of_one_name_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brig.db");
    Db::open(&path).unwrap();
    let barrier = Arc::new(Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let db = Db::open(&path).expect("open");
                barrier.wait();
                db.insert_container(&record(&format!("{i:064x}"), "x"))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, Error::NameInUse { .. }), "{r}");
        assert_eq!(r.kind(), ErrorKind::Conflict);
    }
    assert_eq!(Db::open(&path).unwrap().containers().unwrap().len(), 1);
}

#[test]
fn find_by_name_id_and_prefix_modify_and_rename() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("brig.db")).unwrap();
    db.insert_container(&record(&format!("ab{}", "0".repeat(62)), "web"))
        .unwrap();
    db.insert_container(&record(&format!("ac{}", "0".repeat(62)), "db"))
        .unwrap();
    assert_eq!(db.find("web").unwrap().name, "web");
    assert_eq!(db.find("/db").unwrap().name, "db");
    assert_eq!(db.find("ab").unwrap().name, "web");
    assert!(matches!(
        db.find("a"),
        Err(Error::AmbiguousContainer { count: 2, .. })
    ));
    assert_eq!(db.find("zz").unwrap_err().kind(), ErrorKind::NotFound);
    let id = db.find("web").unwrap().id;
    db.modify(&id, |r| {
        r.state = State::Running;
        r.pid = Some(42);
        Ok(())
    })
    .unwrap();
    let r = db.container(&id).unwrap().unwrap();
    assert_eq!((r.state, r.pid), (State::Running, Some(42)));
    // A failing change leaves the row as it was.
    let err = db.modify(&id, |r| {
        r.state = State::Exited;
        Err::<(), _>(Error::NoSuchVolume("v".into()))
    });
    assert!(err.is_err());
    assert_eq!(db.container(&id).unwrap().unwrap().state, State::Running);
    assert!(matches!(db.rename(&id, "db"), Err(Error::NameInUse { .. })));
    db.rename(&id, "web2").unwrap();
    assert_eq!(db.find("web2").unwrap().id, id);
    assert!(db.delete_container(&id).unwrap());
    assert!(db.container(&id).unwrap().is_none());
}

#[test]
fn userns_ranges_do_not_overlap_and_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("brig.db")).unwrap();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        db.insert_container(&record(&format!("{i:064x}"), name))
            .unwrap();
    }
    let a = db
        .allocate_userns(&format!("{:064x}", 0), 1 << 20, 65536)
        .unwrap();
    let b = db
        .allocate_userns(&format!("{:064x}", 1), 1 << 20, 65536)
        .unwrap();
    assert_eq!((a, b), (1 << 20, (1 << 20) + 65536));
    assert_eq!(
        db.allocate_userns(&format!("{:064x}", 0), 1 << 20, 65536)
            .unwrap(),
        a
    );
    db.delete_container(&format!("{:064x}", 0)).unwrap();
    assert_eq!(
        db.allocate_userns(&format!("{:064x}", 2), 1 << 20, 65536)
            .unwrap(),
        a
    );
}

#[test]
fn the_image_and_engine_tables_share_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brig.db");
    let images = brig_image::ImageStore::open(dir.path(), &path).unwrap();
    let db = Db::open(&path).unwrap();
    db.insert_container(&record(&"1".repeat(64), "x")).unwrap();
    assert!(images.images().unwrap().is_empty());
    let conn = rusqlite_versions(&path);
    assert!(conn.contains(&("container".to_owned(), 1)), "{conn:?}");
    assert!(conn.contains(&("image".to_owned(), 1)), "{conn:?}");
}

fn rusqlite_versions(path: &std::path::Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut st = conn
        .prepare("SELECT component, version FROM schema_versions")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}
