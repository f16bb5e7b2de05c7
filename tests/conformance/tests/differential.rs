//! Differential tests: the same bundle through the runtime under test and
//! runc (or crun with `BRIG_TEST_REFERENCE=crun`); both must observe the
//! same, after normalizing what legitimately differs (ids, inode numbers).

mod common;

use brig_testkit::differential::{assert_same, sorted_lines};
use brig_testkit::{Bundle, require_root};

fn identity(text: &str) -> String {
    text.to_owned()
}

fn bundle(script: &str) -> Bundle {
    let mut b = Bundle::busybox();
    b.sh(script);
    b
}

#[test]
fn differential_pid1_hostname_and_exit_code() {
    require_root!();
    let mut b = bundle("echo $$; hostname; exit 3");
    b.hostname(Some("diff-host"));
    let seen = assert_same("diffpid1", &b, &identity);
    if let Some(seen) = seen {
        assert_eq!(seen.code, Some(3));
    }
}

#[test]
fn differential_user_groups_and_umask() {
    require_root!();
    let mut b = bundle(
        "id; umask; grep -E '^(Uid|Gid|Groups|NoNewPrivs|CapPrm|CapEff|CapBnd|CapAmb|CapInh)' /proc/self/status",
    );
    b.user(1000, 1000, &[100]).umask(0o022);
    assert_same("diffuser", &b, &identity);
}

#[test]
fn differential_env_cwd_and_rlimits() {
    require_root!();
    let mut b = bundle("pwd; env | sort; cat /proc/self/limits");
    b.cwd("/tmp")
        .add_env("EXTRA=1")
        .rlimit("RLIMIT_NOFILE", 64, 128);
    assert_same("diffenv", &b, &identity);
}

/// Masked files: runtimes bind a /dev/null of their choice (the container's
/// or the host's), so only their presence is compared.
const MASKED_FILES: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
];

/// Mount points with type and the flags that matter, sorted; drops ids and
/// per-boot numbers.
fn mount_summary(text: &str) -> String {
    let mounts = brig_testkit::mountinfo::parse(text);
    let lines: Vec<String> = mounts
        .iter()
        // runc 1.1 does not mount the hybrid layout's cgroup2 at /sys/fs/cgroup/unified;
        // mounting it read-only is allowed too.
        .filter(|m| m.mount_point != "/sys/fs/cgroup/unified")
        .map(|m| {
            if MASKED_FILES.contains(&m.mount_point.as_str()) {
                return format!("{} masked", m.mount_point);
            }
            // On cgroup v1, runc 1.1 leaves the tmpfs holding the hierarchies
            // writable (each hierarchy is read-only); a read-only one is as good.
            if m.mount_point == "/sys/fs/cgroup" && m.fstype == "tmpfs" {
                return "/sys/fs/cgroup tmpfs (v1 holder)".to_owned();
            }
            let mut flags: Vec<&str> = m
                .mount_options
                .iter()
                .map(String::as_str)
                .filter(|o| ["ro", "rw", "nosuid", "nodev", "noexec"].contains(o))
                .collect();
            flags.sort_unstable();
            format!("{} {} {}", m.mount_point, m.fstype, flags.join(","))
        })
        .collect();
    sorted_lines(&lines.join("\n"), |_| true)
}

#[test]
fn differential_mounts_and_flags() {
    require_root!();
    let mut b = bundle("cat /proc/self/mountinfo");
    b.mount("/scratch", "tmpfs", "tmpfs", &["noexec", "nosuid"]);
    assert_same("diffmounts", &b, &mount_summary);
}

#[test]
fn differential_masked_and_readonly_paths() {
    require_root!();
    let b = bundle(
        "for p in /proc/kcore /proc/keys /proc/timer_list /sys/firmware /proc/acpi /proc/scsi; do \
           echo \"$p [$(cat $p 2>/dev/null | head -c 20 | wc -c)] [$(ls $p 2>/dev/null | wc -l)]\"; done; \
         for p in /proc/sys /proc/sysrq-trigger /proc/bus /proc/fs /proc/irq; do \
           touch $p 2>/dev/null && echo \"$p writable\" || echo \"$p refused\"; done",
    );
    assert_same("diffmasked", &b, &identity);
}

#[test]
fn differential_dev_contents() {
    require_root!();
    let b = bundle("ls -la /dev | awk '{print $1, $NF}' | grep -v '^total'");
    // crun also links /dev/core -> /proc/kcore; the spec does not ask for it.
    let normalize = |t: &str| {
        sorted_lines(t, |l| {
            !l.ends_with(" .") && !l.ends_with(" ..") && !l.ends_with("/proc/kcore")
        })
    };
    assert_same("diffdev", &b, &normalize);
}

#[test]
fn differential_readonly_root() {
    require_root!();
    let b = bundle("touch /x 2>&1; echo rc=$?; touch /tmp/y 2>&1; echo rc=$?");
    assert_same("diffro", &b, &identity);
}
