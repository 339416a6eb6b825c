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

/// Reads a .deb from its start up to the member named `wanted*`; its name
/// and size, the reader at its first byte. `before`: a member that must
/// not come first (then the wanted one is missing).
fn seek_member<R: Read>(deb: &mut R, wanted: &str, before: Option<&str>) -> Result<(String, u64), String> {
    let mut magic = [0u8; 8];
    deb.read_exact(&mut magic).map_err(|_| "not a .deb (no ar header)")?;
    if &magic != b"!<arch>\n" {
        return Err("not a .deb (no ar header)".into());
    }
    loop {
        let mut header = [0u8; 60];
        deb.read_exact(&mut header)
            .map_err(|_| format!("the .deb has no {wanted} member"))?;
        let name = String::from_utf8_lossy(&header[..16])
            .trim()
            .trim_end_matches('/')
            .to_string();
        let size: u64 = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .map_err(|_| format!("bad ar member size for '{name}'"))?;
        if name.starts_with(wanted) {
            return Ok((name, size));
        }
        if before.is_some_and(|b| name.starts_with(b)) {
            return Err(format!("the .deb has no {wanted} member before its data"));
        }
        let skip = size + size % 2;
        if std::io::copy(&mut (&mut *deb).take(skip), &mut std::io::sink()).map_err(|e| e.to_string())? != skip {
            return Err("truncated .deb".into());
        }
    }
}

/// The `data.tar.*` member of a .deb as a stream: its name and a reader
/// of exactly its bytes, the archive read once from its start.
pub fn data_reader<R: Read>(mut deb: R) -> Result<(String, std::io::Take<R>), String> {
    let (name, size) = seek_member(&mut deb, "data.tar", None)?;
    Ok((name, deb.take(size)))
}

/// The name and bytes of the `control.tar.*` member of a .deb, read from
/// the start of the file only (it comes before the data), at most
/// `limit` bytes of it.
pub fn control_member(mut deb: impl Read, limit: u64) -> Result<(String, Vec<u8>), String> {
    let (name, size) = seek_member(&mut deb, "control.tar", Some("data.tar"))?;
    if size > limit {
        return Err(format!("its {name} is {size} bytes, more than {limit}"));
    }
    let mut body = Vec::new();
    deb.take(size).read_to_end(&mut body).map_err(|e| e.to_string())?;
    if body.len() as u64 != size {
        return Err("truncated .deb".into());
    }
    Ok((name, body))
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
        assert_eq!(
            control_member(&deb[..], 100).unwrap(),
            ("control.tar.xz".into(), b"ctl".to_vec())
        );
        assert!(control_member(&deb[..], 2).is_err());
        assert!(control_member(&b"junk"[..], 100).is_err());
    }
}
