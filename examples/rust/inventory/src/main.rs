//! The inventory component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-inventory is not written yet");
    std::process::ExitCode::FAILURE
}
