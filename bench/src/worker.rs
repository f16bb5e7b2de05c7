//! The measurements for one runtime, run in a process of their own (inside a
//! private mount namespace for crun) so each runtime gets its environment.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Pid;
use serde::{Deserialize, Serialize};

use crate::procs::{reap_zombies, timed};

/// What a worker measures, handed over as JSON on its command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub binary: PathBuf,
    /// Bundle whose process is /bin/true.
    pub bundle_true: PathBuf,
    /// Bundle whose process sleeps until killed.
    pub bundle_sleep: PathBuf,
    /// /bin/true with the docker-sized seccomp profile, when asked for.
    pub bundle_seccomp: Option<PathBuf>,
    /// Same profile; its process exits 0 only when a seccomp filter is active.
    pub bundle_seccomp_check: Option<PathBuf>,
    pub iterations: usize,
    pub containers: usize,
    pub rss_samples: usize,
    /// Longest time one runtime command may take.
    pub timeout_ms: u64,
    /// A scratch directory for the state root, pid files and logs.
    pub work: PathBuf,
}

/// One measured quantity: samples (ms or KiB), or why it could not be measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub unit: String,
    pub samples: Vec<f64>,
    pub error: Option<String>,
}

impl Metric {
    fn new(name: &str, unit: &str, result: Result<Vec<f64>, String>) -> Metric {
        let (samples, error) = match result {
            Ok(samples) => (samples, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        Metric {
            name: name.into(),
            unit: unit.into(),
            samples,
            error,
        }
    }
}

/// Metric names, in report order.
pub const RUN: &str = "run /bin/true";
pub const CREATE: &str = "create";
pub const START: &str = "start";
pub const DELETE: &str = "delete";
pub const EXEC: &str = "exec /bin/true";
pub const BATCH_RUN: &str = "N x run -d (total)";
pub const BATCH_DELETE: &str = "N x delete -f (total)";
pub const RSS: &str = "peak RSS of run";
pub const RUN_SECCOMP: &str = "run /bin/true + seccomp";

struct Worker {
    job: Job,
    seq: u32,
    log: PathBuf,
}

/// Runs every measurement of `job`; failures become metric errors.
pub fn run_job(job: Job) -> Vec<Metric> {
    let log = job.work.join("stderr.log");
    let mut w = Worker { job, seq: 0, log };
    let bundle_true = w.job.bundle_true.clone();
    // Warm the page cache and the runtime's own caches.
    let _ = w.sample_run(&bundle_true, 3);
    let mut metrics = vec![Metric::new(
        RUN,
        "ms",
        w.sample_run(&bundle_true, w.job.iterations),
    )];
    metrics.extend(w.lifecycle());
    metrics.push(Metric::new(EXEC, "ms", w.exec()));
    metrics.extend(w.batch());
    metrics.push(Metric::new(RSS, "KiB", w.rss()));
    let seccomp = (
        w.job.bundle_seccomp.clone(),
        w.job.bundle_seccomp_check.clone(),
    );
    if let (Some(bundle), Some(check)) = seccomp {
        let applied = w
            .sample_run(&check, 1)
            .map_err(|e| format!("linux.seccomp not applied ({e})"));
        let samples = applied.and_then(|_| w.sample_run(&bundle, w.job.iterations));
        metrics.push(Metric::new(RUN_SECCOMP, "ms", samples));
    }
    w.cleanup();
    metrics
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Worker {
    fn id(&mut self) -> String {
        self.seq += 1;
        format!("brigbench-{}-{}", std::process::id(), self.seq)
    }

    fn argv(&self, args: &[&str]) -> Vec<String> {
        let root = self.job.work.join("state");
        let mut argv = vec![
            self.job.binary.display().to_string(),
            "--root".into(),
            root.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }

    fn time(&self, args: &[&str]) -> Result<Duration, String> {
        let result = timed(
            &self.argv(args),
            &self.log,
            Duration::from_millis(self.job.timeout_ms),
        );
        reap_zombies();
        result
    }

    fn sample_run(&mut self, bundle: &Path, n: usize) -> Result<Vec<f64>, String> {
        let bundle = bundle.display().to_string();
        (0..n)
            .map(|_| {
                let id = self.id();
                self.time(&["run", "--bundle", &bundle, &id]).map(ms)
            })
            .collect()
    }

    /// create, start and delete of a /bin/true container, timed separately.
    fn lifecycle(&mut self) -> Vec<Metric> {
        let (mut create, mut start, mut delete) = (Vec::new(), Vec::new(), Vec::new());
        let mut error = None;
        for _ in 0..self.job.iterations {
            match self.one_lifecycle() {
                Ok((c, s, d)) => {
                    create.push(c);
                    start.push(s);
                    delete.push(d);
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let wrap = |samples: Vec<f64>| error.clone().map_or(Ok(samples), Err);
        vec![
            Metric::new(CREATE, "ms", wrap(create)),
            Metric::new(START, "ms", wrap(start)),
            Metric::new(DELETE, "ms", wrap(delete)),
        ]
    }

    fn one_lifecycle(&mut self) -> Result<(f64, f64, f64), String> {
        let id = self.id();
        let bundle = self.job.bundle_true.display().to_string();
        let pid_file = self.job.work.join(format!("{id}.pid"));
        let pid_arg = pid_file.display().to_string();
        let create = self.time(&["create", "--bundle", &bundle, "--pid-file", &pid_arg, &id])?;
        let pid =
            std::fs::read_to_string(&pid_file).map_err(|e| format!("pid file {pid_arg}: {e}"))?;
        let start = self.time(&["start", &id])?;
        let pid = pid
            .trim()
            .parse()
            .map_err(|_| format!("bad pid file {pid_arg}"))?;
        wait_for_exit(pid, Duration::from_millis(self.job.timeout_ms))?;
        let delete = self.time(&["delete", &id])?;
        Ok((ms(create), ms(start), ms(delete)))
    }

    fn exec(&mut self) -> Result<Vec<f64>, String> {
        let id = self.id();
        let bundle = self.job.bundle_sleep.display().to_string();
        self.time(&["create", "--bundle", &bundle, &id])?;
        self.time(&["start", &id])?;
        let samples: Result<Vec<f64>, String> = (0..self.job.iterations)
            .map(|_| self.time(&["exec", &id, "/bin/true"]).map(ms))
            .collect();
        let _ = self.time(&["delete", "--force", &id]);
        samples
    }

    /// N detached containers started one after the other, then deleted.
    fn batch(&mut self) -> Vec<Metric> {
        let bundle = self.job.bundle_sleep.display().to_string();
        let ids: Vec<String> = (0..self.job.containers).map(|_| self.id()).collect();
        let started = Instant::now();
        let runs: Result<(), String> = ids.iter().try_for_each(|id| {
            self.time(&["run", "-d", "--bundle", &bundle, id])
                .map(|_| ())
        });
        let run_total = runs.map(|()| vec![ms(started.elapsed())]);
        let started = Instant::now();
        let deletes: Result<(), String> = ids
            .iter()
            .try_for_each(|id| self.time(&["delete", "--force", id]).map(|_| ()));
        let delete_total = deletes.map(|()| vec![ms(started.elapsed())]);
        vec![
            Metric::new(BATCH_RUN, "ms", run_total),
            Metric::new(BATCH_DELETE, "ms", delete_total),
        ]
    }

    /// Peak RSS of `run` of /bin/true, measured by a probe process.
    fn rss(&mut self) -> Result<Vec<f64>, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let bundle = self.job.bundle_true.display().to_string();
        (0..self.job.rss_samples)
            .map(|_| {
                let id = self.id();
                let out = std::process::Command::new(&exe)
                    .arg("__rss")
                    .arg(self.job.timeout_ms.to_string())
                    .arg("--")
                    .args(self.argv(&["run", "--bundle", &bundle, &id]))
                    .output()
                    .map_err(|e| e.to_string())?;
                reap_zombies();
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| {
                        format!(
                            "rss probe failed: {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        )
                    })
            })
            .collect()
    }

    /// Force-deletes whatever a failed measurement left in the state root.
    fn cleanup(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.job.work.join("state")) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let id = entry.file_name().to_string_lossy().into_owned();
            let _ = self.time(&["delete", "--force", &id]);
        }
    }
}

/// Waits until the container process `pid` is gone: reaps it when it was
/// reparented to us, else polls /proc.
fn wait_for_exit(pid: i32, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    if let Some(pid) = Pid::from_raw(pid)
        && crate::procs::reap_until(pid, deadline).is_ok()
    {
        return Ok(());
    }
    while Path::new(&format!("/proc/{pid}")).exists() {
        if Instant::now() >= deadline {
            return Err(format!("container process {pid} still running after start"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}
