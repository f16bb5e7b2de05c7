//! `brig-probe`: a tiny static program, put in test containers, that
//! attempts the syscalls busybox cannot make (ptrace, kexec_load, ...) and
//! prints one line per attempt: `NAME: ok` or `NAME: EPERM` (the errno's name).
//!
//! It is C, compiled once per source version with the host's `cc -static`
//! (Debian: gcc and libc6-dev), because a container's busybox root has no
//! dynamic loader. Every attempt is harmless even when nothing blocks it:
//! kexec_load and init_module get arguments the kernel rejects after its
//! permission check, reboot asks for CAD_OFF, ptrace uses SEIZE and detaches.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::Bundle;

const SOURCE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/reboot.h>

static void report(const char *what, long ret) {
    if (ret >= 0) { printf("%s: ok\n", what); return; }
    const char *name = strerrorname_np(errno);
    printf("%s: %s\n", what, name ? name : "E?");
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "ptrace") && i + 1 < argc) {
            pid_t pid = atoi(argv[++i]);
            long r = ptrace(PTRACE_SEIZE, pid, 0, 0);
            if (r == 0) ptrace(PTRACE_DETACH, pid, 0, 0);
            report("ptrace", r);
        } else if (!strcmp(a, "kexec_load")) {
            report(a, syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdead0000UL));
        } else if (!strcmp(a, "init_module")) {
            report(a, syscall(SYS_init_module, NULL, 0UL, ""));
        } else if (!strcmp(a, "reboot")) {
            report(a, syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                              LINUX_REBOOT_CMD_CAD_OFF, NULL));
        } else if (!strcmp(a, "mount")) {
            report(a, mount("none", "/tmp", "tmpfs", 0, NULL));
        } else if (!strcmp(a, "umount")) {
            report(a, umount2("/proc", MNT_DETACH));
        } else if (!strcmp(a, "unshare-user")) {
            report(a, unshare(CLONE_NEWUSER));
        } else {
            printf("%s: unknown attempt\n", a);
        }
    }
    return 0;
}
"#;

/// The compiled probe, or `None` (with the reason printed) when no static C
/// toolchain is available.
pub fn binary() -> Option<&'static Path> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| match build() {
            Ok(path) => Some(path),
            Err(e) => {
                eprintln!("brig-probe unavailable: {e}");
                None
            }
        })
        .as_deref()
}

fn build() -> Result<PathBuf, String> {
    let hash = SOURCE.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = std::env::temp_dir().join(format!("brig-probe-{hash:016x}"));
    if path.is_file() {
        return Ok(path);
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut child = Command::new("cc")
        .args(["-static", "-O2", "-x", "c", "-", "-o"])
        .arg(&tmp)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cc: {e} (install gcc and libc6-dev)"))?;
    child
        .stdin
        .take()
        .ok_or("cc has no stdin")?
        .write_all(SOURCE.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "cc -static failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Copies the probe to `/bin/brig-probe` in the bundle's root; false when
/// it cannot be built.
pub fn install(bundle: &Bundle) -> bool {
    let Some(probe) = binary() else {
        return false;
    };
    let dest = bundle.rootfs().join("bin/brig-probe");
    std::fs::copy(probe, &dest)
        .unwrap_or_else(|e| panic!("copying the probe to {}: {e}", dest.display()));
    true
}
