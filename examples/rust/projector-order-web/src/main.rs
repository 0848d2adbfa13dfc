//! The projector-order-web component (being written).

fn main() -> std::process::ExitCode {
    eprintln!("example-projector-order-web is not written yet");
    std::process::ExitCode::FAILURE
}
