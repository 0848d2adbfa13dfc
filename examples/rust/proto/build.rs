//! Compiles every `examples/proto/examples/*.proto` with `protox` (no system `protoc`) into one
//! module tree, and writes their descriptor set for gRPC reflection and the feature runner.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let dir = proto_root.join("examples");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = path.file_name().ok_or("proto without a file name")?;
            files.push(format!("examples/{}", name.to_string_lossy()));
        }
    }
    files.sort();
    let fds = protox::compile(&files, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("examples_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    prost_build::Config::new()
        // `prost::Name` impls with standard type URLs (type.googleapis.com/examples.cart.X).
        .enable_type_names()
        .type_name_domain(["."], "type.googleapis.com")
        .include_file("examples.rs")
        .compile_fds(fds)?;
    Ok(())
}
