//! What an interrupt does while actions run on a remote executor: they
//! would go on running there after forge is gone, so on SIGINT or SIGTERM
//! they are cancelled first (`CancelOperation`), then forge exits as the
//! signal would have made it (130 or 143). Nothing is installed unless an
//! executor is in use: local builds are stopped by the signal as always.

use std::io::Read;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// The pipe's writing end, for the handler (-1 before installation).
static SIGNALLED: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = SIGNALLED.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; a one-byte buffer.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

/// Runs `before_exit` on a thread of its own at the first SIGINT or
/// SIGTERM, then ends the process with 128 + the signal's number.
pub fn on_interrupt(before_exit: impl FnOnce(i32) + Send + 'static) {
    let mut fds = [0; 2];
    // SAFETY: a valid array of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    SIGNALLED.store(fds[1], Ordering::Relaxed);
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a handler that only writes to a pipe; an empty mask.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    // SAFETY: the reading end was just made and is owned here alone.
    let mut reader = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        if reader.read_exact(&mut byte).is_ok() {
            let signal = i32::from(byte[0]);
            // Whatever happens there (a closed stderr, say), forge ends.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| before_exit(signal)));
            std::process::exit(128 + signal);
        }
    });
}
