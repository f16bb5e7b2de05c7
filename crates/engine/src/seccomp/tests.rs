use super::*;
use oci_spec::runtime::{LinuxSeccompAction, LinuxSyscall};

fn caps(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn target(bounding: &[String]) -> Target<'_> {
    Target {
        bounding,
        arch: "SCMP_ARCH_X86_64",
        kernel: (6, 18),
    }
}

fn rules_for<'a>(p: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
    p.syscalls()
        .iter()
        .flatten()
        .filter(|r| r.names().iter().any(|n| n == name))
        .collect()
}

#[test]
fn default_profile_denies_with_eperm_and_allows_the_basics() {
    let bounding = caps(crate::caps::DEFAULT);
    let p = resolve(DEFAULT_PROFILE, &target(&bounding)).unwrap();
    assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(p.default_errno_ret(), Some(1));
    let arches: Vec<String> = p
        .architectures()
        .iter()
        .flatten()
        .map(|a| format!("{a:?}"))
        .collect();
    assert_eq!(arches.len(), 3, "{arches:?}");
    for allowed in ["read", "write", "execve", "openat", "chroot"] {
        assert!(!rules_for(&p, allowed).is_empty(), "{allowed}");
    }
    for denied in [
        "mount",
        "unshare",
        "reboot",
        "init_module",
        "kexec_load",
        "bpf",
        "setns",
    ] {
        assert!(
            rules_for(&p, denied).is_empty(),
            "{denied} must not be allowed"
        );
    }
}

#[test]
fn clone_is_filtered_and_clone3_is_enosys_without_sys_admin() {
    let bounding = caps(crate::caps::DEFAULT);
    let p = resolve(DEFAULT_PROFILE, &target(&bounding)).unwrap();
    let clone = rules_for(&p, "clone");
    assert_eq!(clone.len(), 1);
    assert!(clone[0].args().as_ref().is_some_and(|a| a.len() == 1));
    let clone3 = rules_for(&p, "clone3");
    assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(clone3[0].errno_ret(), Some(38));
}

#[test]
fn capabilities_unlock_their_syscalls() {
    let bounding = caps(&["CAP_SYS_ADMIN", "CAP_SYS_TIME"]);
    let p = resolve(DEFAULT_PROFILE, &target(&bounding)).unwrap();
    for name in ["mount", "unshare", "setns", "clock_settime"] {
        assert!(!rules_for(&p, name).is_empty(), "{name}");
    }
    let clone = rules_for(&p, "clone");
    assert!(
        clone.iter().all(|r| r.args().is_none()),
        "clone unrestricted with SYS_ADMIN"
    );
    assert!(
        rules_for(&p, "clone3")
            .iter()
            .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow)
    );
}

#[test]
fn socket_blocks_af_alg_and_vsock() {
    let p = resolve(DEFAULT_PROFILE, &target(&[])).unwrap();
    let json = serde_json::to_value(rules_for(&p, "socket")).unwrap();
    let text = json.to_string();
    assert!(text.contains("38") && text.contains("40"), "{text}");
}

#[test]
fn includes_and_excludes_filter_by_arch_and_kernel() {
    let profile = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
      "syscalls":[
        {"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64"]}},
        {"names":["b"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64"]}},
        {"names":["c"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"7.0"}},
        {"names":["d"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"5.0"}},
        {"name":"e","action":"SCMP_ACT_ALLOW"}]}"#;
    let p = resolve(profile, &target(&[])).unwrap();
    let names: Vec<&str> = p
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names().iter().map(String::as_str))
        .collect();
    assert_eq!(names, ["b", "e"]);
}

#[test]
fn plain_oci_profiles_pass_through_and_garbage_is_refused() {
    let oci = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#;
    assert!(check_profile(oci).is_ok());
    let p = resolve(oci, &target(&[])).unwrap();
    assert_eq!(rules_for(&p, "mkdir").len(), 1);
    assert!(check_profile("{}").is_err());
    assert!(check_profile(r#"{"defaultAction":"SCMP_ACT_DANCE"}"#).is_err());
}
