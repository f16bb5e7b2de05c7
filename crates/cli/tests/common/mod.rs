//! Helpers for the `brig` command tests: a temporary store (--root and
//! --runroot) the built binary runs against, images made by real tools
//! (umoci, skopeo, GNU tar), and checks that a failed command left nothing.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The engine-error exit status (Docker's 125).
pub const ENGINE_ERROR: i32 = 125;

/// A fresh store for one test, removed on drop.
pub struct Brig {
    pub dir: tempfile::TempDir,
}

/// What one `brig` run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Brig {
    pub fn new() -> Self {
        Brig {
            dir: tempfile::Builder::new()
                .prefix("brig-cli-test")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn runroot(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A scratch path inside the test's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A `brig` command with this store's --root and --runroot (given after
    /// the command's own arguments, as users may).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brig"));
        cmd.args(args)
            .arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.runroot())
            // Keep the tests away from the user's credentials.
            .env("REGISTRY_AUTH_FILE", self.path("auth.json"))
            .env("DOCKER_CONFIG", self.path("docker-config"))
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        to_run(self.command(args).output().unwrap())
    }

    /// Runs with `input` on stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        run_command(self.command(args), Some(input))
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "brig {args:?} failed: {}", r.stderr);
        r.stdout
    }

    /// Runs and asserts exit 125 with a message containing every `needle`.
    pub fn fails(&self, args: &[&str], needles: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, ENGINE_ERROR,
            "brig {args:?}: expected exit 125, got {}: {}{}",
            r.code, r.stdout, r.stderr
        );
        for n in needles {
            assert!(
                r.stderr.contains(n),
                "brig {args:?}: message lacks {n:?}: {}",
                r.stderr
            );
        }
        r
    }

    /// IDs `brig images -q --no-trunc` lists.
    pub fn image_ids(&self) -> Vec<String> {
        self.ok(&["images", "-q", "--no-trunc"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Unpacked layer directories.
    pub fn layer_dirs(&self) -> Vec<PathBuf> {
        entries(&self.root().join("layers"))
            .into_iter()
            .filter(|p| !name_of(p).starts_with('.'))
            .collect()
    }

    /// Stored blobs.
    pub fn blobs(&self) -> Vec<PathBuf> {
        entries(&self.root().join("blobs/sha256"))
    }

    /// Asserts the store holds nothing: no image, blob, layer or leftover
    /// temporary file (or that it was never created).
    pub fn assert_empty(&self, after: &str) {
        if !self.root().exists() {
            return;
        }
        assert!(self.image_ids().is_empty(), "{after}: an image was kept");
        assert!(
            self.blobs().is_empty(),
            "{after}: blobs left: {:?}",
            self.blobs()
        );
        assert!(
            self.layer_dirs().is_empty(),
            "{after}: layers left: {:?}",
            self.layer_dirs()
        );
        let temp = entries(&self.root().join("layers/.tmp"));
        assert!(temp.is_empty(), "{after}: unpack leftovers: {temp:?}");
        let ingest: Vec<_> = entries(&self.root().join("ingest"))
            .into_iter()
            .filter(|p| name_of(p).starts_with("tmp-"))
            .collect();
        assert!(ingest.is_empty(), "{after}: ingest leftovers: {ingest:?}");
    }
}

/// Runs a command (from [`Brig::command`]) with `input`, if any, on stdin.
pub fn run_command(mut cmd: Command, input: Option<&[u8]>) -> Run {
    let Some(input) = input else {
        return to_run(cmd.output().unwrap());
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    to_run(out)
}

fn to_run(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn entries(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[allow(unused_imports)]
pub use brig_testkit::tools::{have_tool, run_tool as tool};

/// `login -u USER --password-stdin --cert-dir CERTS ADDR` (the password
/// then goes to stdin).
pub fn login_args<'a>(user: &'a str, certs: &'a str, addr: &'a str) -> [&'a str; 7] {
    [
        "login",
        "-u",
        user,
        "--password-stdin",
        "--cert-dir",
        certs,
        addr,
    ]
}

/// A small root filesystem: a file, a nested file, a symlink.
pub fn make_rootfs(dir: &Path, greeting: &str) {
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::write(dir.join("hello.txt"), greeting).unwrap();
    std::fs::write(dir.join("etc/os-release"), "ID=brigtest\n").unwrap();
    std::os::unix::fs::symlink("hello.txt", dir.join("greeting")).unwrap();
}

/// An OCI layout made by umoci at `layout` with image `tag`: one layer per
/// greeting (each adds `layerN.txt`; the first also the base rootfs), Cmd
/// `/bin/hello`, Env FOO=bar.
pub fn umoci_image(work: &Path, layout: &Path, tag: &str, greetings: &[&str]) {
    let l = layout.to_str().unwrap();
    let image = format!("{l}:{tag}");
    if !layout.exists() {
        tool("umoci", &["init", "--layout", l]);
    }
    tool("umoci", &["new", "--image", &image]);
    for (i, greeting) in greetings.iter().enumerate() {
        let rootfs = work.join(format!("rootfs-{tag}-{i}"));
        if i == 0 {
            make_rootfs(&rootfs, greeting);
        } else {
            std::fs::create_dir_all(&rootfs).unwrap();
        }
        std::fs::write(rootfs.join(format!("layer{i}.txt")), greeting).unwrap();
        let tar = work.join(format!("layer-{tag}-{i}.tar"));
        tool(
            "tar",
            &[
                "-C",
                rootfs.to_str().unwrap(),
                "-cf",
                tar.to_str().unwrap(),
                ".",
            ],
        );
        tool(
            "umoci",
            &["raw", "add-layer", "--image", &image, tar.to_str().unwrap()],
        );
    }
    tool(
        "umoci",
        &[
            "config",
            "--image",
            &image,
            "--config.cmd",
            "/bin/hello",
            "--config.env",
            "FOO=bar",
            "--history.created_by",
            "brig test config",
        ],
    );
}

/// The umoci/skopeo tools every image test needs.
pub fn have_image_tools(test: &str) -> bool {
    have_tool("umoci", test) && have_tool("skopeo", test)
}
