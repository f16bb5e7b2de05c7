//! Docker credential helpers (`docker-credential-NAME get|store|erase`)
//! named by `credHelpers` or `credsStore` in a config.json: a shell-script
//! helper written by the test into a temporary PATH directory, in front of
//! a TLS registry with basic auth.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use brig_testkit::registry::{Kind, PASSWORD, Registry, USER};
use common::{Brig, Run, have_image_tools, login_args, tool, umoci_image};

/// Writes `docker-credential-brigtest` into `<dir>/bin`: it keeps one login
/// in `<dir>/store.json` and logs each call to `<dir>/calls`.
fn install_helper(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let d = dir.display();
    let script = format!(
        r#"#!/bin/sh
read -r input
echo "$1 $input" >>{d}/calls
case "$1" in
get)
	[ -f {d}/store.json ] || {{ echo "credentials not found in native keychain"; exit 1; }}
	cat {d}/store.json ;;
store) echo "$input" >{d}/store.json ;;
erase)
	[ -f {d}/store.json ] || {{ echo "credentials not found in native keychain"; exit 1; }}
	rm {d}/store.json ;;
*) echo "unknown action $1" >&2; exit 2 ;;
esac
"#
    );
    let path = bin.join("docker-credential-brigtest");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// `brig ARGS` with the helper's directory first on PATH.
fn run_with_helper(brig: &Brig, bin: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut cmd = brig.command(args);
    cmd.env("PATH", path);
    common::run_command(cmd, stdin.map(str::as_bytes))
}

/// A TLS registry with basic auth holding `private/app:1` (put there by skopeo).
fn registry_with_image(brig: &Brig, test: &str) -> Option<(Registry, String)> {
    if !have_image_tools(test) {
        return None;
    }
    let registry = Registry::start(Kind::TlsBasic, test)?;
    let layout = brig.path("layout");
    umoci_image(brig.dir.path(), &layout, "1", &["helper test"]);
    let creds = format!("{USER}:{PASSWORD}");
    let certs = registry.cert_dir();
    let dst = format!("docker://{}/private/app:1", registry.addr);
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            "--dest-creds",
            &creds,
            "--dest-cert-dir",
            certs.to_str().unwrap(),
            &format!("oci:{}:1", layout.display()),
            &dst,
        ],
    );
    Some((registry, "private/app:1".to_owned()))
}

#[test]
fn pull_gets_credentials_from_the_registrys_cred_helper() {
    let test = "pull_gets_credentials_from_the_registrys_cred_helper";
    let brig = Brig::new();
    let Some((registry, repo)) = registry_with_image(&brig, test) else {
        return;
    };
    let helper_dir = brig.path("helper");
    let bin = install_helper(&helper_dir);
    let stored =
        serde_json::json!({"ServerURL": registry.addr, "Username": USER, "Secret": PASSWORD});
    std::fs::write(helper_dir.join("store.json"), stored.to_string()).unwrap();
    // Docker's config.json (DOCKER_CONFIG is the test's docker-config dir).
    std::fs::create_dir_all(brig.path("docker-config")).unwrap();
    let config =
        serde_json::json!({"auths": {}, "credHelpers": {registry.addr.clone(): "brigtest"}});
    std::fs::write(brig.path("docker-config/config.json"), config.to_string()).unwrap();

    let certs = registry.cert_dir();
    let name = format!("{}/{repo}", registry.addr);
    let r = run_with_helper(
        &brig,
        &bin,
        &["pull", "-q", "--cert-dir", certs.to_str().unwrap(), &name],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{name}\n"));
    let calls = std::fs::read_to_string(helper_dir.join("calls")).unwrap();
    assert!(
        calls.lines().any(|l| l == format!("get {}", registry.addr)),
        "the helper was asked for the registry: {calls}"
    );

    // Without the helper on PATH the error names the helper and the file.
    let r = brig.run(&["pull", "--cert-dir", certs.to_str().unwrap(), &name]);
    assert_eq!(r.code, common::ENGINE_ERROR, "{}", r.stderr);
    assert!(
        r.stderr.contains("docker-credential-brigtest") && r.stderr.contains("config.json"),
        "{}",
        r.stderr
    );
}

#[test]
fn login_and_logout_use_the_creds_store_helper() {
    let test = "login_and_logout_use_the_creds_store_helper";
    let brig = Brig::new();
    let Some((registry, repo)) = registry_with_image(&brig, test) else {
        return;
    };
    let helper_dir = brig.path("helper");
    let bin = install_helper(&helper_dir);
    // brig's own auth file (REGISTRY_AUTH_FILE) names the store.
    std::fs::write(brig.path("auth.json"), r#"{"credsStore": "brigtest"}"#).unwrap();
    let certs = registry.cert_dir();
    let certs = certs.to_str().unwrap();
    let name = format!("{}/{repo}", registry.addr);

    let login = login_args(USER, certs, &registry.addr);
    let r = run_with_helper(&brig, &bin, &login, Some(&format!("{PASSWORD}\n")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(helper_dir.join("store.json")).unwrap()).unwrap();
    assert_eq!(stored["ServerURL"], registry.addr.as_str());
    assert_eq!(stored["Username"], USER);
    assert_eq!(stored["Secret"], PASSWORD);
    let auth = std::fs::read_to_string(brig.path("auth.json")).unwrap();
    assert!(!auth.contains(PASSWORD), "no password in the file: {auth}");

    let r = run_with_helper(
        &brig,
        &bin,
        &["pull", "-q", "--cert-dir", certs, &name],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = run_with_helper(&brig, &bin, &["logout", &registry.addr], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!("Removed login credentials for {}\n", registry.addr)
    );
    assert!(!helper_dir.join("store.json").exists());
    let r = run_with_helper(&brig, &bin, &["pull", "--cert-dir", certs, &name], None);
    assert_eq!(r.code, common::ENGINE_ERROR, "{}", r.stderr);
    assert!(r.stderr.contains("brig login"), "{}", r.stderr);
}
