//! Bridge networking end to end (root only): real containers on brig's
//! bridges. Only loopback and namespaces these tests create are used; each
//! test has its own --root/--runroot (so its own nftables table and bridge
//! names) and its own subnets, and a guard removes every container,
//! network, link, table and namespace it made, also when it fails.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Brig;

const IMAGE: &str = "busybox:net";

macro_rules! require_root {
    ($name:expr) => {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED (needs root): {}", $name);
            return;
        }
    };
}

/// A store with a busybox image, cleaned up (host side included) on drop.
struct Net {
    brig: Brig,
    tag: String,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Net {
    fn new() -> Net {
        let brig = Brig::new();
        let tag = brig_engine::network::names::root_tag(&brig.root());
        let net = Net { brig, tag };
        let tar = net.brig.path("busybox.tar");
        let page = [("www/index.html", "hello from brig\n")];
        std::fs::write(&tar, brig_testkit::rootfs::busybox_tar(&page)).unwrap();
        let r = net.run(&[
            "import",
            "--change",
            r#"CMD ["sh"]"#,
            "--change",
            "ENV PATH=/bin",
            "--change",
            "EXPOSE 80/tcp",
            tar.to_str().unwrap(),
            IMAGE,
        ]);
        assert_eq!(r.code, 0, "import: {}", r.stderr);
        net
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_brig"));
        cmd.arg("--root")
            .arg(self.brig.root())
            .arg("--runroot")
            .arg(self.brig.runroot());
        let beside = Path::new(env!("CARGO_BIN_EXE_brig")).with_file_name("brig-runtime");
        if beside.exists() {
            cmd.arg("--runtime").arg(beside);
        }
        cmd.args(args).stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = self.command(args).output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "brig {args:?}: {}{}", r.stdout, r.stderr);
        r.stdout
    }

    fn fails(&self, args: &[&str], needle: &str) {
        let r = self.run(args);
        assert_ne!(r.code, 0, "brig {args:?} succeeded: {}", r.stdout);
        assert!(
            r.stderr.contains(needle),
            "brig {args:?}: {needle:?} not in {}",
            r.stderr
        );
    }

    fn table(&self) -> String {
        format!("brig-{}", self.tag)
    }

    /// brig's links of this root: bridges `brig<tag4>...`, veths `vb<id9>N`.
    fn our_links(&self, ids: &[String]) -> Vec<String> {
        let bridge = format!("brig{}", &self.tag[..4]);
        links()
            .into_iter()
            .filter(|l| {
                l.starts_with(&bridge)
                    || ids
                        .iter()
                        .any(|id| l.starts_with(&format!("vb{}", &id[..9])))
            })
            .collect()
    }

    /// No link or table of this root is left once the default network is
    /// removed too (user networks are removed by the test; the default
    /// network stays after its last member, like Docker's docker0).
    fn assert_nothing_left(&self, ids: &[String]) {
        let rm = self.run(&["network", "rm", "brig"]);
        assert!(
            rm.code == 0 || rm.stderr.contains("no such network"),
            "network rm brig: {}",
            rm.stderr
        );
        assert_eq!(self.our_links(ids), Vec::<String>::new(), "links left");
        let tables = nft(&["list", "tables"]);
        assert!(!tables.contains(&self.table()), "table left: {tables}");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq", "--no-trunc"]).stdout;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            let _ = self.run(&args);
        }
        let _ = self.run(&["network", "prune", "-f"]);
        let _ = self.run(&["network", "rm", "brig"]);
        let bridge = format!("brig{}", &self.tag[..4]);
        for link in links().into_iter().filter(|l| l.starts_with(&bridge)) {
            let _ = Command::new("ip").args(["link", "del", &link]).status();
        }
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.table()])
            .stderr(Stdio::null())
            .status();
    }
}

fn links() -> Vec<String> {
    let out = Command::new("ip").args(["-o", "link"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_owned())
        .collect()
}

fn nft(args: &[&str]) -> String {
    let out = Command::new("nft").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A free TCP port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET / from the host, retried while the server starts.
fn http_get(port: u16) -> String {
    for _ in 0..50 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            if !text.is_empty() {
                return text;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    String::new()
}

fn container_ids(net: &Net) -> Vec<String> {
    net.ok(&["ps", "-aq", "--no-trunc"])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn default_network_gives_eth0_address_route_mtu_and_host_files_then_nothing_is_left() {
    require_root!(
        "default_network_gives_eth0_address_route_mtu_and_host_files_then_nothing_is_left"
    );
    let net = Net::new();
    let cidfile = net.brig.path("first.cid");
    let out = net.ok(&[
        "run",
        "--rm",
        "--name",
        "first",
        "--cidfile",
        cidfile.to_str().unwrap(),
        IMAGE,
        "sh",
        "-c",
        "ip -o -4 addr show eth0; ip route; cat /sys/class/net/eth0/mtu; ip -o link show lo; cat /etc/hostname /etc/hosts /etc/resolv.conf",
    ]);
    // The veth goes right after `run --rm` returned (its deletion waits for
    // the kernel, so the monitor does it once nobody waits); the default
    // network's bridge stays, as Docker's docker0.
    let id = std::fs::read_to_string(&cidfile).unwrap();
    let veth = format!("vb{}", &id.trim()[..9]);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while links().iter().any(|l| l.starts_with(&veth)) {
        assert!(std::time::Instant::now() < deadline, "{veth} stayed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kept = net.our_links(&[]);
    assert_eq!(kept.len(), 1, "the default network's bridge: {kept:?}");
    assert!(net.ok(&["network", "ls"]).contains("brig"));
    let address = out
        .lines()
        .find(|l| l.contains("eth0") && l.contains("inet "))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap_or_else(|| panic!("no eth0 address: {out}"));
    let ip = address.split('/').next().unwrap();
    assert!(out.contains("default via "), "{out}");
    assert!(out.lines().any(|l| l == "1500"), "MTU: {out}");
    assert!(out.contains("UP"), "lo up: {out}");
    assert!(
        out.lines().any(|l| l.starts_with(&format!("{ip}\t"))),
        "own address in /etc/hosts: {out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("nameserver 127.")),
        "loopback name servers dropped: {out}"
    );
    let inspect = net.ok(&["network", "inspect", "brig"]);
    assert!(inspect.contains("\"Containers\": {}"), "{inspect}");
    net.assert_nothing_left(&[]);
}

#[test]
fn published_port_on_loopback_answers_the_host_and_brig_port_shows_it() {
    require_root!("published_port_on_loopback_answers_the_host_and_brig_port_shows_it");
    let net = Net::new();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    net.ok(&[
        "run", "-d", "--name", "web", "-p", &publish, IMAGE, "httpd", "-f", "-p", "80", "-h",
        "/www",
    ]);
    let reply = http_get(port);
    assert!(reply.contains("hello from brig"), "reply: {reply:?}");
    assert_eq!(
        net.ok(&["port", "web"]).trim(),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    // -p CTR and -P: a free host port each, shown by `brig port`.
    net.ok(&[
        "run", "-d", "--name", "any", "-p", "80", IMAGE, "httpd", "-f", "-p", "80", "-h", "/www",
    ]);
    net.ok(&[
        "run", "-d", "--name", "all", "-P", IMAGE, "httpd", "-f", "-p", "80", "-h", "/www",
    ]);
    for name in ["any", "all"] {
        let line = net.ok(&["port", name]);
        let host_port: u16 = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("brig port {name}: {line}"));
        assert!(host_port >= 32768, "{line}");
        assert!(http_get(host_port).contains("hello from brig"), "{name}");
    }
    let ids = container_ids(&net);
    net.ok(&["rm", "-f", "web", "any", "all"]);
    net.assert_nothing_left(&ids);
}

#[test]
fn hundred_parallel_run_d_get_distinct_addresses_which_return_on_rm() {
    require_root!("hundred_parallel_run_d_get_distinct_addresses_which_return_on_rm");
    let net = Net::new();
    let children: Vec<Child> = (0..100)
        .map(|i| {
            net.command(&[
                "run",
                "-d",
                "--name",
                &format!("p{i}"),
                IMAGE,
                "sleep",
                "300",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let inspect = net.ok(&["network", "inspect", "-f", "{{json .Containers}}", "brig"]);
    let members: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let addresses: std::collections::BTreeSet<String> = members
        .as_object()
        .unwrap()
        .values()
        .map(|m| m["IPv4Address"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(addresses.len(), 100, "{inspect}");
    let ids = container_ids(&net);
    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    net.ok(&args);
    let inspect = net.ok(&["network", "inspect", "-f", "{{json .Containers}}", "brig"]);
    assert_eq!(inspect.trim(), "{}");
    net.assert_nothing_left(&ids);
}

#[test]
fn user_network_members_reach_each_other_by_name_and_alias_and_names_follow_stop() {
    require_root!("user_network_members_reach_each_other_by_name_and_alias_and_names_follow_stop");
    let net = Net::new();
    net.ok(&["network", "create", "--subnet", "10.201.7.0/24", "app"]);
    net.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "app",
        "--network-alias",
        "database",
        IMAGE,
        "nc",
        "-ll",
        "-p",
        "7000",
        "-e",
        "cat",
    ]);
    net.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--cap-add",
        "NET_RAW",
        "--network",
        "app",
        IMAGE,
        "sleep",
        "300",
    ]);
    let out = net.ok(&[
        "exec",
        "client",
        "sh",
        "-c",
        "ping -c1 -W2 db >/dev/null && echo ping-ok; echo hello | nc -w2 database 7000",
    ]);
    assert!(out.contains("ping-ok"), "{out}");
    assert!(out.contains("hello"), "TCP echo by alias: {out}");
    let hosts = net.ok(&["exec", "client", "cat", "/etc/hosts"]);
    assert!(hosts.contains("10.201.7.2\tdb"), "{hosts}");
    net.ok(&["stop", "-t", "1", "db"]);
    let hosts = net.ok(&["exec", "client", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("\tdb"), "db gone after stop: {hosts}");
    net.ok(&["start", "db"]);
    let hosts = net.ok(&["exec", "client", "cat", "/etc/hosts"]);
    assert!(hosts.contains("\tdb "), "db back after start: {hosts}");
    // A container on the default network cannot reach the app network.
    let out = net.run(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "echo x | nc -w1 10.201.7.2 7000",
    ]);
    assert!(
        !out.stdout.contains('x'),
        "isolated networks: {}",
        out.stdout
    );
    // container:NAME shares db's namespace.
    let out = net.ok(&[
        "run",
        "--rm",
        "--network",
        "container:db",
        IMAGE,
        "ip",
        "-o",
        "-4",
        "addr",
    ]);
    assert!(out.contains("10.201.7.2/24"), "{out}");
    let ids = container_ids(&net);
    net.ok(&["rm", "-f", "db", "client"]);
    net.ok(&["network", "rm", "app"]);
    net.assert_nothing_left(&ids);
}

#[test]
fn bad_network_input_is_refused_clearly_and_leaves_nothing() {
    require_root!("bad_network_input_is_refused_clearly_and_leaves_nothing");
    let net = Net::new();
    net.ok(&["network", "create", "--subnet", "10.202.3.0/24", "one"]);
    net.fails(
        &["network", "create", "--subnet", "10.202.3.128/25", "two"],
        "overlaps 10.202.3.0/24",
    );
    net.fails(
        &[
            "network",
            "create",
            "--subnet",
            "10.202.4.0/24",
            "--gateway",
            "10.202.5.1",
            "two",
        ],
        "--gateway 10.202.5.1 is not inside --subnet 10.202.4.0/24",
    );
    net.fails(
        &["network", "create", "--subnet", "10.202.3.0/24", "one"],
        "already exists",
    );
    net.fails(
        &["run", "--rm", "--network", "nope", IMAGE, "true"],
        "no such network: nope",
    );
    net.fails(
        &[
            "run",
            "--rm",
            "--network",
            "one",
            "--ip",
            "10.9.9.9",
            IMAGE,
            "true",
        ],
        "--ip 10.9.9.9 is not inside the network's subnet 10.202.3.0/24",
    );
    net.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "--network",
        "one",
        "--ip",
        "10.202.3.9",
        IMAGE,
        "sleep",
        "300",
    ]);
    net.fails(
        &[
            "run",
            "--rm",
            "--network",
            "one",
            "--ip",
            "10.202.3.9",
            IMAGE,
            "true",
        ],
        "--ip 10.202.3.9 is already used",
    );
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    net.fails(
        &[
            "run",
            "--rm",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            IMAGE,
            "true",
        ],
        "already in use",
    );
    net.fails(&["network", "rm", "one"], "has active containers (holder)");
    net.fails(&["network", "rm", "nope"], "no such network: nope");
    net.fails(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-p",
            "80",
            IMAGE,
            "true",
        ],
        "-p/-P",
    );
    let ids = container_ids(&net);
    net.ok(&["rm", "-f", "holder"]);
    net.ok(&["network", "rm", "one"]);
    // Only the holder ever had a link; the refused ones never got one.
    net.assert_nothing_left(&ids);
    let left = net.ok(&["ps", "-aq"]);
    assert!(
        left.trim().is_empty(),
        "refused runs left containers: {left}"
    );
}

/// A network namespace standing in for "the outside": a veth from the host
/// (198.18.N.1/30) to it (198.18.N.2/30), web servers on 8080 and 8081.
struct Outside {
    ns: String,
    host_end: String,
    servers: Vec<Child>,
    address: String,
}

impl Outside {
    fn new(n: u8, dir: &Path) -> Outside {
        let tag = std::process::id() % 10000;
        let mut outside = Outside {
            ns: format!("brigtest-out{n}-{tag}"),
            host_end: format!("bto{n}x{tag}"),
            servers: Vec::new(),
            address: format!("198.18.{n}.2"),
        };
        let peer = format!("btp{n}x{tag}");
        let (ns, host) = (outside.ns.clone(), outside.host_end.clone());
        let host_address = format!("198.18.{n}.1/30");
        let ns_address = format!("{}/30", outside.address);
        for args in [
            vec!["netns", "add", &ns],
            vec!["link", "add", &host, "type", "veth", "peer", "name", &peer],
            vec!["link", "set", &peer, "netns", &ns],
            vec!["addr", "add", &host_address, "dev", &host],
            vec!["link", "set", &host, "up"],
            vec!["-n", &ns, "addr", "add", &ns_address, "dev", &peer],
            vec!["-n", &ns, "link", "set", &peer, "up"],
            vec!["-n", &ns, "link", "set", "lo", "up"],
        ] {
            let status = Command::new("ip").args(&args).status().unwrap();
            assert!(status.success(), "ip {args:?}");
        }
        // Replies come back in through the test's own veth.
        std::fs::write(format!("/proc/sys/net/ipv4/conf/{host}/forwarding"), "1").unwrap();
        let www = dir.join("outside-www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("index.html"), "outside\n").unwrap();
        for port in ["8080", "8081"] {
            let child = Command::new("ip")
                .args([
                    "netns", "exec", &ns, "busybox", "httpd", "-f", "-p", port, "-h",
                ])
                .arg(&www)
                .spawn()
                .unwrap();
            outside.servers.push(child);
        }
        outside
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_end])
            .status();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// Whether a container on `network` (plus `extra` flags) gets the outside's
/// page from `port` (busybox nc: the static wget crashes without NSS).
fn fetches(net: &Net, outside: &Outside, network: &str, extra: &[&str], port: u16) -> bool {
    let script = format!(
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {} {port}",
        outside.address
    );
    let mut args = vec!["run", "--rm", "--network", network];
    args.extend(extra);
    args.extend([IMAGE, "sh", "-c", script.as_str()]);
    net.run(&args).stdout.contains("outside")
}

#[test]
fn internal_networks_have_no_way_out_and_egress_allow_lists_let_only_their_ports_through() {
    require_root!(
        "internal_networks_have_no_way_out_and_egress_allow_lists_let_only_their_ports_through"
    );
    let net = Net::new();
    let outside = Outside::new(7, net.brig.dir.path());
    let allow_8080 = format!("{}/32:8080", outside.address);
    net.ok(&["network", "create", "--subnet", "10.203.1.0/24", "open"]);
    net.ok(&[
        "network",
        "create",
        "--subnet",
        "10.203.2.0/24",
        "--internal",
        "closed",
    ]);
    net.ok(&[
        "network",
        "create",
        "--subnet",
        "10.203.3.0/24",
        "--egress-allow",
        &allow_8080,
        "limited",
    ]);
    // Positive control: an ordinary network reaches the outside (NAT).
    assert!(fetches(&net, &outside, "open", &[], 8080), "open network");
    assert!(
        !fetches(&net, &outside, "closed", &[], 8080),
        "internal network got out"
    );
    let routes = net.ok(&["run", "--rm", "--network", "closed", IMAGE, "ip", "route"]);
    assert!(
        !routes.contains("default"),
        "internal network has a default route: {routes}"
    );
    assert!(
        fetches(&net, &outside, "limited", &[], 8080),
        "allowed port"
    );
    assert!(
        !fetches(&net, &outside, "limited", &[], 8081),
        "port not allowed"
    );
    // A container's own list replaces the network's.
    let allow_8081 = format!("{}:8081", outside.address);
    let own = ["--egress-allow", allow_8081.as_str()];
    assert!(
        fetches(&net, &outside, "open", &own, 8081),
        "container's allowed port"
    );
    assert!(
        !fetches(&net, &outside, "open", &own, 8080),
        "container's other port"
    );
    net.ok(&["network", "rm", "open", "closed", "limited"]);
    net.assert_nothing_left(&[]);
}

/// The PID of the monitor of container `id` (its environment names it).
fn monitor_pid(id: &str) -> Option<i32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let text = String::from_utf8_lossy(&environ);
            (text.contains("BRIG_MONITOR=") && text.contains(id)).then_some(pid)
        })
}

#[test]
fn a_killed_monitor_gives_its_address_veth_and_ports_back_on_the_next_command() {
    require_root!("a_killed_monitor_gives_its_address_veth_and_ports_back_on_the_next_command");
    let net = Net::new();
    let port = free_port();
    let id = net
        .ok(&[
            "run",
            "-d",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            IMAGE,
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ])
        .trim()
        .to_owned();
    let monitor = monitor_pid(&id).expect("the container's monitor");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(monitor).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{monitor}")).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Any command repairs: the container is marked exited, its network freed.
    let ps = net.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(ps.contains("Exited"), "{ps}");
    let members = net.ok(&["network", "inspect", "-f", "{{json .Containers}}", "brig"]);
    assert_eq!(members.trim(), "{}");
    let rules = nft(&["list", "table", "inet", &net.table()]);
    assert!(!rules.contains(&format!("dport {port}")), "{rules}");
    // Started again, it gets its address and port back (nothing stale in the way).
    net.ok(&["start", &id]);
    let reply = http_get(port);
    assert!(
        reply.contains("hello from brig"),
        "port {port} after restart: {reply:?} {} {}",
        net.run(&["ps", "-a"]).stdout,
        nft(&["list", "table", "inet", &net.table()])
    );
    net.ok(&["rm", "-f", &id]);
    net.assert_nothing_left(std::slice::from_ref(&id));
}

#[test]
fn connect_and_disconnect_a_running_container_and_dual_stack_addresses() {
    require_root!("connect_and_disconnect_a_running_container_and_dual_stack_addresses");
    let net = Net::new();
    net.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.206.0.0/24",
        "--subnet",
        "fd00:206::/64",
        "front",
    ]);
    net.ok(&["network", "create", "--subnet", "10.207.0.0/24", "back"]);
    net.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        IMAGE,
        "sleep",
        "300",
    ]);
    net.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "back",
        IMAGE,
        "sleep",
        "300",
    ]);
    let addresses = net.ok(&["exec", "web", "ip", "-o", "addr", "show", "eth0"]);
    assert!(addresses.contains("10.206.0.2/24"), "{addresses}");
    assert!(addresses.contains("fd00:206::2/64"), "{addresses}");
    let routes = net.ok(&["exec", "web", "ip", "-6", "route"]);
    assert!(routes.contains("default via fd00:206::1"), "{routes}");
    net.ok(&[
        "network",
        "connect",
        "--alias",
        "www",
        "--ip",
        "10.207.0.50",
        "back",
        "web",
    ]);
    let addresses = net.ok(&["exec", "web", "ip", "-o", "-4", "addr", "show", "eth1"]);
    assert!(addresses.contains("10.207.0.50/24"), "{addresses}");
    let hosts = net.ok(&["exec", "db", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("10.207.0.50\tweb ") && hosts.contains(" www"),
        "{hosts}"
    );
    net.fails(&["network", "connect", "back", "web"], "already connected");
    net.ok(&["network", "disconnect", "back", "web"]);
    let links = net.ok(&["exec", "web", "ip", "-o", "link"]);
    assert!(!links.contains("eth1"), "{links}");
    let hosts = net.ok(&["exec", "db", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("web"), "{hosts}");
    net.fails(&["network", "disconnect", "front", "web"], "only network");
    let ids = container_ids(&net);
    net.ok(&["rm", "-f", "web", "db"]);
    net.ok(&["network", "rm", "front", "back"]);
    net.assert_nothing_left(&ids);
}
