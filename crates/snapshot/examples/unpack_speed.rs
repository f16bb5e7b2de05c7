//! Times brig's unpack of one gzip layer blob into a new directory:
//! `cargo run --release -p brig-snapshot --example unpack_speed -- BLOB.tar.gz DEST`
//! Compare with `time tar -xzf BLOB.tar.gz -C OTHER_DEST` on the same file system.

use brig_image::Compression;
use brig_snapshot::ApplyOptions;
use brig_snapshot::bench::time_unpack;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, blob, dest] = args.as_slice() else {
        eprintln!("usage: unpack_speed BLOB.tar.gz DEST");
        std::process::exit(2);
    };
    match time_unpack(
        blob.as_ref(),
        Compression::Gzip,
        dest.as_ref(),
        &ApplyOptions::default(),
    ) {
        Ok(t) => println!(
            "{} entries, {:.1} MB of file content in {:.3} s: {:.1} MB/s (blob {:.1} MB, diff id {})",
            t.entries,
            t.content_bytes as f64 / 1e6,
            t.seconds,
            t.content_mb_per_s(),
            t.blob_bytes as f64 / 1e6,
            t.diff_id
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
