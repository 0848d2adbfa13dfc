//! Writes every target's built-in seeds to `<dir>/<target>/seed-<n>` (default dir:
//! `fuzz/corpus`), to start a corpus: `cargo run -p angzarr-fuzz-targets --example write_seeds`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus"));
    for (target, seeds) in angzarr_fuzz_targets::seeds() {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir)?;
        for (n, seed) in seeds.iter().enumerate() {
            std::fs::write(target_dir.join(format!("seed-{n}")), seed)?;
        }
        println!("{}: {} seeds", target_dir.display(), seeds.len());
    }
    Ok(())
}
