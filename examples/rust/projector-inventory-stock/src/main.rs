//! The projector-inventory-stock component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-projector-inventory-stock is not written yet");
    std::process::ExitCode::FAILURE
}
