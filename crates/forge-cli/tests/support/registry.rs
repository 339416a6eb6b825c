//! A container registry on 127.0.0.1 for tests: the OCI distribution
//! API's reads (manifests by tag or digest, blobs by digest) behind an
//! anonymous bearer token, as Docker Hub serves them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "test-token-1";

#[derive(Default)]
struct State {
    /// sha256 hex → bytes (blobs and manifests alike).
    blobs: HashMap<String, Vec<u8>>,
    /// sha256 hex → media type, for manifests.
    media_types: HashMap<String, String>,
    /// (image, tag) → manifest sha256.
    tags: HashMap<(String, String), String>,
    /// Digests whose Docker-Content-Digest header lies.
    lying: Vec<String>,
    /// Requests by path, without the query.
    hits: HashMap<String, usize>,
}

/// A running registry; it stops when dropped.
pub struct Registry {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    super::sha256_hex(bytes)
}

impl Registry {
    /// Starts an empty registry.
    pub fn start() -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let base = format!("http://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (state, base) = (state.clone(), base.clone());
            super::server::accept_until(listener, stop.clone(), move |stream| handle(stream, &state, &base));
        }
        Registry { base, state, stop }
    }

    /// Stores a blob; its sha256.
    pub fn blob(&self, bytes: &[u8]) -> String {
        let sha = sha256_hex(bytes);
        self.state.lock().unwrap().blobs.insert(sha.clone(), bytes.to_vec());
        sha
    }

    /// Stores a manifest of `media_type` (under `tag` of `image` too, if
    /// given); its sha256.
    pub fn manifest(&self, image: &str, tag: Option<&str>, media_type: &str, body: &str) -> String {
        let sha = self.blob(body.as_bytes());
        let mut state = self.state.lock().unwrap();
        state.media_types.insert(sha.clone(), media_type.to_string());
        if let Some(tag) = tag {
            state.tags.insert((image.to_string(), tag.to_string()), sha.clone());
        }
        sha
    }

    /// An image of gzipped tar `layers` (a Docker schema 2 manifest);
    /// the manifest's sha256.
    pub fn image(&self, image: &str, tag: Option<&str>, layers: &[Vec<u8>]) -> String {
        let config = self.blob(b"{\"architecture\":\"amd64\",\"os\":\"linux\"}");
        let layers: Vec<String> = layers
            .iter()
            .map(|layer| {
                format!(
                    "{{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":{},\"digest\":\"sha256:{}\"}}",
                    layer.len(),
                    self.blob(layer)
                )
            })
            .collect();
        let body = format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":40,\"digest\":\"sha256:{config}\"}},\"layers\":[{}]}}",
            layers.join(",")
        );
        self.manifest(
            image,
            tag,
            "application/vnd.docker.distribution.manifest.v2+json",
            &body,
        )
    }

    /// A multi-platform index of `(architecture, os, manifest sha256)`.
    pub fn index(&self, image: &str, tag: Option<&str>, entries: &[(&str, &str, &str)]) -> String {
        let entries: Vec<String> = entries
            .iter()
            .map(|(arch, os, sha)| {
                format!(
                    "{{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":1,\"digest\":\"sha256:{sha}\",\"platform\":{{\"architecture\":\"{arch}\",\"os\":\"{os}\"}}}}"
                )
            })
            .collect();
        let body = format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":[{}]}}",
            entries.join(",")
        );
        self.manifest(
            image,
            tag,
            "application/vnd.docker.distribution.manifest.list.v2+json",
            &body,
        )
    }

    /// From now on serves other bytes for blob `sha`.
    pub fn corrupt(&self, sha: &str) {
        let mut state = self.state.lock().unwrap();
        let bytes = state.blobs.get_mut(sha).expect("a stored blob");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
    }

    /// From now on says manifest `sha` has another digest.
    pub fn lie_about(&self, sha: &str) {
        self.state.lock().unwrap().lying.push(sha.to_string());
    }

    /// How many requests `path` (no query) got.
    pub fn hits(&self, path: &str) -> usize {
        *self.state.lock().unwrap().hits.get(path).unwrap_or(&0)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(String, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn handle(mut stream: TcpStream, state: &Mutex<State>, base: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorized = false;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                    && value.trim() == format!("Bearer {TOKEN}")
                {
                    authorized = true;
                }
            }
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap_or("/").to_string();
    let mut state = state.lock().unwrap();
    *state.hits.entry(path.clone()).or_default() += 1;
    if path == "/token" {
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
        if !query.contains("service=test-registry") {
            respond(&mut stream, "400 Bad Request", &[], b"{}");
            return;
        }
        respond(
            &mut stream,
            "200 OK",
            &[("Content-Type".into(), "application/json".into())],
            format!("{{\"token\":\"{TOKEN}\"}}").as_bytes(),
        );
        return;
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        respond(&mut stream, "404 Not Found", &[], b"");
        return;
    };
    let (image, kind, reference) = match rest.rsplit_once("/manifests/") {
        Some((image, reference)) => (image.to_string(), "manifests", reference.to_string()),
        None => match rest.rsplit_once("/blobs/") {
            Some((image, reference)) => (image.to_string(), "blobs", reference.to_string()),
            None => {
                respond(&mut stream, "404 Not Found", &[], b"");
                return;
            }
        },
    };
    if !authorized {
        let challenge =
            format!("Bearer realm=\"{base}/token\",service=\"test-registry\",scope=\"repository:{image}:pull\"");
        respond(
            &mut stream,
            "401 Unauthorized",
            &[("WWW-Authenticate".into(), challenge)],
            b"{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
        );
        return;
    }
    let sha = match reference.strip_prefix("sha256:") {
        Some(sha) => Some(sha.to_string()),
        None if kind == "manifests" => state.tags.get(&(image.clone(), reference.clone())).cloned(),
        None => None,
    };
    let Some(body) = sha.as_ref().and_then(|sha| state.blobs.get(sha)).cloned() else {
        respond(&mut stream, "404 Not Found", &[], b"");
        return;
    };
    let sha = sha.unwrap();
    let mut headers = Vec::new();
    if kind == "manifests" {
        let claimed = if state.lying.contains(&sha) {
            format!("sha256:{}", "0".repeat(64))
        } else {
            format!("sha256:{sha}")
        };
        headers.push(("Docker-Content-Digest".to_string(), claimed));
        if let Some(media_type) = state.media_types.get(&sha) {
            headers.push(("Content-Type".to_string(), media_type.clone()));
        }
    }
    respond(&mut stream, "200 OK", &headers, &body);
}
