//! `brig pull`, `push`, `login` and `logout` against Debian's
//! docker-registry on 127.0.0.1 (plain HTTP, and TLS with basic auth),
//! with images put there and read back by skopeo.

mod common;

use brig_testkit::registry::{Kind, PASSWORD, Registry, USER};
use common::{Brig, have_image_tools, login_args, tool, umoci_image};
use serde_json::Value;

/// Copies a two-layer umoci image into the registry as `repo:tag` with skopeo.
fn push_with_skopeo(brig: &Brig, registry: &Registry, repo_tag: &str, extra: &[&str]) {
    let layout = brig.path("layout");
    if !layout.exists() {
        umoci_image(
            brig.dir.path(),
            &layout,
            "1",
            &["from the registry", "top layer"],
        );
    }
    let mut args = vec!["copy", "-q", "--dest-tls-verify=false"];
    args.extend_from_slice(extra);
    let src = format!("oci:{}:1", layout.display());
    let dst = format!("docker://{}/{repo_tag}", registry.addr);
    args.extend([src.as_str(), dst.as_str()]);
    tool("skopeo", &args);
}

fn lower_dirs(brig: &Brig, image: &str) -> Vec<std::path::PathBuf> {
    let doc: Value = serde_json::from_str(&brig.ok(&["image", "inspect", image])).unwrap();
    doc[0]["GraphDriver"]["Data"]["LowerDir"]
        .as_str()
        .unwrap()
        .split(':')
        .map(Into::into)
        .collect()
}

#[test]
fn pull_unpacks_the_image_and_says_when_it_is_up_to_date() {
    let test = "pull_unpacks_the_image_and_says_when_it_is_up_to_date";
    if !have_image_tools(test) {
        return;
    }
    let Some(registry) = Registry::start(Kind::Plain, test) else {
        return;
    };
    let brig = Brig::new();
    push_with_skopeo(&brig, &registry, "team/app:1", &[]);
    let name = format!("{}/team/app:1", registry.addr);
    let r = brig.run(&["pull", "--tls-verify=false", &name]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{name}\n"));
    assert!(r.stderr.contains("Digest: sha256:"), "{}", r.stderr);
    assert!(r.stderr.contains("Downloaded newer image"), "{}", r.stderr);
    assert!(!r.stderr.contains("WARNING"), "a pinned tag: {}", r.stderr);
    let dirs = lower_dirs(&brig, &name);
    assert_eq!(dirs.len(), 2);
    assert_eq!(
        std::fs::read_to_string(dirs[1].join("hello.txt")).unwrap(),
        "from the registry"
    );
    assert_eq!(
        std::fs::read_to_string(dirs[0].join("layer1.txt")).unwrap(),
        "top layer"
    );

    let r = brig.run(&["pull", "--tls-verify=false", &name]);
    assert!(r.stderr.contains("Image is up to date"), "{}", r.stderr);

    // By digest: the same image, pinned; -q prints only the reference.
    let digest = brig.ok(&["images", "--format", "{{.Digest}}", "--digests"]);
    let digest = digest.trim();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let pinned = format!("{}/team/app@{digest}", registry.addr);
    let r = brig.run(&["pull", "-q", "--tls-verify=false", &pinned]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{pinned}\n"));
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_eq!(brig.image_ids().len(), 1);
}

#[test]
fn pull_warns_when_the_reference_means_latest() {
    let test = "pull_warns_when_the_reference_means_latest";
    if !have_image_tools(test) {
        return;
    }
    let Some(registry) = Registry::start(Kind::Plain, test) else {
        return;
    };
    let brig = Brig::new();
    push_with_skopeo(&brig, &registry, "team/app:latest", &[]);
    for name in [
        format!("{}/team/app", registry.addr),
        format!("{}/team/app:latest", registry.addr),
    ] {
        let r = brig.run(&["pull", "-q", "--tls-verify=false", &name]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains("WARNING") && r.stderr.contains("latest"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn pull_from_plain_http_without_tls_verify_false_fails_with_a_hint() {
    let test = "pull_from_plain_http_without_tls_verify_false_fails_with_a_hint";
    let Some(registry) = Registry::start(Kind::Plain, test) else {
        return;
    };
    let brig = Brig::new();
    brig.fails(
        &["pull", &format!("{}/team/app:1", registry.addr)],
        &["--tls-verify=false"],
    );
    brig.assert_empty("pull over TLS from a plain registry");
}

#[test]
fn push_uploads_what_skopeo_then_reads_and_skips_blobs_already_there() {
    let test = "push_uploads_what_skopeo_then_reads_and_skips_blobs_already_there";
    if !have_image_tools(test) {
        return;
    }
    let Some(registry) = Registry::start(Kind::Plain, test) else {
        return;
    };
    let brig = Brig::new();
    let layout = brig.path("layout");
    umoci_image(
        brig.dir.path(),
        &layout,
        "1",
        &["pushed by brig", "layer two"],
    );
    brig.ok(&["load", "-i", layout.to_str().unwrap()]);
    let id = brig.image_ids()[0].clone();
    brig.fails(&["push", "--tls-verify=false", &id], &["DESTINATION"]);
    let dest = format!("{}/pushed/app:2", registry.addr);
    let out = brig.ok(&["push", "--tls-verify=false", &id, &dest]);
    assert!(out.starts_with("2: digest: sha256:"), "{out}");
    assert!(out.contains("3 uploaded"), "config and two layers: {out}");
    let inspect: Value = serde_json::from_str(&tool(
        "skopeo",
        &["inspect", "--tls-verify=false", &format!("docker://{dest}")],
    ))
    .unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
    assert!(
        inspect["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "FOO=bar")
    );
    let out = brig.ok(&["push", "-q", "--tls-verify=false", &id, &dest]);
    let digest = out.trim();
    assert!(digest.starts_with("sha256:"), "{out}");
    assert_eq!(inspect["Digest"], digest);
    let out = brig.ok(&["push", "--tls-verify=false", &id, &dest]);
    assert!(out.contains("0 uploaded, 3 already there"), "{out}");
}

#[test]
fn login_stores_credentials_that_pull_uses_and_logout_removes_them() {
    let test = "login_stores_credentials_that_pull_uses_and_logout_removes_them";
    if !have_image_tools(test) {
        return;
    }
    let Some(registry) = Registry::start(Kind::TlsBasic, test) else {
        return;
    };
    let brig = Brig::new();
    let certs = registry.cert_dir();
    let certs = certs.to_str().unwrap();
    let creds = format!("{USER}:{PASSWORD}");
    push_with_skopeo(
        &brig,
        &registry,
        "private/app:1",
        &["--dest-creds", &creds, "--dest-cert-dir", certs],
    );
    let name = format!("{}/private/app:1", registry.addr);
    brig.fails(&["pull", "--cert-dir", certs, &name], &["brig login"]);

    let bad = brig.run_with_stdin(&login_args(USER, certs, &registry.addr), b"wrong\n");
    assert_eq!(bad.code, common::ENGINE_ERROR, "{}", bad.stderr);
    assert!(
        !brig.path("auth.json").exists(),
        "a failed login stores nothing"
    );

    let r = brig.run_with_stdin(
        &login_args(USER, certs, &registry.addr),
        format!("{PASSWORD}\n").as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "Login Succeeded\n");
    let auth: Value =
        serde_json::from_slice(&std::fs::read(brig.path("auth.json")).unwrap()).unwrap();
    assert!(auth["auths"][&registry.addr]["auth"].is_string(), "{auth}");

    let r = brig.run(&["pull", "-q", "--cert-dir", certs, &name]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{name}\n"));

    assert_eq!(
        brig.ok(&["logout", &registry.addr]),
        format!("Removed login credentials for {}\n", registry.addr)
    );
    assert_eq!(
        brig.ok(&["logout", &registry.addr]),
        format!("Not logged in to {}\n", registry.addr)
    );
}
