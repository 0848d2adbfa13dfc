//! The saga-order-customer component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-saga-order-customer is not written yet");
    std::process::ExitCode::FAILURE
}
