//! `brig load` of an OCI layout directory: layers unpacked while the blobs
//! are copied end up under their chain IDs, an interrupted earlier load's
//! leftovers are removed, and a layer whose content does not match its diff
//! ID fails the load and leaves nothing.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use brig_image::{Digest, LoadOptions, NoProgress, Reference, SaveFormat, SaveItem};
use brig_snapshot::{ApplyOptions, LayerStore, LoadSource, load_and_unpack};
use common::*;

/// An OCI layout at `<dir>/layout` with `layers` (and their diff IDs, the
/// true ones unless given), saved by brig from a scratch store; returns it
/// with the layer blob digests.
fn layout(dir: &Path, layers: &[Vec<u8>], diff_ids: Option<Vec<String>>) -> (PathBuf, Vec<Digest>) {
    let src = root();
    let img = image(&src.images, "example.com/app:1", layers, diff_ids);
    let blobs = src
        .images
        .layers(&img)
        .unwrap()
        .into_iter()
        .map(|l| l.blob_digest)
        .collect();
    let dest = dir.join("layout");
    let names = img
        .names
        .iter()
        .map(|n| Reference::parse(n).unwrap())
        .collect();
    let item = SaveItem { image: img, names };
    src.images.save(&[item], SaveFormat::OciDir, &dest).unwrap();
    (dest, blobs)
}

fn load(
    r: &Root,
    store: &LayerStore,
    src: &Path,
) -> brig_snapshot::Result<Vec<brig_image::LoadedImage>> {
    load_and_unpack(
        &r.images,
        store,
        &[],
        LoadSource::Path(src),
        &LoadOptions::default(),
        &NoProgress,
    )
}

fn temps(root: &Path) -> Vec<String> {
    fs::read_dir(root.join("layers/.tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn layout_layers_unpack_under_their_chain_ids_and_leftovers_go() {
    let work = tempfile::tempdir().unwrap();
    let layers = vec![
        Layer::new().file("etc/os", b"base").build(),
        Layer::new().file("app", b"app").build(),
    ];
    let (src, blobs) = layout(work.path(), &layers, None);
    let r = root();
    let store = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    // What a load killed while unpacking the first blob left behind.
    let stale = r
        .dir
        .path()
        .join(format!("layers/.tmp/blob-{}-killed", blobs[0].digest()));
    fs::create_dir_all(stale.join("half")).unwrap();

    let loaded = load(&r, &store, &src).unwrap();
    let chains: Vec<_> = r
        .images
        .layers(&loaded[0].record)
        .unwrap()
        .into_iter()
        .map(|l| l.chain_id)
        .collect();
    assert_eq!(chains.len(), 2);
    assert_eq!(
        fs::read(store.path(&chains[0]).join("etc/os")).unwrap(),
        b"base"
    );
    assert_eq!(
        fs::read(store.path(&chains[1]).join("app")).unwrap(),
        b"app"
    );
    assert!(
        !store.path(&chains[1]).join("etc").exists(),
        "each layer alone"
    );
    assert!(temps(r.dir.path()).is_empty(), "{:?}", temps(r.dir.path()));

    // Loading it again changes nothing and leaves nothing.
    load(&r, &store, &src).unwrap();
    assert!(temps(r.dir.path()).is_empty(), "{:?}", temps(r.dir.path()));
}

#[test]
fn a_layout_layer_not_matching_its_diff_id_fails_the_load_and_leaves_nothing() {
    let work = tempfile::tempdir().unwrap();
    let layers = vec![Layer::new().file("a", b"a").build()];
    let wrong = vec![format!("sha256:{}", "0".repeat(64))];
    let (src, _) = layout(work.path(), &layers, Some(wrong));
    let r = root();
    let store = LayerStore::open(r.dir.path(), ApplyOptions::default()).unwrap();
    let err = load(&r, &store, &src).unwrap_err();
    assert!(err.to_string().contains("0000000000"), "{err}");
    assert!(
        r.images.images().unwrap().is_empty(),
        "the image is not kept"
    );
    assert!(store.list().unwrap().is_empty());
    assert!(temps(r.dir.path()).is_empty(), "{:?}", temps(r.dir.path()));
}
