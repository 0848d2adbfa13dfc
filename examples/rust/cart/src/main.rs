//! The cart component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-cart is not written yet");
    std::process::ExitCode::FAILURE
}
