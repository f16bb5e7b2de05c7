//! Links brig-monitor as a position-dependent executable: its pointers
//! are fixed at link time, so no page of it is dirtied by relocations at
//! start and every monitor shares all its code and read-only data.

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
