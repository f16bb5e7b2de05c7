//! brig-bench: brig-runtime, runc and crun side by side on one busybox
//! bundle. Not a test: it prints medians, p99, min-max and ratios.
//!
//! Run as root, e.g. `cargo run --release -p brig-bench -- --seccomp`.
//! Each runtime is measured in a worker process of its own; crun's worker
//! runs in a private mount namespace without /sys/fs/cgroup/unified, since
//! crun refuses hybrid cgroups.

mod machine;
mod network;
mod procs;
mod report;
mod seccomp;
mod stats;
mod worker;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use brig_testkit::{Bundle, TestDir};
use clap::Parser;

use report::Column;
use worker::{Job, Metric};

/// Benchmarks OCI runtimes through runc's command line.
#[derive(Debug, Parser)]
#[command(name = "brig-bench")]
struct Args {
    /// Samples per timed metric.
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// Detached containers in the batch metric.
    #[arg(long, default_value_t = 100)]
    containers: usize,
    /// Samples of peak RSS.
    #[arg(long, default_value_t = 5)]
    rss_samples: usize,
    /// Also measure `run` with a docker-default-sized seccomp profile.
    #[arg(long)]
    seccomp: bool,
    /// Runtimes to compare, comma-separated (brig, runc, crun).
    #[arg(long, default_value = "brig,runc,crun", value_delimiter = ',')]
    runtimes: Vec<String>,
    /// Longest time (ms) one runtime command may take before it is killed.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    /// brig-runtime binary (default: next to this binary, else the workspace's target dir).
    #[arg(long)]
    brig: Option<PathBuf>,
    /// Instead of the runtimes: `brig run --rm` with `--network none` against
    /// the default bridge (and Podman with netavark), this `brig` binary.
    #[arg(long, value_name = "BRIG")]
    engine_network: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    match argv.get(1).map(String::as_str) {
        Some("__worker") => return worker_main(argv.get(2).context("__worker needs a job")?),
        Some("__rss") => {
            let timeout_ms = argv
                .get(2)
                .and_then(|t| t.parse().ok())
                .context("__rss TIMEOUT_MS -- CMD")?;
            return procs::rss_probe(
                timeout_ms,
                argv.get(4..)
                    .filter(|a| !a.is_empty())
                    .context("__rss TIMEOUT_MS -- CMD")?,
            );
        }
        _ => {}
    }
    let args = Args::parse();
    if !rustix::process::geteuid().is_root() {
        bail!("brig-bench needs root (it creates containers)");
    }
    procs::become_subreaper()?;
    // Gives back the `/brig` cgroup parents the runtimes' containers made.
    let _parents = brig_testkit::shared_cgroup::SharedParents::note();
    println!("# brig-bench\n\ncommand: `{}`\n", argv.join(" "));
    for line in machine::describe() {
        println!("- {line}");
    }
    if let Some(brig) = &args.engine_network {
        let runtime = binary_of("brig", args.brig.as_deref())?;
        return network::run(brig, &runtime, args.iterations);
    }
    let work = TestDir::new("bench");
    let bundles = Bundles::new(args.seccomp);
    let mut columns = Vec::new();
    for name in &args.runtimes {
        let binary = binary_of(name, args.brig.as_deref())?;
        println!(
            "- {}: {} ({})",
            display_name(name),
            binary.display(),
            version(&binary)
        );
        let job = Job {
            binary: binary.clone(),
            bundle_true: bundles.true_.path().to_owned(),
            bundle_sleep: bundles.sleep.path().to_owned(),
            bundle_seccomp: bundles.seccomp.as_ref().map(|(b, _)| b.path().to_owned()),
            bundle_seccomp_check: bundles.seccomp.as_ref().map(|(_, c)| c.path().to_owned()),
            iterations: args.iterations,
            containers: args.containers,
            rss_samples: args.rss_samples,
            timeout_ms: args.timeout_ms,
            work: work.join(name),
        };
        columns.push(Column {
            name: display_name(name).into(),
            metrics: run_worker(name, &job),
        });
    }
    let batch_run = format!("{} x run -d (total)", args.containers);
    let batch_delete = format!("{} x delete -f (total)", args.containers);
    for column in &mut columns {
        if let Ok(metrics) = &mut column.metrics {
            for m in metrics.iter_mut() {
                m.name = m
                    .name
                    .replace("N x run -d (total)", &batch_run)
                    .replace("N x delete -f (total)", &batch_delete);
            }
        }
    }
    let mut names = vec![
        worker::RUN,
        worker::CREATE,
        worker::START,
        worker::DELETE,
        worker::EXEC,
    ];
    names.extend([batch_run.as_str(), batch_delete.as_str(), worker::RSS]);
    if args.seccomp {
        names.push(worker::RUN_SECCOMP);
    }
    report::print(&columns, &names);
    Ok(())
}

/// The bundles every runtime runs: /bin/true, a sleeper, and /bin/true with
/// seccomp (plus a check that the filter is really installed).
struct Bundles {
    true_: Bundle,
    sleep: Bundle,
    seccomp: Option<(Bundle, Bundle)>,
}

impl Bundles {
    fn new(with_seccomp: bool) -> Bundles {
        let bundle = |args: &[&str], seccomp: bool| {
            let mut b = Bundle::busybox();
            b.args(args);
            if seccomp {
                b.config_mut()["linux"]["seccomp"] = seccomp::docker_sized_profile();
            }
            b.write_config();
            b
        };
        let check = [
            "sh",
            "-c",
            "grep -q '^Seccomp:[[:space:]]*2' /proc/self/status",
        ];
        Bundles {
            true_: bundle(&["/bin/true"], false),
            sleep: bundle(&["sleep", "1000"], false),
            seccomp: with_seccomp.then(|| (bundle(&["/bin/true"], true), bundle(&check, true))),
        }
    }
}

fn display_name(name: &str) -> &str {
    if name == "brig" { "brig-runtime" } else { name }
}

fn binary_of(name: &str, brig: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    Ok(match name {
        "runc" => PathBuf::from("/usr/sbin/runc"),
        "crun" => PathBuf::from("/usr/bin/crun"),
        "brig" => brig.map(PathBuf::from).unwrap_or_else(find_brig),
        other => bail!("unknown runtime {other:?} in --runtimes (use brig, runc, crun)"),
    })
}

/// brig-runtime as shipped (static, `scripts/lib.sh build_runtime`), else
/// the one next to this binary (same profile), else a release, then a debug
/// build, in `$CARGO_TARGET_DIR` or the workspace's target directory.
fn find_brig() -> PathBuf {
    let workspace_target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    let targets: Vec<PathBuf> = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([workspace_target])
        .collect();
    let mut candidates: Vec<PathBuf> = targets
        .iter()
        .map(|t| t.join("x86_64-unknown-linux-gnu/runtime/brig-runtime"))
        .collect();
    candidates.extend(
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join("brig-runtime"))),
    );
    for target in &targets {
        candidates.push(target.join("release/brig-runtime"));
        candidates.push(target.join("debug/brig-runtime"));
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| candidates.swap_remove(0))
}

fn version(binary: &std::path::Path) -> String {
    match Command::new(binary).arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("?")
            .to_owned(),
        Ok(out) => format!(
            "--version failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("not runnable: {e}"),
    }
}

/// Runs the worker for one runtime and parses what it measured.
fn run_worker(name: &str, job: &Job) -> Result<Vec<Metric>, String> {
    if !job.binary.is_file() {
        return Err(format!("{} not found", job.binary.display()));
    }
    std::fs::create_dir_all(&job.work).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let job_json = serde_json::to_string(job).map_err(|e| e.to_string())?;
    let mut cmd = if name == "crun" {
        let mut c = Command::new("unshare");
        // Without the cgroup2 mount (crun refuses hybrid cgroups); a private
        // tmpfs in its place keeps crun's cgroup.procs writes off the host.
        c.args([
            "-m",
            "/bin/sh",
            "-c",
            "umount /sys/fs/cgroup/unified 2>/dev/null; mount -t tmpfs -o size=1m brig-crun /sys/fs/cgroup/unified; exec \"$0\" \"$@\"",
        ])
        .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.arg("__worker")
        .arg(job_json)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let out = cmd
        .output()
        .map_err(|e| format!("starting the worker: {e}"))?;
    if !out.status.success() {
        return Err(format!("worker failed: {}", out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("worker output: {e}"))
}

fn worker_main(job_json: &str) -> anyhow::Result<()> {
    let job: Job = serde_json::from_str(job_json).context("parsing the worker job")?;
    procs::become_subreaper()?;
    let metrics = worker::run_job(job);
    println!("{}", serde_json::to_string(&metrics)?);
    Ok(())
}
