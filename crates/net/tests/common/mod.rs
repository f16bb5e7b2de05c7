//! Helpers for root tests: every network namespace a test uses is created here
//! and removed on drop, also when the test fails. The host's own namespace is
//! never touched.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub const PREFIX: &str = "brignet-t";

/// True when running as root; otherwise prints the loud skip line.
pub fn need_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    eprintln!("SKIPPED (needs root): {test}");
    false
}

/// A named network namespace (/run/netns/NAME) removed on drop.
#[derive(Debug)]
pub struct TestNetns {
    pub name: String,
}

impl TestNetns {
    pub fn new(tag: &str) -> TestNetns {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}-{}-{n}-{tag}", std::process::id());
        run("ip", &["netns", "add", &name]);
        TestNetns { name }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Runs a command inside the namespace; returns (success, combined output).
    pub fn exec(&self, program: &str, args: &[&str]) -> (bool, String) {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .expect("run ip netns exec");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().expect("spawn");
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Sorted link names in the given namespace, read through brig-net's own netlink.
pub fn links_in(ns: &TestNetns) -> Vec<String> {
    let mut names =
        brig_net::netns::run_in_netns(&ns.path(), || brig_net::Netlink::open()?.link_names())
            .expect("list links");
    names.sort();
    names
}
