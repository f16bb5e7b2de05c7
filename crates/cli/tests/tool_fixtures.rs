//! Images made by real tools, loaded by `brig` and run (root only):
//! buildah (`from scratch`, `copy`, `config`, `commit`, then `push oci:` and
//! `docker-archive:`), and `podman save` in each of its formats; and the
//! other way round, `brig save` read back by skopeo and `podman load`.
//! buildah and Podman keep their storage (vfs) and configuration in the
//! test's directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Brig, have_tool, make_rootfs, run_command};
use serde_json::Value;

const CMD: &[&str] = &["/bin/cat", "/hello.txt"];
const GREETING: &str = "made by buildah\n";

/// A containers/image tool (buildah, podman) with private storage and a
/// containers.conf giving the ulimits this machine allows.
struct Tool {
    program: &'static str,
    dir: PathBuf,
}

impl Tool {
    fn new(program: &'static str, dir: PathBuf) -> Tool {
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\n[engine]\nevents_logger = \"file\"\nevents_logfile_path = \"{}/events.log\"\ncgroup_manager = \"cgroupfs\"\n",
                dir.display()
            ),
        )
        .unwrap();
        Tool { program, dir }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(self.program)
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("TMPDIR", self.dir.join("tmp"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            self.program,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        // vfs mounts nothing; removing the store is all. buildah and
        // Podman make some files immutable-free but root-owned: fine as root.
        let _ = Command::new(self.program)
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(["--storage-driver", "vfs", "rmi", "-af"])
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .output();
    }
}

/// A busybox root filesystem with `/hello.txt`.
fn busybox_rootfs(dir: &Path) {
    make_rootfs(dir, GREETING);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "echo", "ls"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
}

/// buildah builds `localhost/fixture:1` and pushes it as an OCI layout
/// (`<dir>/oci`) and a docker-archive (`<dir>/docker.tar`).
fn buildah_fixture(work: &Path) -> (Tool, PathBuf, PathBuf) {
    let rootfs = work.join("rootfs");
    busybox_rootfs(&rootfs);
    let buildah = Tool::new("buildah", work.join("buildah"));
    let ctr = buildah.run(&["from", "--name", "fixture", "scratch"]);
    let ctr = ctr.trim();
    buildah.run(&["copy", ctr, rootfs.to_str().unwrap(), "/"]);
    buildah.run(&[
        "config",
        "--cmd",
        &serde_json::to_string(CMD).unwrap(),
        "--env",
        "FOO=bar",
        ctr,
    ]);
    buildah.run(&["commit", "-q", ctr, "localhost/fixture:1"]);
    buildah.run(&["rm", ctr]);
    let oci = work.join("oci");
    let archive = work.join("docker.tar");
    buildah.run(&[
        "push",
        "-q",
        "localhost/fixture:1",
        &format!("oci:{}:1", oci.display()),
    ]);
    buildah.run(&[
        "push",
        "-q",
        "localhost/fixture:1",
        &format!("docker-archive:{}:localhost/fixture:1", archive.display()),
    ]);
    (buildah, oci, archive)
}

/// The runtime: brig-runtime built beside `brig`, else runc.
fn runtime() -> String {
    let beside = Path::new(env!("CARGO_BIN_EXE_brig")).with_file_name("brig-runtime");
    match std::env::var("BRIG_TEST_RUNTIME") {
        Ok(r) => r,
        Err(_) if beside.exists() => beside.display().to_string(),
        Err(_) => "runc".to_owned(),
    }
}

/// Loads `source` into a fresh store, checks the config brig reads, runs
/// the image and checks what it printed.
fn load_inspect_run(source: &Path, what: &str) {
    let brig = Brig::new();
    let loaded = brig.ok(&["load", "-q", "-i", source.to_str().unwrap()]);
    let ids = brig.image_ids();
    assert_eq!(ids.len(), 1, "{what}: one image loaded: {loaded}");
    let doc: Value = serde_json::from_str(&brig.ok(&["image", "inspect", &ids[0]])).unwrap();
    assert_eq!(doc[0]["Config"]["Cmd"], serde_json::json!(CMD), "{what}");
    let env = doc[0]["Config"]["Env"].to_string();
    assert!(env.contains("FOO=bar"), "{what}: {env}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brig"));
    cmd.arg("--root")
        .arg(brig.root())
        .arg("--runroot")
        .arg(brig.runroot())
        .arg("--runtime")
        .arg(runtime())
        .args(["run", "--rm", "--network", "host", &ids[0]]);
    let r = run_command(cmd, None);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, GREETING),
        "{what}: {}",
        r.stderr
    );
}

fn have_tools(test: &str, tools: &[&str]) -> bool {
    if !brig_testkit::is_root() {
        eprintln!("SKIPPED (needs root): {test}");
        return false;
    }
    tools.iter().all(|t| have_tool(t, test))
}

#[test]
fn buildah_images_load_and_run() {
    if !have_tools("buildah_images_load_and_run", &["buildah"]) {
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("brig-buildah")
        .tempdir()
        .unwrap();
    let (_buildah, oci, archive) = buildah_fixture(work.path());
    load_inspect_run(&oci, "buildah push oci:");
    load_inspect_run(&archive, "buildah push docker-archive:");
}

#[test]
fn podman_save_formats_load_and_run() {
    if !have_tools("podman_save_formats_load_and_run", &["buildah", "podman"]) {
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("brig-podman")
        .tempdir()
        .unwrap();
    let (_buildah, _, archive) = buildah_fixture(work.path());
    let podman = Tool::new("podman", work.path().join("podman"));
    podman.run(&["load", "-q", "-i", archive.to_str().unwrap()]);
    for format in ["docker-archive", "oci-archive", "oci-dir"] {
        let out = work.path().join(format!("saved-{format}"));
        podman.run(&[
            "save",
            "-q",
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
            "localhost/fixture:1",
        ]);
        load_inspect_run(&out, &format!("podman save --format {format}"));
    }
}

#[test]
fn brig_save_is_read_by_skopeo_and_podman() {
    if !have_tools(
        "brig_save_is_read_by_skopeo_and_podman",
        &["buildah", "podman", "skopeo"],
    ) {
        return;
    }
    // Podman names an image pulled from an OCI directory after its path,
    // which must then be lowercase (and its runroot is at most 50 bytes).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let work = tempfile::Builder::new()
        .prefix(&format!("brig-rt-{nanos:x}"))
        .rand_bytes(0)
        .tempdir()
        .unwrap();
    let (_buildah, oci, _) = buildah_fixture(work.path());
    let brig = Brig::new();
    brig.ok(&["load", "-q", "-i", oci.to_str().unwrap()]);
    let id = brig.image_ids().remove(0);
    brig.ok(&["tag", &id, "localhost/roundtrip:2"]);
    let podman = Tool::new("podman", work.path().join("podman"));
    for (format, transport) in [
        ("docker-archive", "docker-archive"),
        ("oci-archive", "oci-archive"),
        ("oci-dir", "oci"),
    ] {
        let out = work.path().join(format!("brig-{format}"));
        let path = out.to_str().unwrap();
        brig.ok(&[
            "save",
            "--format",
            format,
            "-o",
            path,
            "localhost/roundtrip:2",
        ]);
        let config: Value = serde_json::from_str(&common::tool(
            "skopeo",
            &["inspect", "--config", &format!("{transport}:{path}")],
        ))
        .unwrap();
        assert_eq!(config["config"]["Cmd"], serde_json::json!(CMD), "{format}");
        // Podman 4 loads archives; an OCI directory it pulls (oci: transport).
        let image = if format == "oci-dir" {
            podman
                .run(&["pull", "-q", &format!("oci:{path}")])
                .trim()
                .to_owned()
        } else {
            let loaded = podman.run(&["load", "-i", path]);
            assert!(
                loaded.contains("localhost/roundtrip:2"),
                "{format}: {loaded}"
            );
            "localhost/roundtrip:2".to_owned()
        };
        let inspect: Value =
            serde_json::from_str(&podman.run(&["image", "inspect", &image])).unwrap();
        assert_eq!(
            inspect[0]["Config"]["Cmd"],
            serde_json::json!(CMD),
            "{format}"
        );
        assert_eq!(
            inspect[0]["Id"].as_str().map(|id| format!("sha256:{id}")),
            Some(id.clone()),
            "{format}: Podman sees the same image ID (config digest)"
        );
        podman.run(&["rmi", "-f", &image]);
    }
}
