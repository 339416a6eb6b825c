//! Simple repository pages: PEP 691 (JSON) and PEP 503 (HTML).

/// The `Accept` header asking for JSON first, HTML second.
pub const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// Adds `url` to the `--extra-index-url`s of a requirements file unless it
/// is there: each index is asked once, in the order first named.
pub fn add_extra_index(indexes: &mut Vec<String>, url: &str) {
    if !indexes.iter().any(|known| known == url) {
        indexes.push(url.to_string());
    }
}

/// One file a project page lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexFile {
    /// The file name.
    pub filename: String,
    /// Where to download it (absolute).
    pub url: String,
    /// Its sha256, as the index publishes it.
    pub sha256: Option<String>,
    /// Whether the file is yanked.
    pub yanked: bool,
    /// Why, when the index says (PEP 592).
    pub yanked_reason: Option<String>,
    /// `Requires-Python`, if given.
    pub requires_python: Option<String>,
    /// When it was uploaded (seconds since 1970, UTC), when the index says
    /// (PEP 700 `upload-time`, JSON pages only).
    pub upload_time: Option<i64>,
}

/// Seconds since 1970 of an RFC 3339 UTC time as PEP 700 writes it
/// (`2026-11-30T12:00:00.123456Z`).
pub fn parse_upload_time(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z').or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (year, month, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.split('.').next()?;
    let mut t = time.split(':').map(|p| p.parse::<i64>());
    let (hour, minute, second) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Resolves `href` against the page at `base`.
pub fn join_url(base: &str, href: &str) -> String {
    if href.contains("://") {
        return href.to_string();
    }
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    if let Some(path) = href.strip_prefix('/') {
        let host_end = base[scheme_end..]
            .find('/')
            .map(|i| scheme_end + i)
            .unwrap_or(base.len());
        return format!("{}/{path}", &base[..host_end]);
    }
    let dir_end = base.rfind('/').map(|i| i + 1).unwrap_or(base.len()).max(scheme_end);
    let mut parts: Vec<&str> = base[scheme_end..dir_end].trim_end_matches('/').split('/').collect();
    let host = parts.remove(0);
    for part in href.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let path = parts.join("/");
    format!("{}{host}/{path}", &base[..scheme_end])
}

fn split_fragment(url: &str) -> (String, Option<String>) {
    match url.split_once('#') {
        Some((url, fragment)) => {
            let sha = fragment.strip_prefix("sha256=").map(|s| s.to_ascii_lowercase());
            (url.to_string(), sha)
        }
        None => (url.to_string(), None),
    }
}

/// Parses a PEP 691 JSON project page.
pub fn parse_json(body: &str, page_url: &str) -> Result<Vec<IndexFile>, String> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not a PEP 691 page: {e}"))?;
    let files = value
        .get("files")
        .and_then(|f| f.as_array())
        .ok_or("the page has no 'files' list")?;
    Ok(files
        .iter()
        .filter_map(|file| {
            let filename = file.get("filename")?.as_str()?.to_string();
            let (url, fragment_sha) = split_fragment(&join_url(page_url, file.get("url")?.as_str()?));
            let sha256 = file
                .get("hashes")
                .and_then(|h| h.get("sha256"))
                .and_then(|s| s.as_str())
                .map(|s| s.to_ascii_lowercase())
                .or(fragment_sha);
            let (yanked, yanked_reason) = match file.get("yanked") {
                Some(serde_json::Value::Bool(b)) => (*b, None),
                Some(serde_json::Value::String(why)) => (true, Some(why.clone()).filter(|w| !w.is_empty())),
                _ => (false, None),
            };
            let requires_python = file.get("requires-python").and_then(|r| r.as_str()).map(str::to_string);
            let upload_time = file
                .get("upload-time")
                .and_then(|t| t.as_str())
                .and_then(parse_upload_time);
            Some(IndexFile {
                filename,
                url,
                sha256,
                yanked,
                yanked_reason,
                requires_python,
                upload_time,
            })
        })
        .collect())
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut search = 0;
    while let Some(found) = lower[search..].find(name) {
        let at = search + found;
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = &tag[at + name.len()..];
        let rest_trim = rest.trim_start();
        if before_ok && rest_trim.starts_with('=') {
            let value = rest_trim[1..].trim_start();
            let (quote, body) = match value.chars().next() {
                Some(q @ ('"' | '\'')) => (Some(q), &value[1..]),
                _ => (None, value),
            };
            let end = match quote {
                Some(q) => body.find(q).unwrap_or(body.len()),
                None => body.find(|c: char| c.is_whitespace() || c == '>').unwrap_or(body.len()),
            };
            return Some(unescape(&body[..end]));
        }
        if before_ok
            && !rest_trim.starts_with('=')
            && (rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/'))
        {
            // A bare attribute (`data-yanked`).
            return Some(String::new());
        }
        search = at + name.len();
    }
    None
}

/// Parses a PEP 503 HTML project page.
pub fn parse_html(body: &str, page_url: &str) -> Vec<IndexFile> {
    let mut files = Vec::new();
    let lower = body.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<a") {
        let start = at + start;
        let Some(tag_end) = body[start..].find('>').map(|i| start + i) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</a>").map(|i| tag_end + i) else {
            break;
        };
        let tag = &body[start + 2..tag_end];
        let text = unescape(body[tag_end + 1..close].trim());
        at = close + 4;
        let Some(href) = attribute(tag, "href") else { continue };
        let (url, sha256) = split_fragment(&join_url(page_url, &href));
        files.push(IndexFile {
            filename: text,
            url,
            sha256,
            yanked: attribute(tag, "data-yanked").is_some(),
            yanked_reason: attribute(tag, "data-yanked").filter(|w| !w.is_empty()),
            requires_python: attribute(tag, "data-requires-python"),
            upload_time: None,
        });
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_urls() {
        assert_eq!(
            join_url("https://pypi.org/simple/requests/", "../../packages/r.whl"),
            "https://pypi.org/packages/r.whl"
        );
        assert_eq!(
            join_url("http://127.0.0.1:8000/simple/a/", "/files/a.whl"),
            "http://127.0.0.1:8000/files/a.whl"
        );
        assert_eq!(join_url("http://h/simple/a/", "a-1.whl"), "http://h/simple/a/a-1.whl");
        assert_eq!(
            join_url("http://h/simple/a/", "https://files/x.whl"),
            "https://files/x.whl"
        );
    }

    #[test]
    fn parses_pep_691() {
        let body = r#"{"meta": {"api-version": "1.1"}, "name": "a", "files": [
            {"filename": "a-1.0-py3-none-any.whl", "url": "../../files/a-1.0-py3-none-any.whl", "hashes": {"sha256": "AB"}, "yanked": false},
            {"filename": "a-0.9.tar.gz", "url": "https://x/a-0.9.tar.gz", "hashes": {}, "yanked": "broken", "requires-python": ">=3.8"}]}"#;
        let files = parse_json(body, "http://h/simple/a/").unwrap();
        assert_eq!(files[0].url, "http://h/files/a-1.0-py3-none-any.whl");
        assert_eq!(files[0].sha256.as_deref(), Some("ab"));
        assert!(!files[0].yanked && files[1].yanked);
        assert_eq!(files[1].yanked_reason.as_deref(), Some("broken"));
        assert_eq!(files[1].requires_python.as_deref(), Some(">=3.8"));
    }

    #[test]
    fn parses_pep_503() {
        let body = r#"<!DOCTYPE html><html><body>
            <a href="../../files/a-1.0-py3-none-any.whl#sha256=CD" data-requires-python="&gt;=3.8">a-1.0-py3-none-any.whl</a><br/>
            <a data-yanked="" href="/files/a-0.9.tar.gz#sha256=ef">a-0.9.tar.gz</a>
            <A HREF='a-0.8.zip'>a-0.8.zip</A>
            </body></html>"#;
        let files = parse_html(body, "http://h/simple/a/");
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].sha256.as_deref(), Some("cd"));
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(parse_upload_time("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(parse_upload_time("2026-12-02T04:50:00.123456Z"), Some(1_796_187_000));
        assert_eq!(parse_upload_time("2026-13-02T04:50:00Z"), None);
        assert!(!files[0].yanked && files[1].yanked);
        assert_eq!(files[1].url, "http://h/files/a-0.9.tar.gz");
        assert_eq!(files[2].url, "http://h/simple/a/a-0.8.zip");
        assert_eq!(files[2].sha256, None);
    }
}
