//! The members of a `.deb`: an `ar` archive holding `debian-binary`,
//! `control.tar.*` and `data.tar.*`.

use std::io::Read;

/// The name and bytes of the `data.tar.*` member of a .deb.
pub fn data_member(deb: &[u8]) -> Result<(String, Vec<u8>), String> {
    let body = deb.strip_prefix(b"!<arch>\n").ok_or("not a .deb (no ar header)")?;
    let mut at = 0;
    while at + 60 <= body.len() {
        let header = &body[at..at + 60];
        let name = String::from_utf8_lossy(&header[..16])
            .trim()
            .trim_end_matches('/')
            .to_string();
        let size: usize = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .map_err(|_| format!("bad ar member size for '{name}'"))?;
        let start = at + 60;
        let end = start
            .checked_add(size)
            .filter(|e| *e <= body.len())
            .ok_or("truncated .deb")?;
        if name.starts_with("data.tar") {
            return Ok((name, body[start..end].to_vec()));
        }
        at = end + (size % 2);
    }
    Err("the .deb has no data.tar member".into())
}

/// Reads all of `reader`.
pub fn read_all(mut reader: impl Read) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name,
            0,
            0,
            0,
            "100644",
            data.len()
        )
        .into_bytes();
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn finds_the_data_member() {
        let mut deb = b"!<arch>\n".to_vec();
        deb.extend(member("debian-binary", b"2.0\n"));
        deb.extend(member("control.tar.xz", b"ctl"));
        deb.extend(member("data.tar.zst", b"data!"));
        assert_eq!(data_member(&deb).unwrap(), ("data.tar.zst".into(), b"data!".to_vec()));
        assert!(data_member(b"junk").is_err());
    }
}
