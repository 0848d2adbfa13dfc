//! The saga-order-inventory component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-saga-order-inventory is not written yet");
    std::process::ExitCode::FAILURE
}
