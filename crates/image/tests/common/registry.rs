//! A real registry (Debian's docker-registry) on a random loopback port,
//! optionally with TLS (a test CA), htpasswd basic auth, or bearer tokens
//! from a small token issuer of the test's own. Stopped by PID on drop.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

pub const USER: &str = "brig";
pub const PASSWORD: &str = "s3cret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Tls,
    TlsBasic,
    Token,
}

pub struct Registry {
    child: Child,
    pub addr: String,
    pub dir: tempfile::TempDir,
    token_stop: Option<Arc<AtomicBool>>,
}

impl Registry {
    /// Starts a registry, or returns `None` (after a loud skip line) when
    /// docker-registry or openssl is missing.
    pub fn start(kind: Kind, test: &str) -> Option<Self> {
        for tool in ["docker-registry", "openssl", "htpasswd"] {
            if !super::have_tool(tool, test) {
                return None;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n  secret: brig-test\n",
            dir.path().join("data").display()
        );
        if matches!(kind, Kind::Tls | Kind::TlsBasic) {
            make_ca_and_server_cert(dir.path());
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
                super::run(
                    "htpasswd",
                    &["-Bbc", htpasswd.to_str().unwrap(), USER, PASSWORD],
                );
                config += &format!(
                    "auth:\n  htpasswd:\n    realm: brig-test\n    path: {}\n",
                    htpasswd.display()
                );
            }
            Kind::Token => {
                let (realm, stop) = start_token_issuer(dir.path());
                token_stop = Some(stop);
                config += &format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: brig-test\n    issuer: brig-test-issuer\n    rootcertbundle: {}\n",
                    dir.path().join("token.pem").display()
                );
            }
            Kind::Plain | Kind::Tls => {}
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
        let registry = Registry {
            child,
            addr: addr.clone(),
            dir,
            token_stop,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Only the process this test started, by its PID.
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.child.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        );
        let _ = self.child.wait();
        if let Some(stop) = &self.token_stop {
            stop.store(true, Ordering::SeqCst);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn openssl(args: &[&str], dir: &Path) {
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

/// A test CA and a server certificate for 127.0.0.1 signed by it.
fn make_ca_and_server_cert(dir: &Path) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=brig test CA",
        ],
        dir,
    );
    openssl(
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
        dir,
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
        dir,
    );
}

/// A token issuer: answers `GET /token?service&scope` for the test user
/// with an RS256 JWT (signed by openssl) that the registry trusts.
fn start_token_issuer(dir: &Path) -> (String, Arc<AtomicBool>) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "token.key",
            "-out",
            "token.pem",
            "-days",
            "2",
            "-subj",
            "/CN=brig token issuer",
        ],
        dir,
    );
    let der = Command::new("openssl")
        .args(["x509", "-in", "token.pem", "-outform", "DER"])
        .current_dir(dir)
        .output()
        .unwrap()
        .stdout;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let realm = format!("http://{}/token", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let dir = dir.to_owned();
    std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((conn, _)) => serve_token(conn, &dir, &der),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (realm, stop)
}

fn serve_token(mut conn: TcpStream, dir: &Path, cert_der: &[u8]) {
    conn.set_nonblocking(false).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut authorized = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line
            .strip_prefix("Authorization: ")
            .or_else(|| line.strip_prefix("authorization: "))
        {
            authorized =
                v.trim() == format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
        }
    }
    let query = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    let scopes: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .map(percent_decode)
        .collect();
    if !authorized {
        let _ = conn.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let token = sign_token(dir, cert_der, &scopes);
    let body = format!("{{\"token\":\"{token}\"}}");
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn sign_token(dir: &Path, cert_der: &[u8], scopes: &[String]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let header =
        serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [STANDARD.encode(cert_der)]});
    let claims = serde_json::json!({
        "iss": "brig-test-issuer", "sub": USER, "aud": "brig-test",
        "exp": now + 600, "nbf": now - 10, "iat": now, "jti": format!("{}", fastrand::u64(..)),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", "token.key"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())
        .unwrap();
    let sig = child.wait_with_output().unwrap().stdout;
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}
