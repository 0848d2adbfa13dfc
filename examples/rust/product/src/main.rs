//! The product component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-product is not written yet");
    std::process::ExitCode::FAILURE
}
