//! Times `brig load` + unpack of an image into a new store:
//! `cargo run --release -p brig-snapshot --example load_speed -- SOURCE NEW_ROOT [--no-sync]`

use brig_snapshot::bench::time_load_and_unpack;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: load_speed SOURCE NEW_ROOT [--no-sync]");
        std::process::exit(2);
    }
    let durable = !args.iter().any(|a| a == "--no-sync");
    match time_load_and_unpack(args[1].as_ref(), args[2].as_ref(), durable) {
        Ok(t) => println!(
            "{} layers, {:.1} MB of blobs: load {:.3} s + unpack {:.3} s = {:.3} s",
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
