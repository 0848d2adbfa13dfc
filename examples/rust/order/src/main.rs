//! The order component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-order is not written yet");
    std::process::ExitCode::FAILURE
}
