//! The saga-order-fulfillment component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-saga-order-fulfillment is not written yet");
    std::process::ExitCode::FAILURE
}
