//! The `forge` command.

mod artifacts;
mod build;
mod checkout;
mod cli;
mod exit;
mod fetch;
mod format;
mod import;
mod junctions;
mod progress;
mod remotes;
mod session;
mod show;
mod track;

use std::process::ExitCode;

use clap::Parser;

// Loading a project makes many small allocations on every core; glibc's
// allocator spends more time on them than the work they hold.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code as u8)
        }
    }
}
