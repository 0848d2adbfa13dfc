//! The projector-order-accounting component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-projector-order-accounting is not written yet");
    std::process::ExitCode::FAILURE
}
