//! The saga-cart-inventory component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-saga-cart-inventory is not written yet");
    std::process::ExitCode::FAILURE
}
