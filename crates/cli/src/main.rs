//! `angzarr`: parse the arguments, run, print the error and map it to an exit code.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = angzarr_cli::Cli::parse();
    let mut stdout = std::io::stdout();
    match angzarr_cli::run(cli, &mut stdout).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("angzarr: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
