//! The pm-order-status component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-pm-order-status is not written yet");
    std::process::ExitCode::FAILURE
}
