//! A server process a test starts on 127.0.0.1 and stops by pid.

use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

/// Accepts connections on `listener` until `stop`, each handled by
/// `handle` on a thread of its own (for the servers the tests run in
/// process).
pub fn accept_until(
    listener: TcpListener,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: impl Fn(TcpStream) + Send + Sync + 'static,
) {
    listener.set_nonblocking(true).expect("nonblocking");
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let handle = handle.clone();
                    std::thread::spawn(move || handle(stream));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
}

/// A port on 127.0.0.1 that nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running server; killed (and waited for) when stopped or dropped.
pub struct ServerProcess {
    child: Option<Child>,
}

impl ServerProcess {
    /// Waits until `child` listens on `port` (at most `timeout`); `what`
    /// names it if it does not.
    pub fn listening(child: Child, port: u16, what: &str, timeout: Duration) -> ServerProcess {
        let server = ServerProcess { child: Some(child) };
        let deadline = Instant::now() + timeout;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{what} did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `child`, which listens on no port (a worker), to stop the same way.
    pub fn running(child: Child) -> ServerProcess {
        ServerProcess { child: Some(child) }
    }

    /// Stops it (by pid) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
