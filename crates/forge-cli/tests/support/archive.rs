//! Archives for tests: gzipped tars and the `ar` members of a .deb.

/// A gzipped tar of `entries` (path, bytes, mode).
pub fn tar_gz(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, data, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// One member of an `ar` archive (a .deb's container).
pub fn ar_member(name: &str, data: &[u8]) -> Vec<u8> {
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

/// A .deb of a gzipped control tar and a data member (`data.tar.gz`,
/// `data.tar` …).
#[allow(dead_code)]
pub fn deb(control_tar_gz: &[u8], data_name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    out.extend(ar_member("debian-binary", b"2.0\n"));
    out.extend(ar_member("control.tar.gz", control_tar_gz));
    out.extend(ar_member(data_name, data));
    out
}
