//! The `forge` command.

mod artifacts;
mod audit;
mod build;
mod checkout;
mod cli;
mod diff;
mod exit;
mod fetch;
mod format;
mod import;
mod init;
mod interrupt;
mod junctions;
mod lock;
mod output;
mod progress;
mod remotes;
mod sbom;
mod session;
mod show;
mod track;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

// Loading a project makes many small allocations on every core; glibc's
// allocator spends more time on them than the work they hold.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's own setter (linked with the allocator).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc.h: -1 never gives freed memory back.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Memory the process frees is kept for its next allocations until it
/// exits. Given back, it is faulted in and zeroed again when reused: a
/// pull receives hundreds of megabytes in buffers that come and go, and
/// that was half of its time (on virtual machines that return freed pages
/// to their host, more).
fn keep_freed_memory() {
    // SAFETY: a plain setter of the allocator's options, called before any
    // thread is started.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> ExitCode {
    keep_freed_memory();
    quiet_on_closed_stdout();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Messages quote files, archives and servers: nothing in them
            // may drive the terminal.
            eprintln!(
                "{} {}",
                output::tag("error:", output::Tone::Bad),
                exit::printable(&failure.message)
            );
            ExitCode::from(failure.code as u8)
        }
    }
}

/// `forge show | head -1` closes forge's stdout early: `println!` then
/// panics. A closed pipe ends forge quietly, as it ends `cat` (status 141,
/// as if by SIGPIPE); every other panic is reported as before. (SIGPIPE
/// itself stays ignored, so a peer closing a socket never kills a fetch.)
fn quiet_on_closed_stdout() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        report(info);
    }));
}
