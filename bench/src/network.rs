//! `--engine-network`: what bridge networking adds to a container's life.
//! `brig run --rm IMAGE true` with `--network none` against the default
//! bridge (samples alternate, so load hits both alike), and the same for
//! Podman with netavark when it is installed. Each engine gets its own
//! temporary --root/--runroot and a one-layer busybox image.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use brig_testkit::TestDir;

use crate::stats::summarize;

const IMAGE: &str = "busybox:bench";

/// One engine's command line up to the subcommand.
struct Engine {
    name: &'static str,
    base: Vec<String>,
    /// `CONTAINERS_CONF` for Podman.
    conf: Option<PathBuf>,
}

impl Engine {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.base[0]);
        if let Some(conf) = &self.conf {
            cmd.env("CONTAINERS_CONF", conf);
        }
        cmd.args(&self.base[1..])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }

    fn must(&self, args: &[&str]) -> anyhow::Result<()> {
        let out = self
            .command(args)
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("running {} {args:?}", self.name))?;
        if !out.status.success() {
            bail!(
                "{} {args:?}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Wall time of one command in milliseconds.
    fn time(&self, args: &[&str]) -> anyhow::Result<f64> {
        let start = Instant::now();
        self.must(args)?;
        Ok(start.elapsed().as_secs_f64() * 1000.0)
    }
}

/// Runs the comparison and prints a Markdown table.
pub fn run(brig: &Path, runtime: &Path, iterations: usize) -> anyhow::Result<()> {
    let work = TestDir::new("bench-net");
    // Dropped before `work`, also on error.
    let _podman_storage = PodmanStorage(work.join("podman-root"));
    let tar = busybox_tar(&work)?;
    let mut engines = vec![Engine {
        name: "brig",
        base: vec![
            brig.display().to_string(),
            "--root".into(),
            work.join("brig-root").display().to_string(),
            "--runroot".into(),
            work.join("brig-run").display().to_string(),
            "--runtime".into(),
            runtime.display().to_string(),
        ],
        conf: None,
    }];
    match podman_backend() {
        Some(backend) if backend == "netavark" => {
            let conf = Some(podman_conf(&work)?);
            engines.push(Engine {
                conf,
                name: "podman",
                base: vec![
                    "podman".into(),
                    "--root".into(),
                    work.join("podman-root").display().to_string(),
                    "--runroot".into(),
                    work.join("podman-run").display().to_string(),
                    // crun refuses this machine's hybrid cgroups.
                    "--runtime".into(),
                    "runc".into(),
                ],
            });
        }
        Some(other) => println!("- podman uses {other}, not netavark: not measured"),
        None => println!("- podman is not installed: not measured"),
    }
    println!(
        "\n| engine | `--network none` (ms) | default bridge (ms) | added (ms) | user network (ms) | added (ms) |"
    );
    println!("|---|---|---|---|---|---|");
    // iptables-nft tables netavark will create (and never remove).
    let netavark_made: Vec<&str> = ["nat", "filter"]
        .into_iter()
        .filter(|t| engines.len() > 1 && !nft_table_exists(t))
        .collect();
    for engine in &engines {
        let tar = tar.display().to_string();
        engine.must(&["import", &tar, IMAGE])?;
        // Bridges live until `network rm`, the default one too (Podman's
        // user networks would be written to /etc/containers/networks:
        // brig only).
        let user = engine.name == "brig";
        if user {
            engine.must(&["network", "create", "benchnet"])?;
        }
        let modes: &[&[&str]] = if user {
            &[&["--network", "none"], &[], &["--network", "benchnet"]]
        } else {
            &[&["--network", "none"], &[]]
        };
        let mut samples = vec![Vec::new(); modes.len()];
        for round in 0..=iterations {
            for (mode, out) in modes.iter().zip(samples.iter_mut()) {
                let mut args = vec!["run", "--rm"];
                args.extend(mode.iter());
                args.extend([IMAGE, "true"]);
                let ms = engine.time(&args)?;
                // Round 0 warms up (image, first network use).
                if round > 0 {
                    out.push(ms);
                }
            }
        }
        if user {
            // The default network stays after its last container (as docker0).
            engine.must(&["network", "rm", "benchnet", "brig"])?;
        }
        let medians: Vec<f64> = samples
            .iter()
            .map(|s| summarize(s).map_or(f64::NAN, |s| s.median))
            .collect();
        let cell = |i: usize| match medians.get(i) {
            Some(m) => format!("{m:.1} | {:+.1}", m - medians[0]),
            None => "- | -".to_owned(),
        };
        println!(
            "| {} | {:.1} | {} | {} |",
            engine.name,
            medians[0],
            cell(1),
            cell(2)
        );
    }
    println!("\nmedians of {iterations} alternating samples each");
    for table in netavark_made {
        // netavark leaves its base chains behind; the tables were not here before.
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", table])
            .status();
    }
    Ok(())
}

/// Podman leaves `<root>/overlay` bind-mounted on itself after its last
/// container: unmounted at the end so the work directory can be removed.
struct PodmanStorage(PathBuf);

impl Drop for PodmanStorage {
    fn drop(&mut self) {
        let overlay = self.0.join("overlay");
        let _ = rustix::mount::unmount(&overlay, rustix::mount::UnmountFlags::DETACH);
    }
}

/// The ulimits this machine allows, cgroupfs and file events (as
/// `scripts/bench-engine` sets them), through `CONTAINERS_CONF`.
fn podman_conf(work: &TestDir) -> anyhow::Result<PathBuf> {
    let path = work.join("containers.conf");
    std::fs::write(
        &path,
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )?;
    Ok(path)
}

fn nft_table_exists(name: &str) -> bool {
    Command::new("nft")
        .args(["list", "table", "ip", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn podman_backend() -> Option<String> {
    let out = Command::new("podman")
        .args(["info", "--format", "{{.Host.NetworkBackend}}"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The tests' busybox tree as a tar both engines can import.
fn busybox_tar(work: &TestDir) -> anyhow::Result<PathBuf> {
    let tar = work.join("busybox.tar");
    std::fs::write(&tar, brig_testkit::rootfs::busybox_tar(&[]))
        .with_context(|| format!("writing {}", tar.display()))?;
    Ok(tar)
}
