//! A small HTTP/1.1 server on 127.0.0.1 for tests: it serves files the
//! test puts in it and can be told to misbehave per path.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does for a path.
#[derive(Clone)]
pub enum Behavior {
    /// 200 with these bytes.
    Serve(Vec<u8>),
    /// 200 with these bytes and this content type.
    ServeTyped(Vec<u8>, String),
    /// This status and no body.
    Status(u16),
    /// Headers promising the full length, half the body, then close.
    Truncate(Vec<u8>),
    /// Headers, then nothing for this long.
    Stall(Duration),
    /// Fail with 503 this many times, then serve.
    FlakyThenServe(usize, Vec<u8>),
}

struct State {
    routes: HashMap<String, Behavior>,
    hits: HashMap<String, usize>,
}

/// A running server; it stops when dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
}

impl Server {
    /// Starts a server with no routes.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State {
            routes: HashMap::new(),
            hits: HashMap::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        {
            let (state, requests) = (state.clone(), requests.clone());
            super::server::accept_until(listener, stop.clone(), move |stream| handle(stream, &state, &requests));
        }
        Server {
            base: format!("http://127.0.0.1:{port}"),
            state,
            stop,
            requests,
        }
    }

    /// Sets what `path` (starting with `/`) does.
    pub fn route(&self, path: &str, behavior: Behavior) {
        self.state.lock().unwrap().routes.insert(path.to_string(), behavior);
    }

    /// Serves `bytes` at `path`.
    pub fn serve(&self, path: &str, bytes: &[u8]) {
        self.route(path, Behavior::Serve(bytes.to_vec()));
    }

    /// How many requests `path` got.
    pub fn hits(&self, path: &str) -> usize {
        *self.state.lock().unwrap().hits.get(path).unwrap_or(&0)
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn handle(mut stream: TcpStream, state: &Mutex<State>, requests: &AtomicUsize) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    requests.fetch_add(1, Ordering::Relaxed);
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let behavior = {
        let mut state = state.lock().unwrap();
        *state.hits.entry(path.clone()).or_default() += 1;
        let hits = state.hits[&path];
        match state.routes.get(&path).cloned() {
            Some(Behavior::FlakyThenServe(failures, bytes)) if hits > failures => Some(Behavior::Serve(bytes)),
            Some(Behavior::FlakyThenServe(_, _)) => Some(Behavior::Status(503)),
            other => other,
        }
    };
    let respond_typed = |stream: &mut TcpStream, body: &[u8], kind: &str| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let _ = stream.flush();
    };
    let respond = |stream: &mut TcpStream, status: u16, body: &[u8], length: usize| {
        let reason = match status {
            200 => "OK",
            404 => "Not Found",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Status",
        };
        let head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let _ = stream.flush();
    };
    match behavior {
        None => respond(&mut stream, 404, b"", 0),
        Some(Behavior::Serve(bytes)) => respond(&mut stream, 200, &bytes, bytes.len()),
        Some(Behavior::ServeTyped(bytes, kind)) => respond_typed(&mut stream, &bytes, &kind),
        Some(Behavior::Status(code)) => respond(&mut stream, code, b"", 0),
        Some(Behavior::Truncate(bytes)) => respond(&mut stream, 200, &bytes[..bytes.len() / 2], bytes.len()),
        Some(Behavior::Stall(duration)) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.flush();
            std::thread::sleep(duration);
        }
        Some(Behavior::FlakyThenServe(..)) => unreachable!("resolved above"),
    }
}
