//! [`Engine`]: the operations behind `brig`'s container commands. Each
//! `brig` process opens one; there is no daemon. Opening it repairs what
//! crashed processes left (see [`Engine::repair`]).

use std::path::{Path, PathBuf};

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::monitor::MonitorLauncher;
use crate::record::ContainerRecord;

/// How to open the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Persistent state (`/var/lib/brig`).
    pub root: PathBuf,
    /// Volatile state (`/run/brig`).
    pub runroot: PathBuf,
    /// `--runtime`: `runc`, `crun`, a path; default brig-runtime.
    pub runtime: Option<String>,
    /// How to start monitors (the CLI re-executes itself).
    pub monitor: Option<MonitorLauncher>,
}

/// The engine, opened for one command.
#[derive(Debug)]
pub struct Engine {
    pub(crate) ctx: Ctx,
    pub(crate) runtime: Option<String>,
    pub(crate) monitor: Option<MonitorLauncher>,
}

impl Engine {
    /// Opens the state under `root`/`runroot` and repairs it.
    pub fn open(opts: EngineOptions) -> Result<Engine> {
        let engine = Engine {
            ctx: Ctx::open(&opts.root, &opts.runroot)?,
            runtime: opts.runtime,
            monitor: opts.monitor,
        };
        crate::timing::mark("engine: database open");
        engine.repair()?;
        crate::timing::mark("engine: repaired");
        Ok(engine)
    }

    pub fn root(&self) -> &Path {
        self.ctx.paths.root()
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// A container by ID, unique ID prefix or name.
    pub fn find(&self, reference: &str) -> Result<ContainerRecord> {
        self.ctx.db.find(reference)
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        self.ctx.db.containers()
    }

    pub(crate) fn launcher(&self) -> Result<&MonitorLauncher> {
        self.monitor
            .as_ref()
            .ok_or_else(|| Error::Spec("this brig was built without a monitor command".to_owned()))
    }
}

/// A new random container or volume ID: 64 hex digits from the kernel's
/// random source.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !filled {
        for b in &mut bytes {
            *b = fastrand::u8(..);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "clever", "eager", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nimble", "proud", "quiet", "rapid", "sharp", "steady", "swift", "tidy", "vivid", "witty",
];
const NOUNS: &[&str] = &[
    "anchor", "beacon", "bollard", "compass", "current", "dinghy", "harbor", "hull", "keel",
    "lantern", "mast", "oar", "pilot", "rudder", "sail", "skiff", "tide", "wake", "wharf", "yawl",
];

/// A Docker-style random name (`brave_rudder`).
pub fn random_name() -> String {
    format!(
        "{}_{}{}",
        ADJECTIVES[fastrand::usize(..ADJECTIVES.len())],
        NOUNS[fastrand::usize(..NOUNS.len())],
        fastrand::u32(..1000)
    )
}

/// Container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (Podman's rule; Docker
/// also wants a second character, which would refuse `--name x`).
pub fn validate_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let a = new_id();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_id());
        assert!(validate_name(&random_name()).is_ok());
        assert!(validate_name("web-1.a_b").is_ok());
        assert!(validate_name("-bad").is_err());
        assert!(validate_name("x").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("sp ace").is_err());
    }
}
