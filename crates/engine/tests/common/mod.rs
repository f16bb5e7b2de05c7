//! A throwaway engine for root tests: temporary `--root`/`--runroot`, a
//! busybox image imported from Debian's busybox-static, monitors started by
//! re-executing this test binary, and a cleanup that removes every
//! container and then checks nothing is left (mounts, cgroups, processes).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use brig_engine::{CreateOptions, Engine, EngineOptions, MonitorLauncher};

pub const IMAGE: &str = "busybox:test";

/// The test every test binary must contain: when this binary runs as a
/// monitor, it does the monitor's work and exits.
#[macro_export]
macro_rules! monitor_entry {
    () => {
        #[test]
        fn monitor_entry() {
            if std::env::var_os(brig_engine::monitor::ENV).is_some() {
                std::process::exit(brig_engine::run_monitor());
            }
        }
    };
}

/// The runtime under test: `BRIG_TEST_RUNTIME` (runc, crun, brig or a
/// path), by default brig-runtime from this target directory.
pub fn runtime() -> String {
    match std::env::var("BRIG_TEST_RUNTIME").as_deref() {
        Ok("brig") | Err(_) => target_dir().join("brig-runtime").display().to_string(),
        Ok(other) => other.to_owned(),
    }
}

pub fn runtime_is_brig() -> bool {
    runtime().ends_with("brig-runtime")
}

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/TEST -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned()
}

/// A busybox rootfs as a tar (built once per test binary).
fn busybox_tar() -> &'static [u8] {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| brig_testkit::rootfs::busybox_tar(&[]))
}

/// One engine with its own state, cleaned up on drop.
pub struct TestEngine {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
}

impl TestEngine {
    pub fn new() -> TestEngine {
        let dir = tempfile::Builder::new()
            .prefix("brig-engine-test")
            .tempdir()
            .expect("temp dir");
        let engine = open(dir.path());
        let images = brig_image::ImageStore::open(dir.path(), &dir.path().join("brig.db")).unwrap();
        let opts = brig_image::ImportOptions {
            reference: Some(brig_image::Reference::parse(IMAGE).unwrap()),
            changes: vec![
                brig_image::ConfigChange::parse(r#"CMD ["sh"]"#).unwrap(),
                brig_image::ConfigChange::parse("ENV PATH=/bin:/usr/bin").unwrap(),
            ],
            ..Default::default()
        };
        images.import(busybox_tar(), &opts).expect("import busybox");
        TestEngine { dir, engine }
    }

    /// Another engine handle on the same state (another `brig` process).
    pub fn reopen(&self) -> Engine {
        open(self.dir.path())
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn runroot(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `run -d` of `sh -c SCRIPT` with extra options; returns the ID.
    pub fn run_sh(&self, script: &str, change: impl FnOnce(&mut CreateOptions)) -> String {
        let mut o = opts(&["sh", "-c", script]);
        change(&mut o);
        let created = self.engine.create(&o).expect("create");
        self.engine.start(&created.id, false).expect("start");
        created.id
    }

    /// The container's whole log as text (stdout and stderr interleaved).
    pub fn log_text(&self, id: &str) -> String {
        let mut out = String::new();
        self.engine
            .logs(id, &Default::default(), &mut |e| {
                out.push_str(&e.log);
                Ok(())
            })
            .expect("logs");
        out
    }
}

fn open(root: &Path) -> Engine {
    let exe = std::env::current_exe().unwrap();
    Engine::open(EngineOptions {
        root: root.to_owned(),
        runroot: root.join("run"),
        runtime: Some(runtime()),
        monitor: Some(MonitorLauncher {
            program: exe,
            args: [
                "monitor_entry",
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ]
            .iter()
            .map(Into::into)
            .collect(),
        }),
    })
    .expect("open engine")
}

/// Options running `args` on the test image.
pub fn opts(args: &[&str]) -> CreateOptions {
    CreateOptions {
        image: IMAGE.to_owned(),
        command: args.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        for c in self.engine.containers().unwrap_or_default() {
            if let Err(e) = self.engine.remove(&c.id, true, true) {
                eprintln!("cleanup: rm -f {}: {e}", c.id);
            }
        }
        // The default network stays after its last container (as docker0).
        if self.engine.network_find("brig").is_ok()
            && let Err(e) = self.engine.network_remove("brig")
        {
            eprintln!("cleanup: network rm brig: {e}");
        }
        let root = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&root)).collect();
        for l in &left {
            if let Some(mp) = l.split(' ').nth(4) {
                let _ = rustix::mount::unmount(mp, rustix::mount::UnmountFlags::DETACH);
            }
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "mounts left behind: {left:#?}");
        }
    }
}

/// Whether any cgroup directory of container `id` exists.
pub fn cgroup_exists(id: &str) -> bool {
    ["memory", "pids", "cpu", "freezer", "unified"]
        .iter()
        .any(|c| Path::new(&format!("/sys/fs/cgroup/{c}/brig/{id}")).exists())
}
