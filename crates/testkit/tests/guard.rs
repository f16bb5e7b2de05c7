//! The testkit's own promises, checked with runc (skipped without root or runc).

use std::path::Path;
use std::time::Duration;

use brig_testkit::{Bundle, Runtime, RuntimeKind, leftovers, require_root};

fn runc() -> Option<Runtime> {
    let rt = Runtime::of(RuntimeKind::Runc);
    if !Path::new(rt.binary()).exists() {
        eprintln!("SKIPPED (runc not installed)");
        return None;
    }
    Some(rt)
}

#[test]
fn dropping_the_runtime_deletes_its_containers_and_directories() {
    require_root!();
    let Some(rt) = runc() else { return };
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]);
    let id = rt.new_id("guard");
    rt.create(&id, &bundle).assert_ok();
    rt.start(&id).assert_ok();
    let pid = rt.state_of(&id).pid.expect("pid");
    let root = rt.root();
    let bundle_dir = bundle.path().to_owned();
    drop(bundle);
    assert!(
        bundle_dir.exists(),
        "the runtime keeps the bundle of a live container"
    );
    drop(rt);
    let gone = (0..500).any(|_| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'));
        if alive {
            std::thread::sleep(Duration::from_millis(10));
        }
        !alive
    });
    assert!(gone, "container process {pid} survived the runtime guard");
    assert!(!root.exists(), "state root {} left behind", root.display());
    assert!(
        !bundle_dir.exists(),
        "bundle {} left behind",
        bundle_dir.display()
    );
}

#[test]
fn leftovers_sees_a_live_container() {
    require_root!();
    let Some(rt) = runc() else { return };
    let mut bundle = Bundle::busybox();
    bundle.args(&["sleep", "1000"]);
    let id = rt.new_id("seen");
    rt.create(&id, &bundle).assert_ok();
    let found = leftovers::leftovers(&rt, &id, &bundle);
    assert!(
        found.iter().any(|l| l.starts_with("state directory")),
        "{found:?}"
    );
    assert!(found.iter().any(|l| l.starts_with("cgroup")), "{found:?}");
    rt.delete_force(&id).assert_ok();
    leftovers::assert_nothing_left(&rt, &id, &bundle);
}
