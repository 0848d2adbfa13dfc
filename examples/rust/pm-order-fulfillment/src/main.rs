//! The pm-order-fulfillment component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-pm-order-fulfillment is not written yet");
    std::process::ExitCode::FAILURE
}
