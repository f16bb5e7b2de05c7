//! Pushing large blobs in chunks (PATCH with Content-Range, then PUT), an
//! upload cut off mid-chunk recovered (docker-registry drops such an upload:
//! the push starts a new one), a download cut off resumed with `Range`,
//! and the
//! monolithic fallback for registries that refuse chunks, through a proxy
//! in front of Debian's docker-registry.

mod common;

use brig_image::{NoProgress, Reference, RegistryOptions};
use brig_testkit::registry::{Fault, Kind, Proxy, Registry};
use common::*;

fn options(chunk: u64) -> RegistryOptions {
    RegistryOptions {
        tls_verify: false,
        auth_files: vec![],
        push_chunk_size: chunk,
        ..RegistryOptions::default()
    }
}

/// A store holding `local/big:1`: a 1 MiB layer of random bytes (its gzip
/// blob is as large) and a small one.
fn store_with_big_image() -> (TempStore, brig_image::ImageRecord) {
    let t = temp_store();
    let noise: Vec<u8> = std::iter::repeat_with(|| fastrand::u8(..))
        .take(1 << 20)
        .collect();
    let m = put_image(
        t.store.content(),
        &[tar_of(&[("noise", &noise)]), tar_of(&[("top", b"top")])],
        "chunks",
    );
    let img = t
        .store
        .commit_image(&m, None, &[Reference::parse("local/big:1").unwrap()])
        .unwrap();
    (t, img)
}

fn pull_back(reg: &Registry, repo: &str) -> brig_image::Digest {
    let target = Reference::parse(&format!("{}/{repo}:1", reg.addr)).unwrap();
    temp_store()
        .store
        .pull(&target, &options(0), &NoProgress)
        .unwrap()
        .id
}

#[test]
fn large_blobs_are_pushed_in_chunks() {
    let Some(reg) = Registry::start(Kind::Plain, "large_blobs_are_pushed_in_chunks") else {
        return;
    };
    let proxy = Proxy::start(&reg.addr, Fault::None);
    let (t, img) = store_with_big_image();
    let target = Reference::parse(&format!("{}/chunks/big:1", proxy.addr)).unwrap();
    let report = t
        .store
        .push(&img, &target, &options(256 << 10), &NoProgress)
        .unwrap();
    assert_eq!(report.uploaded.len(), 3, "{report:?}");
    // The 1 MiB blob in 256 KiB chunks: at least four PATCH requests; the
    // small blobs go in one PUT each.
    assert!(
        proxy.count("PATCH") >= 4,
        "PATCHes: {}",
        proxy.count("PATCH")
    );
    assert_eq!(pull_back(&reg, "chunks/big"), img.id);
}

#[test]
fn registries_refusing_chunks_get_the_blob_in_one_request() {
    let Some(reg) = Registry::start(
        Kind::Plain,
        "registries_refusing_chunks_get_the_blob_in_one_request",
    ) else {
        return;
    };
    let proxy = Proxy::start(&reg.addr, Fault::Refuse("PATCH".into()));
    let (t, img) = store_with_big_image();
    let target = Reference::parse(&format!("{}/mono/big:1", proxy.addr)).unwrap();
    t.store
        .push(&img, &target, &options(256 << 10), &NoProgress)
        .unwrap();
    assert_eq!(proxy.count("PATCH"), 1, "one refused chunk, then no more");
    assert_eq!(pull_back(&reg, "mono/big"), img.id);
}

#[test]
fn a_cut_chunk_upload_is_recovered() {
    let Some(reg) = Registry::start(Kind::Plain, "a_cut_chunk_upload_is_recovered") else {
        return;
    };
    // The first chunk is cut after 100 KiB of its 256 KiB.
    let proxy = Proxy::start(&reg.addr, Fault::CutOnce("PATCH".into(), 100 << 10));
    let (t, img) = store_with_big_image();
    let target = Reference::parse(&format!("{}/cut/big:1", proxy.addr)).unwrap();
    let opts = RegistryOptions {
        retry_delay: std::time::Duration::from_millis(10),
        ..options(256 << 10)
    };
    let report = t.store.push(&img, &target, &opts, &NoProgress).unwrap();
    assert_eq!(report.uploaded.len(), 3, "{report:?}");
    assert!(
        proxy.count("PATCH") >= 5,
        "PATCHes: {}",
        proxy.count("PATCH")
    );
    assert_eq!(pull_back(&reg, "cut/big"), img.id);
}

#[test]
fn a_download_cut_off_resumes_with_a_range_request() {
    let Some(reg) = Registry::start(
        Kind::Plain,
        "a_download_cut_off_resumes_with_a_range_request",
    ) else {
        return;
    };
    let (t, img) = store_with_big_image();
    let direct = Reference::parse(&format!("{}/resume/big:1", reg.addr)).unwrap();
    t.store
        .push(&img, &direct, &options(0), &NoProgress)
        .unwrap();
    let big = t.store.layers(&img).unwrap().remove(0).blob_digest;
    // The answer to the big blob's GET stops after its header and ~300 KiB.
    let proxy = Proxy::start(&reg.addr, Fault::CutAnswerOnce(big.to_string(), 300 << 10));
    let through = Reference::parse(&format!("{}/resume/big:1", proxy.addr)).unwrap();
    let opts = RegistryOptions {
        retry_delay: std::time::Duration::from_millis(10),
        ..options(0)
    };
    let pulled = temp_store()
        .store
        .pull(&through, &opts, &NoProgress)
        .unwrap();
    assert_eq!(pulled.id, img.id);
    assert_eq!(
        proxy.count("GET Range"),
        1,
        "the rest was asked for with Range"
    );
}
