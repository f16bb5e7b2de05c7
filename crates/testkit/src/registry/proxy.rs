//! A loopback HTTP proxy in front of a test registry that counts requests
//! by method and can refuse one method with 405 (a registry without
//! chunked uploads, say) or cut one request or answer off mid-body (a
//! dropped connection). One request per connection (`Connection: close`), so no
//! response needs parsing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does wrong on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: every request goes through.
    None,
    /// Requests with this method (`PATCH`, say) get 405.
    Refuse(String),
    /// The first request with this method is cut off after this many
    /// bytes of its body: the server gets them, the client a closed
    /// connection.
    CutOnce(String, u64),
    /// The answer to the first request whose request line contains this
    /// text (a blob's digest, say) is cut off after this many bytes.
    CutAnswerOnce(String, u64),
}

/// A running proxy; stops accepting when dropped.
#[derive(Debug)]
pub struct Proxy {
    /// `127.0.0.1:PORT`, to use as the registry's address.
    pub addr: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Proxies to `upstream` (`HOST:PORT`), with `fault`.
    pub fn start(upstream: &str, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address").to_string();
        listener
            .set_nonblocking(true)
            .expect("make the proxy listener non-blocking");
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (counts2, stop2) = (counts.clone(), stop.clone());
        let upstream = upstream.to_owned();
        let fault = Arc::new(Mutex::new(fault));
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (counts, upstream, fault) =
                            (counts2.clone(), upstream.clone(), fault.clone());
                        std::thread::spawn(move || {
                            let _ = forward(conn, &upstream, &fault, &counts);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Proxy { addr, counts, stop }
    }

    /// How many `method` requests came through (or were refused);
    /// `"GET Range"` counts those with a `Range` header.
    pub fn count(&self, method: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(method).copied().unwrap_or(0)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The fault that applies to a request (a cut applies once).
fn take_fault(fault: &Mutex<Fault>, request_line: &str) -> Fault {
    let method = request_line.split(' ').next().unwrap_or("");
    let mut fault = fault.lock().unwrap_or_else(|p| p.into_inner());
    match &*fault {
        Fault::Refuse(m) if m == method => fault.clone(),
        Fault::CutOnce(m, _) if m == method => std::mem::replace(&mut *fault, Fault::None),
        Fault::CutAnswerOnce(text, _) if request_line.contains(text.as_str()) => {
            std::mem::replace(&mut *fault, Fault::None)
        }
        _ => Fault::None,
    }
}

fn forward(
    conn: TcpStream,
    upstream: &str,
    fault: &Mutex<Fault>,
    counts: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    let mut client = BufReader::new(conn.try_clone()?);
    // A TLS handshake (clients try HTTPS first): not HTTP, hang up.
    if client.fill_buf()?.first() == Some(&0x16) {
        return Ok(());
    }
    let mut head = String::new();
    let mut content_length = 0u64;
    loop {
        let mut line = String::new();
        if client.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("connection") {
                continue;
            }
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        head.push_str(&line);
    }
    let method = head.split(' ').next().unwrap_or("").to_owned();
    let ranged = head.lines().any(|l| {
        l.split_once(':')
            .is_some_and(|(n, _)| n.eq_ignore_ascii_case("range"))
    });
    {
        let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(method.clone()).or_default() += 1;
        if ranged {
            *counts.entry(format!("{method} Range")).or_default() += 1;
        }
    }
    let mut out = conn;
    let fault = take_fault(fault, head.lines().next().unwrap_or(""));
    if let Fault::Refuse(_) = fault {
        // Read the body first: closing on unread data would reset the
        // connection before the client sees the answer.
        std::io::copy(
            &mut (&mut client).take(content_length),
            &mut std::io::sink(),
        )?;
        out.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(head.as_bytes())?;
    server.write_all(b"Connection: close\r\n\r\n")?;
    if let Fault::CutOnce(_, after) = fault {
        std::io::copy(&mut (&mut client).take(after), &mut server)?;
        // Let the server read what it got before the connection drops.
        std::thread::sleep(Duration::from_millis(200));
        let _ = server.shutdown(Shutdown::Both);
        let _ = out.shutdown(Shutdown::Both);
        return Ok(());
    }
    if let Fault::CutAnswerOnce(_, after) = fault {
        std::io::copy(&mut (&mut server).take(after), &mut out)?;
        let _ = out.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
        return Ok(());
    }
    let mut to_server = server.try_clone()?;
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client, &mut to_server);
    });
    let _ = std::io::copy(&mut server, &mut out);
    let _ = out.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = upload.join();
    Ok(())
}
