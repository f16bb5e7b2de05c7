//! A loopback HTTP proxy in front of a test registry that counts requests
//! by method and can refuse one method with 405 (a registry without
//! chunked uploads, say). One request per connection (`Connection: close`),
//! so no response needs parsing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running proxy; stops accepting when dropped.
#[derive(Debug)]
pub struct Proxy {
    /// `127.0.0.1:PORT`, to use as the registry's address.
    pub addr: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Proxies to `upstream` (`HOST:PORT`), answering `refuse` requests
    /// (a method such as `PATCH`) with 405 itself.
    pub fn start(upstream: &str, refuse: Option<&str>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address").to_string();
        listener
            .set_nonblocking(true)
            .expect("make the proxy listener non-blocking");
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (counts2, stop2) = (counts.clone(), stop.clone());
        let upstream = upstream.to_owned();
        let refuse = refuse.map(str::to_owned);
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (counts, upstream, refuse) =
                            (counts2.clone(), upstream.clone(), refuse.clone());
                        std::thread::spawn(move || {
                            let _ = forward(conn, &upstream, refuse.as_deref(), &counts);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Proxy { addr, counts, stop }
    }

    /// How many `method` requests came through (or were refused).
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

fn forward(
    conn: TcpStream,
    upstream: &str,
    refuse: Option<&str>,
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
    *counts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(method.clone())
        .or_default() += 1;
    let mut out = conn;
    if refuse == Some(method.as_str()) {
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
