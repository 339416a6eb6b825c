//! A Python index on 127.0.0.1 for tests: wheels made on the spot and
//! PEP 691 / PEP 503 pages listing them.

use std::io::Write;

use forge_python::install::record_hash;
use sha2::{Digest, Sha256};

use super::CONF;
use super::http::{Behavior, Server};

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A wheel of `name` `version` with `files`, RECORD and METADATA.
pub fn wheel(name: &str, version: &str, files: &[(&str, &str)], entry_points: Option<&str>) -> Vec<u8> {
    wheel_requiring(name, version, files, entry_points, &[])
}

/// [`wheel`] whose METADATA lists `requires` as `Requires-Dist`.
pub fn wheel_requiring(
    name: &str,
    version: &str,
    files: &[(&str, &str)],
    entry_points: Option<&str>,
    requires: &[&str],
) -> Vec<u8> {
    let requires: String = requires.iter().map(|r| format!("Requires-Dist: {r}\n")).collect();
    wheel_with_metadata(name, version, files, entry_points, &requires)
}

/// [`wheel`] whose METADATA has the header lines `headers` too.
pub fn wheel_with_metadata(
    name: &str,
    version: &str,
    files: &[(&str, &str)],
    entry_points: Option<&str>,
    headers: &str,
) -> Vec<u8> {
    let info = format!("{name}-{version}.dist-info");
    let requires = headers;
    let mut members: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect();
    members.push((
        format!("{info}/METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires}").into_bytes(),
    ));
    members.push((
        format!("{info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec(),
    ));
    if let Some(ep) = entry_points {
        members.push((format!("{info}/entry_points.txt"), ep.as_bytes().to_vec()));
    }
    let mut record = String::new();
    for (path, bytes) in &members {
        record.push_str(&format!("{path},{},{}\n", record_hash(bytes), bytes.len()));
    }
    record.push_str(&format!("{info}/RECORD,,\n"));
    members.push((format!("{info}/RECORD"), record.into_bytes()));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, bytes) in members {
        let mode = if path.contains(".data/scripts/") { 0o755 } else { 0o644 };
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(mode)
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file(path, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// An index on `server` serving `files` (file name → bytes, yanked) as
/// PEP 691 JSON for `json` projects and PEP 503 HTML for the others.
pub fn publish(server: &Server, project: &str, files: &[(&str, &[u8], bool)], json: bool) {
    let mut entries = Vec::new();
    let mut links = String::new();
    for (name, bytes, yanked) in files {
        server.serve(&format!("/files/{name}"), bytes);
        entries.push(serde_json::json!({
            "filename": name, "url": format!("../../files/{name}"),
            "hashes": {"sha256": sha256(bytes)}, "yanked": yanked,
        }));
        let yank = if *yanked { " data-yanked=\"\"" } else { "" };
        links.push_str(&format!(
            "<a href=\"../../files/{name}#sha256={}\"{yank}>{name}</a>\n",
            sha256(bytes)
        ));
    }
    let path = format!("/simple/{project}/");
    if json {
        let body = serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": entries}).to_string();
        server.route(
            &path,
            Behavior::ServeTyped(body.into_bytes(), "application/vnd.pypi.simple.v1+json".into()),
        );
    } else {
        server.route(
            &path,
            Behavior::ServeTyped(
                format!("<html><body>\n{links}</body></html>").into_bytes(),
                "text/html".into(),
            ),
        );
    }
}

pub fn conf(server: &Server) -> String {
    format!("{CONF}aliases:\n  pypi: {}/\n", server.base)
}

pub fn pypi_element(name: &str, version: &str, extra: &str) -> String {
    format!("kind: pip\nsources:\n- kind: pypi\n  url: pypi:simple/\n  name: {name}\n  version: '{version}'\n{extra}")
}
