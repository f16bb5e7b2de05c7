//! Times `brig pull` + unpack from a registry whose TLS is not verified
//! (e.g. a local docker-registry on 127.0.0.1) into a new store:
//! `cargo run --release -p brig-snapshot --example pull_speed -- 127.0.0.1:5000/img:tag NEW_ROOT [--no-sync]`

use brig_image::{Reference, RegistryOptions};
use brig_snapshot::bench::{time_pull_and_unpack, time_streamed_pull};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: pull_speed REFERENCE NEW_ROOT [--no-sync]");
        std::process::exit(2);
    }
    let durable = !args.iter().any(|a| a == "--no-sync");
    let reference = match Reference::parse(&args[1]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let opts = RegistryOptions {
        tls_verify: false,
        ..RegistryOptions::default()
    };
    let streamed_root = format!("{}-streamed", args[2]);
    match time_streamed_pull(&reference, &opts, streamed_root.as_ref(), durable) {
        Ok(t) => println!(
            "streamed: {} layers ({} unpacked while downloading), {:.1} MB of blobs: {:.3} s",
            t.layers,
            t.streamed,
            t.blob_bytes as f64 / 1e6,
            t.seconds
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    match time_pull_and_unpack(&reference, &opts, args[2].as_ref(), durable) {
        Ok(t) => println!(
            "sequential: {} layers, {:.1} MB of blobs: pull {:.3} s + unpack {:.3} s = {:.3} s",
            t.layers,
            t.blob_bytes as f64 / 1e6,
            t.load_seconds,
            t.unpack_seconds,
            t.total_seconds()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
