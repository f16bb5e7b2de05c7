//! The blob store refuses content that does not match its digest or size,
//! never shows partial blobs, and resumes interrupted writes.

use std::io::Write;

use brig_image::digest::{Hasher, parse_digest, sha256_of};
use brig_image::{ContentStore, DigestAlgorithm, Error, Ingester, Provider};

fn store() -> (tempfile::TempDir, ContentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn committed_blob_is_readable_under_its_digest_path() {
    let (dir, store) = store();
    let digest = sha256_of(b"hello");
    let mut w = store.begin(&digest, Some(5)).unwrap().unwrap();
    w.write_all(b"hello").unwrap();
    assert_eq!(
        store.blob_size(&digest).unwrap(),
        None,
        "not visible before commit"
    );
    assert_eq!(w.commit().unwrap(), digest);
    assert_eq!(store.read_blob(&digest, 100).unwrap(), b"hello");
    assert!(
        dir.path()
            .join("blobs/sha256")
            .join(digest.digest())
            .is_file()
    );
    // A second writer is not needed: the store says it has the blob.
    assert!(store.begin(&digest, Some(5)).unwrap().is_none());
    assert_eq!(
        std::fs::read_dir(dir.path().join("ingest"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn wrong_content_is_refused_naming_both_digests() {
    let (dir, store) = store();
    let claimed = sha256_of(b"good");
    let mut w = store.begin(&claimed, None).unwrap().unwrap();
    w.write_all(b"evil").unwrap();
    let err = w.commit().unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DigestMismatch { .. }));
    assert!(msg.contains(claimed.as_ref()), "{msg}");
    assert!(msg.contains(sha256_of(b"evil").as_ref()), "{msg}");
    assert_eq!(store.blob_size(&claimed).unwrap(), None);
    assert_eq!(
        std::fs::read_dir(dir.path().join("ingest"))
            .unwrap()
            .count(),
        0,
        "partial data removed"
    );
}

#[test]
fn wrong_size_is_refused_even_with_the_right_bytes() {
    let (_dir, store) = store();
    let digest = sha256_of(b"four");
    let mut w = store.begin(&digest, Some(5)).unwrap().unwrap();
    w.write_all(b"four").unwrap();
    let err = w.commit().unwrap_err();
    assert!(
        matches!(
            err,
            Error::SizeMismatch {
                expected: 5,
                actual: 4,
                ..
            }
        ),
        "{err}"
    );

    // Writing past the declared size fails at once, not at commit.
    let mut w = store.begin(&digest, Some(2)).unwrap().unwrap();
    let err = w.write_all(b"four").unwrap_err();
    assert!(err.to_string().contains("longer than the 2 bytes"), "{err}");
}

#[test]
fn sha512_blobs_are_verified_and_stored_under_sha512() {
    let (dir, store) = store();
    let mut h = Hasher::new(&DigestAlgorithm::Sha512).unwrap();
    h.update(b"data");
    let digest = h.finish();
    let got = store.put_bytes(b"data", Some(&digest)).unwrap();
    assert_eq!(got, digest);
    assert!(
        dir.path()
            .join("blobs/sha512")
            .join(digest.digest())
            .is_file()
    );
    let wrong = parse_digest(&format!("sha512:{}", "0".repeat(128))).unwrap();
    assert!(matches!(
        store.put_bytes(b"data", Some(&wrong)),
        Err(Error::DigestMismatch { .. })
    ));
}

#[test]
fn unknown_digest_is_learnt_while_writing() {
    let (_dir, store) = store();
    let mut w = store.begin_unknown().unwrap();
    w.write_all(b"abc").unwrap();
    let d = w.commit().unwrap();
    assert_eq!(d, sha256_of(b"abc"));
    assert_eq!(store.list_blobs().unwrap(), vec![d]);
}

#[test]
fn interrupted_resumable_write_continues_where_it_stopped() {
    let (_dir, store) = store();
    let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let digest = sha256_of(&data);
    {
        let mut w = store
            .resume(&digest, Some(data.len() as u64))
            .unwrap()
            .unwrap();
        assert_eq!(w.offset(), 0);
        w.write_all(&data[..150_000]).unwrap();
        // Dropped without commit: an interrupted download.
    }
    assert_eq!(store.blob_size(&digest).unwrap(), None);
    let mut w = store
        .resume(&digest, Some(data.len() as u64))
        .unwrap()
        .unwrap();
    assert_eq!(w.offset(), 150_000);
    w.write_all(&data[150_000..]).unwrap();
    assert_eq!(w.commit().unwrap(), digest);
    assert_eq!(store.read_blob(&digest, 1 << 20).unwrap(), data);
}

#[test]
fn a_non_resumable_writer_starts_over_and_cleans_up() {
    let (dir, store) = store();
    let digest = sha256_of(b"abcdef");
    {
        let mut w = store.resume(&digest, None).unwrap().unwrap();
        w.write_all(b"abc").unwrap();
    }
    let mut w = store.begin(&digest, None).unwrap().unwrap();
    assert_eq!(w.offset(), 0);
    w.write_all(b"abcdef").unwrap();
    w.commit().unwrap();
    {
        let mut w = store.begin_unknown().unwrap();
        w.write_all(b"dropped").unwrap();
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("ingest"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn concurrent_writers_of_one_blob_produce_it_once() {
    let (_dir, store) = store();
    let data = vec![7u8; 3 << 20];
    let digest = sha256_of(&data);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                if let Some(mut w) = store.begin(&digest, Some(data.len() as u64)).unwrap() {
                    for chunk in data.chunks(4096) {
                        w.write_all(chunk).unwrap();
                    }
                    w.commit().unwrap();
                }
            });
        }
    });
    assert_eq!(store.read_blob(&digest, 4 << 20).unwrap(), data);
    assert_eq!(store.list_blobs().unwrap(), vec![digest]);
}

#[test]
fn oversized_reads_of_small_blobs_are_refused() {
    let (_dir, store) = store();
    let d = store.put_bytes(&[1u8; 1000], None).unwrap();
    assert!(matches!(
        store.read_blob(&d, 10),
        Err(Error::TooLarge { .. })
    ));
    let missing = sha256_of(b"missing");
    assert!(matches!(
        store.open_blob(&missing),
        Err(Error::BlobNotFound { .. })
    ));
}
