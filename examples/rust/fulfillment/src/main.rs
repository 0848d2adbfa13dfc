//! The fulfillment component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-fulfillment is not written yet");
    std::process::ExitCode::FAILURE
}
