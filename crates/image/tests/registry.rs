//! Pull and push against Debian's docker-registry on 127.0.0.1: plain HTTP,
//! TLS with a custom CA, basic auth from an auth file, bearer tokens,
//! blob skipping, cross-repository mounts, pinned digests and resumed
//! downloads.

mod common;

use brig_image::registry::{AuthFile, Credentials, login, logout};
use brig_image::{Error, NoProgress, Provider, Reference, RegistryOptions};
use brig_testkit::registry::{Kind, PASSWORD, Registry, USER};
use common::*;

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

/// Options for a registry whose TLS is not verified (plain HTTP works),
/// and no auth file of the machine's.
fn insecure() -> RegistryOptions {
    RegistryOptions {
        tls_verify: false,
        auth_files: vec![],
        ..RegistryOptions::default()
    }
}

/// A store holding one two-layer image named `local/app:1`.
fn store_with_image() -> (TempStore, brig_image::ImageRecord) {
    let t = temp_store();
    let m = put_image(
        t.store.content(),
        &[
            tar_of(&[("base", &vec![1u8; 300_000])]),
            tar_of(&[("top", b"top")]),
        ],
        "pushed",
    );
    let img = t.store.commit_image(&m, None, &[r("local/app:1")]).unwrap();
    (t, img)
}

#[test]
fn push_then_pull_skips_and_mounts_blobs_and_pins_digests() {
    let Some(reg) = Registry::start(
        Kind::Plain,
        "push_then_pull_skips_and_mounts_blobs_and_pins_digests",
    ) else {
        return;
    };
    let (t, img) = store_with_image();
    let target = r(&format!("{}/test/app:1", reg.addr));
    let rep = t
        .store
        .push(&img, &target, &insecure(), &NoProgress)
        .unwrap();
    assert_eq!(
        (rep.uploaded.len(), rep.skipped.len(), rep.mounted.len()),
        (3, 0, 0),
        "{rep:?}"
    );
    assert_eq!(rep.manifest_digest.as_ref(), Some(&img.manifest_digest));

    let again = t
        .store
        .push(&img, &target, &insecure(), &NoProgress)
        .unwrap();
    assert_eq!(
        (again.uploaded.len(), again.skipped.len()),
        (0, 3),
        "{again:?}"
    );

    let other = r(&format!("{}/elsewhere/copy:2", reg.addr));
    let img = t.store.resolve("local/app:1").unwrap();
    let mounted = t
        .store
        .push(&img, &other, &insecure(), &NoProgress)
        .unwrap();
    assert_eq!(
        (mounted.uploaded.len(), mounted.mounted.len()),
        (0, 3),
        "cross-repo mount: {mounted:?}"
    );

    let fresh = temp_store();
    let pulled = fresh.store.pull(&target, &insecure(), &NoProgress).unwrap();
    assert_eq!(pulled.id, img.id);
    assert_eq!(pulled.manifest_digest, img.manifest_digest);
    let pinned = format!("{}/test/app@{}", reg.addr, img.manifest_digest);
    assert!(pulled.names.contains(&pinned), "{:?}", pulled.names);
    assert_eq!(fresh.store.resolve(&target.to_string()).unwrap().id, img.id);
    assert_eq!(fresh.store.layers(&pulled).unwrap().len(), 2);

    let by_digest = temp_store()
        .store
        .pull(&r(&pinned), &insecure(), &NoProgress)
        .unwrap();
    assert_eq!(by_digest.names, vec![pinned.clone()]);
    let wrong = format!(
        "{}/test/app@{}",
        reg.addr,
        brig_image::digest::sha256_of(b"other")
    );
    let err = temp_store()
        .store
        .pull(&r(&wrong), &insecure(), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::Registry { status: 404, .. }), "{err}");
    let err = temp_store()
        .store
        .pull(
            &r(&format!("{}/test/app:nope", reg.addr)),
            &insecure(),
            &NoProgress,
        )
        .unwrap_err();
    assert!(err.to_string().contains("MANIFEST_UNKNOWN"), "{err}");
}

#[test]
fn images_pushed_by_skopeo_pull_and_brig_pushes_read_by_skopeo() {
    let test = "images_pushed_by_skopeo_pull_and_brig_pushes_read_by_skopeo";
    if !have_tool("umoci", test) || !have_tool("skopeo", test) {
        return;
    }
    let Some(reg) = Registry::start(Kind::Plain, test) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let layout = umoci_layout(work.path());
    run(
        "skopeo",
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            &format!("oci:{}:latest", layout.display()),
            &format!("docker://{}/skopeo/bb:1", reg.addr),
        ],
    );
    let t = temp_store();
    let img = t
        .store
        .pull(
            &r(&format!("{}/skopeo/bb:1", reg.addr)),
            &insecure(),
            &NoProgress,
        )
        .unwrap();
    let back = r(&format!("{}/brig/bb:2", reg.addr));
    t.store.push(&img, &back, &insecure(), &NoProgress).unwrap();
    let out = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{}/brig/bb:2", reg.addr),
        ],
    );
    let manifest: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(manifest["config"]["digest"], img.id.to_string());
    let copy = work.path().join("copy");
    run(
        "skopeo",
        &[
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            &format!("docker://{}/brig/bb:2", reg.addr),
            &format!("oci:{}:x", copy.display()),
        ],
    );
}

#[test]
fn tls_registries_need_their_ca_unless_verification_is_off() {
    let Some(reg) = Registry::start(
        Kind::Tls,
        "tls_registries_need_their_ca_unless_verification_is_off",
    ) else {
        return;
    };
    let (t, img) = store_with_image();
    let target = r(&format!("{}/tls/app:1", reg.addr));
    let strict = RegistryOptions {
        auth_files: vec![],
        ..RegistryOptions::default()
    };
    let err = t
        .store
        .push(&img, &target, &strict, &NoProgress)
        .unwrap_err();
    assert!(
        matches!(err, Error::RegistryUnreachable { .. }),
        "unknown CA refused: {err}"
    );
    let with_ca = RegistryOptions {
        ca_files: vec![reg.ca()],
        retries: 1,
        ..strict.clone()
    };
    t.store.push(&img, &target, &with_ca, &NoProgress).unwrap();
    assert_eq!(
        temp_store()
            .store
            .pull(&target, &with_ca, &NoProgress)
            .unwrap()
            .id,
        img.id
    );
    assert_eq!(
        temp_store()
            .store
            .pull(&target, &insecure(), &NoProgress)
            .unwrap()
            .id,
        img.id
    );
    let bad_ca = RegistryOptions {
        ca_files: vec![reg.dir.path().join("config.yml")],
        ..strict
    };
    let err = temp_store()
        .store
        .pull(&target, &bad_ca, &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::Certificate { .. }), "{err}");
}

#[test]
fn basic_auth_comes_from_login_and_the_auth_file() {
    let Some(reg) = Registry::start(
        Kind::TlsBasic,
        "basic_auth_comes_from_login_and_the_auth_file",
    ) else {
        return;
    };
    let (t, img) = store_with_image();
    let target = r(&format!("{}/private/app:1", reg.addr));
    let auth = AuthFile::new(t.dir.path().join("auth.json"));
    let opts = RegistryOptions {
        ca_files: vec![reg.ca()],
        auth_files: vec![auth.clone()],
        ..RegistryOptions::default()
    };
    let err = t.store.push(&img, &target, &opts, &NoProgress).unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { .. }) && err.to_string().contains("brig login"),
        "{err}"
    );

    let wrong = Credentials {
        username: USER.into(),
        password: "wrong".into(),
    };
    assert!(matches!(
        login(&reg.addr, &wrong, &opts, &auth),
        Err(Error::Unauthorized { .. })
    ));
    assert_eq!(
        auth.get(&reg.addr).unwrap(),
        None,
        "failed logins store nothing"
    );
    let right = Credentials {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    login(&reg.addr, &right, &opts, &auth).unwrap();

    t.store.push(&img, &target, &opts, &NoProgress).unwrap();
    let pulled = temp_store()
        .store
        .pull(&target, &opts, &NoProgress)
        .unwrap();
    assert_eq!(pulled.id, img.id);
    assert!(logout(&reg.addr, &auth).unwrap());
    let err = temp_store()
        .store
        .pull(&target, &opts, &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
}

#[test]
fn bearer_tokens_come_from_the_challenge_realm() {
    let Some(reg) = Registry::start(Kind::Token, "bearer_tokens_come_from_the_challenge_realm")
    else {
        return;
    };
    let (t, img) = store_with_image();
    let target = r(&format!("{}/tok/app:1", reg.addr));
    let anonymous = insecure();
    let err = t
        .store
        .push(&img, &target, &anonymous, &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    let opts = RegistryOptions {
        credentials: Some(Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        }),
        ..insecure()
    };
    t.store
        .push(&img, &target, &opts, &NoProgress)
        .unwrap_or_else(|e| panic!("{e}\n{}", reg.log()));
    let other = r(&format!("{}/tok/other:1", reg.addr));
    let img = t.store.resolve("local/app:1").unwrap();
    let rep = t.store.push(&img, &other, &opts, &NoProgress).unwrap();
    assert_eq!(
        rep.mounted.len(),
        3,
        "mount with a two-repository token scope: {rep:?}"
    );
    assert_eq!(
        temp_store()
            .store
            .pull(&target, &opts, &NoProgress)
            .unwrap()
            .id,
        img.id
    );
}

#[test]
fn downloads_resume_from_partial_data() {
    let Some(reg) = Registry::start(Kind::Plain, "downloads_resume_from_partial_data") else {
        return;
    };
    let (t, img) = store_with_image();
    let target = r(&format!("{}/resume/app:1", reg.addr));
    t.store
        .push(&img, &target, &insecure(), &NoProgress)
        .unwrap();
    let layer = t.store.layers(&img).unwrap().remove(0);
    let blob = t
        .store
        .content()
        .read_blob(&layer.blob_digest, 1 << 30)
        .unwrap();
    let partial_path = |root: &std::path::Path| {
        root.join("ingest")
            .join(format!("sha256-{}", layer.blob_digest.digest()))
    };

    // The first half arrived before an interruption: only the rest is fetched.
    let fresh = temp_store();
    std::fs::write(partial_path(fresh.dir.path()), &blob[..blob.len() / 2]).unwrap();
    assert_eq!(
        fresh
            .store
            .pull(&target, &insecure(), &NoProgress)
            .unwrap()
            .id,
        img.id
    );
    assert_eq!(
        fresh
            .store
            .content()
            .read_blob(&layer.blob_digest, 1 << 30)
            .unwrap(),
        blob
    );

    // Proof that the partial data was used: a corrupt partial makes the
    // result mismatch its digest (refused, and removed), and the next pull
    // starts over and succeeds.
    let fresh = temp_store();
    std::fs::write(partial_path(fresh.dir.path()), vec![0u8; blob.len() / 2]).unwrap();
    let err = fresh
        .store
        .pull(&target, &insecure(), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(!partial_path(fresh.dir.path()).exists());
    assert_eq!(
        fresh
            .store
            .pull(&target, &insecure(), &NoProgress)
            .unwrap()
            .id,
        img.id
    );
}

/// A server that answers 503 to the first `failures` requests, then 200.
fn flaky_server(failures: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            // A TLS handshake (the client tries HTTPS first): not HTTP, hang up.
            if reader
                .fill_buf()
                .map(|b| b.first() == Some(&0x16))
                .unwrap_or(true)
            {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
                line.clear();
            }
            let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let status = if n < failures {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (addr, seen)
}

#[test]
fn unavailable_registries_are_retried_with_backoff() {
    let (addr, seen) = flaky_server(2);
    let opts = RegistryOptions {
        retry_delay: std::time::Duration::from_millis(10),
        ..insecure()
    };
    let start = std::time::Instant::now();
    brig_image::registry::RegistryClient::new(&addr, &opts)
        .unwrap()
        .ping()
        .unwrap();
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(30),
        "backoff: 10 ms, then 20 ms"
    );

    let (addr, _) = flaky_server(10);
    let once = RegistryOptions { retries: 1, ..opts };
    let err = brig_image::registry::RegistryClient::new(&addr, &once)
        .unwrap()
        .ping()
        .unwrap_err();
    assert!(matches!(err, Error::Registry { status: 503, .. }), "{err}");
}
