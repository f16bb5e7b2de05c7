//! A private mount namespace for one test's clients.
//!
//! A holder process (`unshare --mount --propagation private`) keeps the
//! namespace alive; every client command enters it with `nsenter --mount`.
//! Inside, `/run` is a fresh tmpfs (the runtimes' default `--root`s,
//! containerd's shim sockets, Podman's network run directory) and `/etc` and
//! `/var/lib` are overlays whose writes go to the test's directory (Podman's
//! blob-info cache, the `/etc/subuid` ranges `--userns=auto` needs). Mounts
//! made in it never reach the host, and vanish with its last process.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brig_testkit::TestDir;
use brig_testkit::command::{CmdOutput, Invocation};

/// The ranges Podman's `--userns=auto` takes ids from (user "containers").
const SUBID_RANGES: &str = "containers:200000:1000000\n";

const SETUP: &str = r#"set -e
d=$1
mount -t tmpfs -o mode=0755 brig-test-run /run
for top in etc var/lib; do
    name=$(printf %s "$top" | tr / -)
    mkdir -p "$d/$name/upper" "$d/$name/work"
    mount -t overlay -o "lowerdir=/$top,upperdir=$d/$name/upper,workdir=$d/$name/work" "brig-test-$name" "/$top"
done
printf %s "$2" > /etc/subuid
printf %s "$2" > /etc/subgid
echo ready
exec sleep infinity
"#;

/// A mount namespace holding one test's clients; killing its processes and
/// its holder on drop releases every mount made in it.
#[derive(Debug)]
pub struct Sandbox {
    holder: Child,
    namespace: PathBuf,
    dir: TestDir,
}

impl Sandbox {
    /// Sets up the namespace; its scratch files live in `dir/sandbox`.
    pub fn new(dir: &TestDir) -> Sandbox {
        let root = dir.join("sandbox");
        for sub in ["cwd", "out"] {
            fs::create_dir_all(root.join(sub))
                .unwrap_or_else(|e| panic!("creating {}: {e}", root.join(sub).display()));
        }
        let stderr = root.join("holder.stderr");
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .args([SETUP, "sandbox"])
            .arg(&root)
            .arg(SUBID_RANGES)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr).expect("creating the holder's stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("running unshare (util-linux): {e}"));
        let mut line = String::new();
        let ready = holder
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        if !matches!(ready, Some(Ok(_))) || line.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!(
                "setting up the sandbox mount namespace failed: {}",
                fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        let namespace = fs::read_link(format!("/proc/{}/ns/mnt", holder.id()))
            .expect("reading the sandbox holder's mount namespace");
        Sandbox {
            holder,
            namespace,
            dir: dir.clone(),
        }
    }

    /// The working directory of every command (conmon writes its `oom`
    /// marker there).
    pub fn cwd(&self) -> PathBuf {
        self.dir.join("sandbox/cwd")
    }

    fn prefix(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = ["nsenter", "--target"].map(OsString::from).to_vec();
        argv.push(self.holder.id().to_string().into());
        argv.push("--mount".into());
        let mut wd = OsString::from("--wd=");
        wd.push(self.cwd());
        argv.push(wd);
        argv.push("--".into());
        argv
    }

    /// `argv` run inside the namespace, not yet run (add env, stdin, timeout).
    pub fn invocation<I, S>(&self, argv: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Invocation::new(self.prefix()).args(argv)
    }

    /// Runs an invocation made by [`Sandbox::invocation`].
    pub fn run(&self, invocation: &Invocation) -> CmdOutput {
        invocation.run(&self.dir.join("sandbox/out"))
    }

    /// A long-running program (a daemon) inside the namespace.
    pub fn command<I, S>(&self, argv: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut all = self.prefix();
        all.extend(argv.into_iter().map(Into::into));
        let mut cmd = Command::new(&all[0]);
        cmd.args(&all[1..]);
        cmd
    }

    /// Live processes in the namespace other than the holder.
    pub fn members(&self) -> Vec<i32> {
        let holder = self.holder.id() as i32;
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| pid != holder)
            .filter(|pid| {
                fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|ns| ns == self.namespace)
            })
            .collect()
    }

    /// SIGKILLs every process in the namespace (all were started by this
    /// test through it) until none is left or `timeout` passed.
    pub fn kill_members(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let members = self.members();
            if members.is_empty() || Instant::now() >= deadline {
                return;
            }
            for pid in members {
                kill(pid);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The test directory this sandbox keeps its files in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// SIGKILLs `pid`, ignoring a process that is already gone.
pub(crate) fn kill(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill_members(Duration::from_secs(10));
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
