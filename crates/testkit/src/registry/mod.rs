//! A real registry for image tests: Debian's docker-registry on a random
//! loopback port, plain HTTP or TLS (a test CA), with htpasswd basic auth or
//! bearer tokens from a small token issuer of the test's own. Started for
//! one test, stopped by its PID when dropped. Shared by the brig-image and
//! brig command tests.

mod certs;
mod proxy;
mod token;

pub use proxy::{Fault, Proxy};

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::tools::{have_tool, run_tool};

/// The user the registry's htpasswd file and token issuer accept.
pub const USER: &str = "brig";
/// [`USER`]'s password.
pub const PASSWORD: &str = "s3cret-pass";

/// How the registry is reached and who it lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain HTTP, anonymous.
    Plain,
    /// TLS with a test CA, anonymous.
    Tls,
    /// TLS and HTTP basic auth for [`USER`].
    TlsBasic,
    /// Plain HTTP and bearer tokens from the test's token issuer, which
    /// wants [`USER`]'s basic credentials.
    Token,
}

/// A running docker-registry.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Configuration, certificates, storage and log.
    pub dir: tempfile::TempDir,
    token_stop: Option<Arc<AtomicBool>>,
}

impl Registry {
    /// Starts a registry, or returns `None` (after a loud skip line naming
    /// `test`) when docker-registry, openssl or htpasswd is missing.
    pub fn start(kind: Kind, test: &str) -> Option<Self> {
        let mut tools = vec!["docker-registry"];
        if kind != Kind::Plain {
            tools.extend(["openssl", "htpasswd"]);
        }
        if !tools.iter().all(|t| have_tool(t, test)) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("brig-test-registry")
            .tempdir()
            .expect("create the registry's temporary directory");
        let addr = format!("127.0.0.1:{}", free_port());
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n  secret: brig-test\n",
            dir.path().join("data").display()
        );
        if matches!(kind, Kind::Tls | Kind::TlsBasic) {
            certs::make_ca_and_server_cert(dir.path());
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("server.pem").display(),
                dir.path().join("server.key").display()
            );
        }
        let mut token_stop = None;
        match kind {
            Kind::TlsBasic => {
                let htpasswd = dir.path().join("htpasswd");
                run_tool(
                    "htpasswd",
                    &["-Bbc", htpasswd.to_str().unwrap(), USER, PASSWORD],
                );
                config += &format!(
                    "auth:\n  htpasswd:\n    realm: brig-test\n    path: {}\n",
                    htpasswd.display()
                );
            }
            Kind::Token => {
                let (realm, stop) = token::start_issuer(dir.path());
                token_stop = Some(stop);
                config += &format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: brig-test\n    issuer: {}\n    rootcertbundle: {}\n",
                    token::ISSUER,
                    dir.path().join("token.pem").display()
                );
            }
            Kind::Plain | Kind::Tls => {}
        }
        Some(Self::spawn(dir, addr, &config, token_stop))
    }

    fn spawn(
        dir: tempfile::TempDir,
        addr: String,
        config: &str,
        token_stop: Option<Arc<AtomicBool>>,
    ) -> Self {
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write the registry's config.yml");
        let log = std::fs::File::create(dir.path().join("registry.log"))
            .expect("create the registry's log file");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        // From here on, Drop stops the registry even if the wait fails.
        let registry = Registry {
            child,
            addr,
            dir,
            token_stop,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&registry.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start: {}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// The test CA's certificate (PEM), for TLS kinds.
    pub fn ca(&self) -> PathBuf {
        self.cert_dir().join("ca.crt")
    }

    /// A directory holding only the test CA (`--cert-dir`, or
    /// `/etc/containers/certs.d/HOST` for Podman and skopeo).
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// What the registry logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Only the process this test started, by its PID.
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
        if let Some(stop) = &self.token_stop {
            stop.store(true, Ordering::SeqCst);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free loopback port")
        .port()
}
