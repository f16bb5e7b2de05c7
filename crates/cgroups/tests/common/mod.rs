//! Helpers shared by the integration tests: fake cgroup trees, child
//! processes that wait for a go signal, and the contract suite.
#![allow(dead_code)]

pub mod contract;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use brig_cgroups::{Controller, Mounts, UnifiedMount, V1Mount};

/// Returns early from a root-only test, loudly.
#[macro_export]
macro_rules! require_root {
    ($name:expr) => {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED (needs root): {}", $name);
            return;
        }
    };
}

/// A unique cgroup name for this test process: `brig-test-<pid>-<n>`.
pub fn unique_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "brig-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The v1 controllers of a fake tree, one hierarchy each.
pub const FAKE_V1: [Controller; 8] = [
    Controller::Cpu,
    Controller::Cpuacct,
    Controller::Cpuset,
    Controller::Memory,
    Controller::Devices,
    Controller::Freezer,
    Controller::Blkio,
    Controller::Pids,
];

/// A cgroup tree made of plain directories and files in a temp dir (kept
/// alive by the fixtures that hold it).
pub struct FakeTree {
    pub dir: tempfile::TempDir,
}

impl FakeTree {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    fn v1_mounts(root: &Path) -> Vec<V1Mount> {
        let mut mounts: Vec<V1Mount> = FAKE_V1
            .iter()
            .map(|&c| {
                let mount_point = root.join(c.v1_name());
                std::fs::create_dir_all(&mount_point).unwrap();
                V1Mount {
                    mount_point,
                    mount_root: "/".into(),
                    controllers: vec![c],
                    name: None,
                }
            })
            .collect();
        std::fs::write(root.join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(root.join("cpuset/cpuset.mems"), "0\n").unwrap();
        let systemd = root.join("systemd");
        std::fs::create_dir_all(&systemd).unwrap();
        mounts.push(V1Mount {
            mount_point: systemd,
            mount_root: "/".into(),
            controllers: vec![],
            name: Some("systemd".into()),
        });
        mounts
    }

    fn unified(mount_point: PathBuf, controllers: &[Controller]) -> UnifiedMount {
        std::fs::create_dir_all(&mount_point).unwrap();
        let names: Vec<&str> = controllers.iter().filter_map(|c| c.v2_name()).collect();
        std::fs::write(
            mount_point.join("cgroup.controllers"),
            names.join(" ") + "\n",
        )
        .unwrap();
        std::fs::write(mount_point.join("cgroup.subtree_control"), "\n").unwrap();
        UnifiedMount {
            mount_point,
            mount_root: "/".into(),
            controllers: controllers.to_vec(),
        }
    }

    /// v1 hierarchies (plus name=systemd).
    pub fn v1() -> (Self, Mounts) {
        let tree = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let mounts = Mounts {
            v1: Self::v1_mounts(tree.root()),
            unified: None,
        };
        (tree, mounts)
    }

    /// One unified hierarchy with the usual controllers.
    pub fn v2() -> (Self, Mounts) {
        let tree = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let all = [
            Controller::Cpu,
            Controller::Cpuset,
            Controller::Memory,
            Controller::Blkio,
            Controller::Pids,
            Controller::Hugetlb,
        ];
        let mounts = Mounts {
            v1: vec![],
            unified: Some(Self::unified(tree.root().to_path_buf(), &all)),
        };
        (tree, mounts)
    }

    /// v1 hierarchies plus a cgroup2 mount at `unified/` holding hugetlb.
    pub fn hybrid() -> (Self, Mounts) {
        let tree = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let v1 = Self::v1_mounts(tree.root());
        let unified = Self::unified(tree.root().join("unified"), &[Controller::Hugetlb]);
        (
            tree,
            Mounts {
                v1,
                unified: Some(unified),
            },
        )
    }
}

/// Reads a file of a cgroup, trimmed.
pub fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// A `sh` child that runs `script` once told to go; killed and reaped on drop.
pub struct Child {
    child: std::process::Child,
    waited: bool,
}

impl Child {
    pub fn spawn(script: &str) -> Self {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("read go; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning sh");
        Self {
            child,
            waited: false,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Lets the script run (it is blocked reading stdin until then).
    pub fn go(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").expect("telling the child to go");
        stdin.flush().unwrap();
    }

    /// Waits for the child to exit (at most `limit`): status, stdout, stderr.
    pub fn finish(mut self, limit: Duration) -> (std::process::ExitStatus, String, String) {
        use std::io::Read;
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.waited = true;
                let (mut out, mut err) = (String::new(), String::new());
                self.child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                return (status, out, err);
            }
            assert!(
                start.elapsed() < limit,
                "child {} still running after {limit:?}",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// User+system CPU ticks the child has used (from /proc/<pid>/stat).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = read(format!("/proc/{}/stat", self.pid()));
        let rest = stat.rsplit_once(')').unwrap().1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the name: state is field 0, utime field 11, stime field 12.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.waited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
