//! A token issuer for the registry's bearer auth: answers
//! `GET /token?service&scope` for [`USER`] with an RS256 JWT (signed by
//! openssl) that the registry trusts through `token.pem`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::certs::{openssl, self_signed};
use super::{PASSWORD, USER};

/// The `iss` of the tokens, which the registry's config names.
pub(super) const ISSUER: &str = "brig-test-issuer";

/// Starts the issuer on a loopback port; returns its realm URL and the flag
/// that stops it.
pub(super) fn start_issuer(dir: &Path) -> (String, Arc<AtomicBool>) {
    self_signed(dir, "token", "/CN=brig token issuer");
    let der = openssl(dir, &["x509", "-in", "token.pem", "-outform", "DER"]);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token issuer");
    let realm = format!(
        "http://{}/token",
        listener.local_addr().expect("token issuer address")
    );
    listener
        .set_nonblocking(true)
        .expect("make the token listener non-blocking");
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
    let _ = conn.set_nonblocking(false);
    let Ok(clone) = conn.try_clone() else { return };
    let mut reader = BufReader::new(clone);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let expected = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
    let mut authorized = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorized = value.trim() == expected;
        }
    }
    if !authorized {
        let _ = conn.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let query = request_line
        .split_whitespace()
        .nth(1)
        .and_then(|target| target.split_once('?'))
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    let scopes: Vec<String> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .map(percent_decode)
        .collect();
    let body = format!("{{\"token\":\"{}\"}}", sign_token(dir, cert_der, &scopes));
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

/// A JWT granting `scopes` (`repository:NAME:ACTIONS`), signed with `token.key`.
fn sign_token(dir: &Path, cert_der: &[u8], scopes: &[String]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
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
        "iss": ISSUER, "sub": USER, "aud": "brig-test",
        "exp": now + 600, "nbf": now - 10, "iat": now, "jti": format!("{}", fastrand::u64(..)),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", "token.key"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run openssl dgst");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(signing_input.as_bytes());
    }
    let sig = child.wait_with_output().expect("openssl dgst").stdout;
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}
