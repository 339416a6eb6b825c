//! A server process a test starts on 127.0.0.1 and stops by pid.

use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

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
