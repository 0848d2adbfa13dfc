//! The projector-customer-loyalty component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-projector-customer-loyalty is not written yet");
    std::process::ExitCode::FAILURE
}
