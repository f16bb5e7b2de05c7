//! Debian's docker-registry on 127.0.0.1 with a random port, plain HTTP or
//! TLS (a test CA) with htpasswd basic auth. Started for one test and
//! stopped by its PID when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "brig";
pub const PASSWORD: &str = "s3cret-pass";

pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Registry {
    /// A plain-HTTP registry, or `None` (after a skip line) without docker-registry.
    pub fn plain(test: &str) -> Option<Self> {
        Self::start(false, test)
    }

    /// A TLS registry with basic auth for USER/PASSWORD; its CA is in `cert_dir()`.
    pub fn tls_basic(test: &str) -> Option<Self> {
        Self::start(true, test)
    }

    fn start(secure: bool, test: &str) -> Option<Self> {
        let mut tools = vec!["docker-registry"];
        if secure {
            tools.extend(["openssl", "htpasswd"]);
        }
        if !tools.iter().all(|t| super::have_tool(t, test)) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("brig-cli-registry")
            .tempdir()
            .unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n  secret: brig-cli-test\n",
            dir.path().join("data").display()
        );
        if secure {
            make_certificates(dir.path());
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("server.pem").display(),
                dir.path().join("server.key").display()
            );
            let htpasswd = dir.path().join("htpasswd");
            super::tool(
                "htpasswd",
                &["-Bbc", htpasswd.to_str().unwrap(), USER, PASSWORD],
            );
            config += &format!(
                "auth:\n  htpasswd:\n    realm: brig-cli-test\n    path: {}\n",
                htpasswd.display()
            );
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        // From here on, Drop stops the registry even if the wait fails.
        let registry = Registry { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&registry.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start: {}",
                std::fs::read_to_string(registry.dir.path().join("registry.log"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }

    /// A directory holding only the test CA (for --cert-dir).
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Only the process this test started, by its PID.
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA (in `certs/ca.crt`) and a server certificate for 127.0.0.1.
fn make_certificates(dir: &Path) {
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "certs/ca.crt",
            days[0],
            days[1],
            "-subj",
            "/CN=brig cli test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "certs/ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            days[0],
            days[1],
            "-extfile",
            "ext.cnf",
        ],
    );
}
