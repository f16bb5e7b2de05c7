//! An OCI bundle on disk: a busybox rootfs and an editable config.json.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::rootfs::install_busybox_rootfs;
use crate::spec::runc_spec;

/// A temporary directory under `/tmp` (prefix `brigtest-`) that is removed
/// when its last clone is dropped. [`crate::Runtime`] keeps a clone of every
/// bundle it ran, so directories outlive the containers that use them.
#[derive(Debug, Clone)]
pub struct TestDir(Arc<tempfile::TempDir>);

impl TestDir {
    /// Creates `/tmp/brigtest-<tag>-XXXXXX`.
    pub fn new(tag: &str) -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("brigtest-{tag}-"))
            .tempdir()
            .unwrap_or_else(|e| {
                panic!(
                    "creating a temporary directory in {}: {e}",
                    std::env::temp_dir().display()
                )
            });
        TestDir(Arc::new(dir))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// `path()/rel`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.0.path().join(rel)
    }
}

/// The OCI hook points, by their config.json name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    /// Every hook point, in the order the spec runs them.
    pub const ALL: [HookKind; 6] = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
        HookKind::Poststart,
        HookKind::Poststop,
    ];

    /// The key under `hooks` in config.json.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    /// createContainer and startContainer hooks run in the container's mount
    /// namespace: their path and files are resolved inside the rootfs.
    pub fn runs_in_container(self) -> bool {
        matches!(self, HookKind::CreateContainer | HookKind::StartContainer)
    }
}

#[derive(Debug, Clone)]
enum ConfigOverride {
    Raw(String),
    Missing,
}

/// A bundle directory (`config.json` + `rootfs/`) with a busybox rootfs.
///
/// The config starts as `runc spec` writes it, with `terminal: false` and
/// `args: ["true"]`; the setters change it and [`Bundle::write_config`]
/// (called by every [`crate::Runtime`] command that takes a bundle) writes it.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: TestDir,
    config: Value,
    config_override: Option<ConfigOverride>,
}

impl Bundle {
    /// A new bundle in its own temporary directory.
    pub fn busybox() -> Bundle {
        let dir = TestDir::new("bundle");
        install_busybox_rootfs(&dir.join("rootfs"));
        let mut config = runc_spec();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["true"]);
        Bundle {
            dir,
            config,
            config_override: None,
        }
    }

    /// The bundle directory (what `--bundle` gets).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The bundle directory as a shareable handle.
    pub fn dir(&self) -> TestDir {
        self.dir.clone()
    }

    /// `<bundle>/rootfs`.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// `<bundle>/config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The config as it will be written.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Direct access for changes no setter covers.
    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }

    /// Writes config.json (or the raw text / no file, when set).
    pub fn write_config(&self) {
        let path = self.config_path();
        let result = match &self.config_override {
            None => write_atomically(
                &path,
                &serde_json::to_vec_pretty(&self.config).unwrap_or_default(),
            ),
            Some(ConfigOverride::Raw(text)) => write_atomically(&path, text.as_bytes()),
            Some(ConfigOverride::Missing) => match fs::remove_file(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        result.unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Writes `text` as config.json verbatim (for malformed-config tests).
    pub fn raw_config(&mut self, text: &str) -> &mut Self {
        self.config_override = Some(ConfigOverride::Raw(text.to_owned()));
        self
    }

    /// Leaves the bundle without config.json.
    pub fn missing_config(&mut self) -> &mut Self {
        self.config_override = Some(ConfigOverride::Missing);
        self
    }

    /// `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// `process.args = ["sh", "-c", script]`.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    /// Replaces `process.env`.
    pub fn env(&mut self, env: &[&str]) -> &mut Self {
        self.config["process"]["env"] = json!(env);
        self
    }

    /// Appends `KEY=VALUE` to `process.env`.
    pub fn add_env(&mut self, kv: &str) -> &mut Self {
        push(&mut self.config["process"]["env"], json!(kv));
        self
    }

    /// `process.cwd`.
    pub fn cwd(&mut self, cwd: &str) -> &mut Self {
        self.config["process"]["cwd"] = json!(cwd);
        self
    }

    /// `process.terminal`.
    pub fn terminal(&mut self, on: bool) -> &mut Self {
        self.config["process"]["terminal"] = json!(on);
        self
    }

    /// `hostname` (None removes it).
    pub fn hostname(&mut self, name: Option<&str>) -> &mut Self {
        set_or_remove(&mut self.config, "hostname", name.map(|n| json!(n)));
        self
    }

    /// `process.user` uid, gid and additionalGids.
    pub fn user(&mut self, uid: u32, gid: u32, additional_gids: &[u32]) -> &mut Self {
        let mut user = json!({"uid": uid, "gid": gid});
        if !additional_gids.is_empty() {
            user["additionalGids"] = json!(additional_gids);
        }
        self.config["process"]["user"] = user;
        self
    }

    /// `process.user.umask`.
    pub fn umask(&mut self, umask: u32) -> &mut Self {
        self.config["process"]["user"]["umask"] = json!(umask);
        self
    }

    /// Appends a mount.
    pub fn mount(
        &mut self,
        destination: &str,
        kind: &str,
        source: &str,
        options: &[&str],
    ) -> &mut Self {
        let mut mount = json!({"destination": destination, "type": kind, "source": source});
        if !options.is_empty() {
            mount["options"] = json!(options);
        }
        push(&mut self.config["mounts"], mount);
        self
    }

    /// Appends a bind mount of a host path (`rbind` plus `options`).
    pub fn bind(&mut self, host: &Path, destination: &str, options: &[&str]) -> &mut Self {
        let mut all = vec!["rbind"];
        all.extend_from_slice(options);
        self.mount(destination, "bind", &host.display().to_string(), &all)
    }

    /// Removes every mount with this destination.
    pub fn remove_mount(&mut self, destination: &str) -> &mut Self {
        if let Some(mounts) = self.config["mounts"].as_array_mut() {
            mounts.retain(|m| m["destination"] != destination);
        }
        self
    }

    /// Replaces `linux.namespaces` with new namespaces of these types.
    pub fn namespaces(&mut self, types: &[&str]) -> &mut Self {
        let list: Vec<Value> = types.iter().map(|t| json!({"type": t})).collect();
        self.config["linux"]["namespaces"] = Value::Array(list);
        self
    }

    /// Adds a namespace of `kind`, joined through `path` when given.
    pub fn add_namespace(&mut self, kind: &str, path: Option<&str>) -> &mut Self {
        self.remove_namespace(kind);
        let mut ns = json!({"type": kind});
        if let Some(path) = path {
            ns["path"] = json!(path);
        }
        push(&mut self.config["linux"]["namespaces"], ns);
        self
    }

    /// Removes the namespace of `kind` (the container shares the host's).
    pub fn remove_namespace(&mut self, kind: &str) -> &mut Self {
        if let Some(list) = self.config["linux"]["namespaces"].as_array_mut() {
            list.retain(|ns| ns["type"] != kind);
        }
        self
    }

    /// Replaces `linux.maskedPaths`.
    pub fn masked_paths(&mut self, paths: &[&str]) -> &mut Self {
        self.config["linux"]["maskedPaths"] = json!(paths);
        self
    }

    /// Replaces `linux.readonlyPaths`.
    pub fn readonly_paths(&mut self, paths: &[&str]) -> &mut Self {
        self.config["linux"]["readonlyPaths"] = json!(paths);
        self
    }

    /// Sets one rlimit (replacing any of the same type), e.g. `RLIMIT_NOFILE`.
    pub fn rlimit(&mut self, kind: &str, soft: u64, hard: u64) -> &mut Self {
        let rlimits = &mut self.config["process"]["rlimits"];
        if let Some(list) = rlimits.as_array_mut() {
            list.retain(|r| r["type"] != kind);
        }
        push(rlimits, json!({"type": kind, "soft": soft, "hard": hard}));
        self
    }

    /// Appends a hook: `path` run with `args` (args[0] is the program name).
    pub fn hook(
        &mut self,
        kind: HookKind,
        path: &str,
        args: &[&str],
        timeout: Option<u32>,
    ) -> &mut Self {
        let mut hook = json!({"path": path, "args": args});
        if let Some(t) = timeout {
            hook["timeout"] = json!(t);
        }
        push(&mut self.config["hooks"][kind.name()], hook);
        self
    }

    /// `root.readonly`.
    pub fn readonly_root(&mut self, on: bool) -> &mut Self {
        self.config["root"]["readonly"] = json!(on);
        self
    }

    /// Adds an annotation.
    pub fn annotation(&mut self, key: &str, value: &str) -> &mut Self {
        self.config["annotations"][key] = json!(value);
        self
    }

    /// `ociVersion`.
    pub fn oci_version(&mut self, version: &str) -> &mut Self {
        self.config["ociVersion"] = json!(version);
        self
    }

    /// Creates a directory inside the rootfs.
    pub fn mkdir_in_rootfs(&self, rel: &str) -> PathBuf {
        let path = self.rootfs().join(rel.trim_start_matches('/'));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        path
    }

    /// Writes a file inside the rootfs.
    pub fn write_in_rootfs(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.rootfs().join(rel.trim_start_matches('/'));
        fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Creates a symlink `link -> target` inside the rootfs.
    pub fn symlink_in_rootfs(&self, target: &str, link: &str) -> PathBuf {
        let path = self.rootfs().join(link.trim_start_matches('/'));
        symlink(target, &path).unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
        path
    }
}

fn push(slot: &mut Value, item: Value) {
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Some(list) = slot.as_array_mut() {
        list.push(item);
    }
}

fn set_or_remove(config: &mut Value, key: &str, value: Option<Value>) {
    if let Some(obj) = config.as_object_mut() {
        match value {
            Some(v) => obj.insert(key.to_owned(), v),
            None => obj.remove(key),
        };
    }
}

/// Replaces a file so that a concurrent reader (a runtime started by
/// another thread with the same bundle) sees the old or the new text, never half.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    fs::write(&tmp, data)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_edit_the_config() {
        let mut b = Bundle::busybox();
        b.sh("echo hi")
            .add_env("A=1")
            .hostname(Some("h"))
            .user(1000, 1000, &[100])
            .rlimit("RLIMIT_NOFILE", 10, 20)
            .hook(HookKind::Prestart, "/bin/true", &["true"], Some(5))
            .annotation("k", "v")
            .remove_namespace("network")
            .add_namespace("uts", None)
            .remove_mount("/sys/fs/cgroup");
        let c = b.config();
        assert_eq!(c["process"]["args"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(c["process"]["env"][2], "A=1");
        assert_eq!(c["process"]["user"]["additionalGids"], json!([100]));
        assert_eq!(
            c["process"]["rlimits"],
            json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}])
        );
        assert_eq!(c["hooks"]["prestart"][0]["timeout"], 5);
        assert_eq!(c["annotations"]["k"], "v");
        assert_eq!(c["mounts"].as_array().map(Vec::len), Some(6));
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["type"].as_str())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "mount", "uts"]);
        b.write_config();
        let written: Value = serde_json::from_slice(&fs::read(b.config_path()).unwrap()).unwrap();
        assert_eq!(&written, b.config());
        assert!(b.rootfs().join("bin/sh").exists());
    }

    #[test]
    fn raw_and_missing_configs() {
        let mut b = Bundle::busybox();
        b.raw_config("{not json").write_config();
        assert_eq!(fs::read_to_string(b.config_path()).unwrap(), "{not json");
        b.missing_config().write_config();
        assert!(!b.config_path().exists());
    }
}
