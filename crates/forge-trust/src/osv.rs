//! OSV records (ossf/osv-schema 1.x), read leniently: an ecosystem or a
//! range type forge does not know is kept as text and simply never
//! matches, so one new ecosystem in an export does not make the whole
//! snapshot unreadable (the `osv` crate refuses such records).

use std::cmp::Ordering;

use serde_json::Value;

/// The package ecosystems forge pins, with their version orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    /// PyPI: PEP 503 names, PEP 440 versions.
    PyPI,
    /// Debian source packages, dpkg versions; the release number when
    /// the record or the pin names one (`Debian:12`).
    Debian(Option<u32>),
}

impl Ecosystem {
    /// Reads an OSV ecosystem string; `None` for one forge does not pin.
    pub fn parse(text: &str) -> Option<Ecosystem> {
        match text.split_once(':') {
            None if text == "PyPI" => Some(Ecosystem::PyPI),
            None if text == "Debian" => Some(Ecosystem::Debian(None)),
            Some(("Debian", release)) => release.parse().ok().map(|n| Ecosystem::Debian(Some(n))),
            _ => None,
        }
    }

    /// Whether a record's ecosystem applies to a pin's: an unnumbered
    /// Debian record applies to every release.
    pub fn covers(self, pin: Ecosystem) -> bool {
        match (self, pin) {
            (Ecosystem::Debian(None), Ecosystem::Debian(_)) => true,
            (Ecosystem::Debian(Some(a)), Ecosystem::Debian(Some(b))) => a == b,
            (a, b) => a == b,
        }
    }

    /// The name as an OSV record spells it.
    pub fn normalize_name(self, name: &str) -> String {
        match self {
            Ecosystem::PyPI => forge_python::names::normalize(name),
            Ecosystem::Debian(_) => name.to_string(),
        }
    }

    /// Compares two versions in the ecosystem's order; `None` when either
    /// does not parse (such a bound is not evaluated).
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Ecosystem::PyPI => {
                let a: pep440_rs::Version = a.trim().parse().ok()?;
                let b: pep440_rs::Version = b.trim().parse().ok()?;
                Some(a.cmp(&b))
            }
            Ecosystem::Debian(_) => Some(forge_debian::version::compare(a, b)),
        }
    }

    /// The Debian release number of a suite name (`bookworm` → 12).
    pub fn debian_release(suite: &str) -> Option<u32> {
        let n = match suite.split(['-', '/']).next()? {
            "buzz" => 1,
            "hamm" => 2,
            "potato" => 2,
            "woody" => 3,
            "sarge" => 3,
            "etch" => 4,
            "lenny" => 5,
            "squeeze" => 6,
            "wheezy" => 7,
            "jessie" => 8,
            "stretch" => 9,
            "buster" => 10,
            "bullseye" => 11,
            "bookworm" => 12,
            "trixie" => 13,
            "forky" => 14,
            "duke" => 15,
            number => return number.parse().ok(),
        };
        Some(n)
    }
}

/// As OSV spells it, the inverse of [`Ecosystem::parse`].
impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ecosystem::PyPI => f.write_str("PyPI"),
            Ecosystem::Debian(Some(n)) => write!(f, "Debian:{n}"),
            Ecosystem::Debian(None) => f.write_str("Debian"),
        }
    }
}

/// One event of a range, in the order written.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `introduced`: affected from this version on (`0`: from the start).
    Introduced(String),
    /// `fixed`: not affected from this version on.
    Fixed(String),
    /// `last_affected`: the last affected version.
    LastAffected(String),
    /// `limit`: nothing at or above this version is in the range.
    Limit(String),
}

/// A range of an `affected` entry.
#[derive(Clone, Debug)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    pub kind: String,
    /// Its events.
    pub events: Vec<Event>,
}

/// One `affected` entry.
#[derive(Clone, Debug)]
pub struct Affected {
    /// The ecosystem as written (`PyPI`, `Debian:12`).
    pub ecosystem: String,
    /// The package name as written.
    pub name: String,
    /// Its ranges.
    pub ranges: Vec<Range>,
    /// Versions listed one by one.
    pub versions: Vec<String>,
    /// Severity given for this package only (CVSS vectors and labels).
    pub severity: Vec<(String, String)>,
}

/// An OSV record.
#[derive(Clone, Debug)]
pub struct Record {
    /// `PYSEC-2023-117`, `GHSA-…`, `MAL-…`, `CVE-…`, `DSA-…`.
    pub id: String,
    /// Other ids of the same vulnerability.
    pub aliases: Vec<String>,
    /// A one-line summary, or the start of the details.
    pub summary: String,
    /// `modified`, as written (RFC 3339).
    pub modified: String,
    /// Whether the record was withdrawn (then it is never matched).
    pub withdrawn: bool,
    /// Record-wide severity: `(type, score)` pairs, plus labels such as
    /// GHSA's `database_specific.severity` as `("label", "HIGH")`.
    pub severity: Vec<(String, String)>,
    /// The packages it affects.
    pub affected: Vec<Affected>,
}

impl Record {
    /// Whether the record reports malicious code rather than a flaw.
    pub fn is_malware(&self) -> bool {
        self.id.starts_with("MAL-") || self.aliases.iter().any(|a| a.starts_with("MAL-"))
    }

    /// Reads one record from its JSON (or YAML turned into JSON) form.
    pub fn from_json(value: &Value) -> Result<Record, String> {
        let object = value.as_object().ok_or("an OSV record is a mapping")?;
        if let Some(version) = object.get("schema_version").and_then(Value::as_str) {
            let major = version.split('.').next().unwrap_or("");
            if major != "1" {
                return Err(format!("schema_version {version} is not OSV 1.x"));
            }
        }
        let id = text(value, "id").ok_or("the record has no 'id'")?.to_string();
        let summary = text(value, "summary")
            .or_else(|| text(value, "details"))
            .map(one_line)
            .unwrap_or_default();
        let mut severity = severities(value.get("severity"));
        if let Some(label) = value.pointer("/database_specific/severity").and_then(Value::as_str) {
            severity.push(("label".into(), label.to_string()));
        }
        let affected = value
            .get("affected")
            .and_then(Value::as_array)
            .map(|list| list.iter().map(affected).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default();
        Ok(Record {
            aliases: strings(value.get("aliases")),
            summary,
            modified: text(value, "modified").unwrap_or_default().to_string(),
            withdrawn: value.get("withdrawn").is_some_and(|w| !w.is_null()),
            severity,
            affected,
            id,
        })
    }
}

impl Record {
    /// The record as OSV JSON again, with what forge reads of it only:
    /// [`Record::from_json`] of it gives the same record (severity labels
    /// are kept as severity entries of type `label`).
    pub fn to_json(&self) -> Value {
        let severity = |list: &[(String, String)]| -> Vec<Value> {
            list.iter()
                .map(|(t, s)| serde_json::json!({"type": t, "score": s}))
                .collect()
        };
        let affected: Vec<Value> = self
            .affected
            .iter()
            .map(|a| {
                serde_json::json!({
                    "package": {"ecosystem": a.ecosystem, "name": a.name},
                    "ranges": a.ranges.iter().map(|r| serde_json::json!({
                        "type": r.kind,
                        "events": r.events.iter().map(|e| match e {
                            Event::Introduced(v) => serde_json::json!({"introduced": v}),
                            Event::Fixed(v) => serde_json::json!({"fixed": v}),
                            Event::LastAffected(v) => serde_json::json!({"last_affected": v}),
                            Event::Limit(v) => serde_json::json!({"limit": v}),
                        }).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                    "versions": a.versions,
                    "severity": severity(&a.severity),
                })
            })
            .collect();
        let mut record = serde_json::json!({
            "id": self.id,
            "aliases": self.aliases,
            "summary": self.summary,
            "modified": self.modified,
            "severity": severity(&self.severity),
            "affected": affected,
        });
        if self.withdrawn {
            record["withdrawn"] = Value::String("yes".into());
        }
        record
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The first line of a text, at most 200 characters.
fn one_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

fn severities(value: Option<&Value>) -> Vec<(String, String)> {
    let Some(list) = value.and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|s| Some((text(s, "type")?.to_string(), text(s, "score")?.to_string())))
        .collect()
}

fn affected(value: &Value) -> Result<Affected, String> {
    let package = value.get("package");
    let field = |key: &str| package.and_then(|p| text(p, key)).unwrap_or_default().to_string();
    let mut ranges = Vec::new();
    for range in value.get("ranges").and_then(Value::as_array).into_iter().flatten() {
        let kind = text(range, "type").ok_or("a range has no 'type'")?.to_string();
        let mut events = Vec::new();
        for event in range.get("events").and_then(Value::as_array).into_iter().flatten() {
            let object = event.as_object().ok_or("a range event is a mapping")?;
            for (key, version) in object {
                let version = match version {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(format!("range event '{key}' is not a version")),
                };
                events.push(match key.as_str() {
                    "introduced" => Event::Introduced(version),
                    "fixed" => Event::Fixed(version),
                    "last_affected" => Event::LastAffected(version),
                    "limit" => Event::Limit(version),
                    _ => continue,
                });
            }
        }
        ranges.push(Range { kind, events });
    }
    let mut severity = severities(value.get("severity"));
    // Debian's OSV records and the PyPA database put labels here.
    for pointer in [
        "/ecosystem_specific/urgency",
        "/ecosystem_specific/severity",
        "/database_specific/severity",
    ] {
        if let Some(label) = value.pointer(pointer).and_then(Value::as_str) {
            severity.push(("label".into(), label.to_string()));
        }
    }
    Ok(Affected {
        ecosystem: field("ecosystem"),
        name: field("name"),
        ranges,
        versions: strings(value.get("versions")),
        severity,
    })
}

impl Affected {
    /// Whether `version` is affected, as the OSV schema's evaluation
    /// says: listed in `versions`, or inside any ECOSYSTEM or SEMVER range
    /// (GIT ranges name commits; their versions are in the list). The
    /// fixed versions of the ranges that hold it come with the answer.
    pub fn affects(&self, ecosystem: Ecosystem, version: &str) -> Option<Vec<String>> {
        let listed = self.versions.iter().any(|v| {
            ecosystem
                .compare(v, version)
                .map_or(v == version, |o| o == Ordering::Equal)
        });
        let mut hit = listed;
        let mut fixed = Vec::new();
        for range in self
            .ranges
            .iter()
            .filter(|r| r.kind == "ECOSYSTEM" || r.kind == "SEMVER")
        {
            let in_range = in_range(ecosystem, &range.events, version);
            hit |= in_range;
            // The fixes are worth naming even for a listed version.
            if in_range || listed {
                for event in &range.events {
                    if let Event::Fixed(v) = event
                        && ecosystem.compare(v, version) != Some(Ordering::Less)
                    {
                        fixed.push(v.clone());
                    }
                }
            }
        }
        hit.then_some(fixed)
    }
}

/// The schema's `IncludedInRanges` and `BeforeLimits`: events sorted by
/// version (`introduced: 0` first), walked in order.
fn in_range(ecosystem: Ecosystem, events: &[Event], version: &str) -> bool {
    let at = |e: &Event| match e {
        Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v.clone(),
    };
    let limits: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Limit(_))).collect();
    if !limits.is_empty()
        && !limits.iter().any(|l| {
            let limit = at(l);
            limit == "*" || ecosystem.compare(version, &limit) == Some(Ordering::Less)
        })
    {
        return false;
    }
    let mut sorted: Vec<&Event> = events.iter().filter(|e| !matches!(e, Event::Limit(_))).collect();
    sorted.sort_by(|a, b| {
        let (a, b) = (at(a), at(b));
        match (a == "0", b == "0") {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => ecosystem.compare(&a, &b).unwrap_or(Ordering::Equal),
        }
    });
    let mut affected = false;
    for event in sorted {
        let order = |bound: &str| ecosystem.compare(version, bound);
        match event {
            Event::Introduced(v) if v == "0" || order(v).is_some_and(|o| o != Ordering::Less) => affected = true,
            Event::Fixed(v) if order(v).is_some_and(|o| o != Ordering::Less) => affected = false,
            Event::LastAffected(v) if order(v) == Some(Ordering::Greater) => affected = false,
            _ => {}
        }
    }
    affected
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Record {
        Record::from_json(&value).unwrap()
    }

    #[test]
    fn ranges_follow_the_ecosystem_order() {
        let r = record(json!({
            "id": "PYSEC-1", "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "lib"},
              "ranges": [{"type": "ECOSYSTEM", "events": [
                {"introduced": "0"}, {"fixed": "1.10"}, {"introduced": "2.0rc1"}, {"last_affected": "2.1"}]}]}]
        }));
        let a = &r.affected[0];
        assert_eq!(a.affects(Ecosystem::PyPI, "1.9"), Some(vec!["1.10".to_string()]));
        // PEP 440, not text: 1.10 is after 1.9 and 1.10.0 is 1.10.
        assert_eq!(a.affects(Ecosystem::PyPI, "1.10.0"), None);
        assert_eq!(a.affects(Ecosystem::PyPI, "1.11"), None);
        assert!(a.affects(Ecosystem::PyPI, "2.0").is_some());
        assert!(a.affects(Ecosystem::PyPI, "2.1").is_some());
        assert_eq!(a.affects(Ecosystem::PyPI, "2.1.1"), None);
    }

    #[test]
    fn a_versions_list_alone_matches_exactly() {
        let r = record(json!({
            "id": "MAL-2026-1", "modified": "2026-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "evil"}, "versions": ["1.0", "1.2"]}]
        }));
        assert!(r.is_malware());
        assert!(r.affected[0].affects(Ecosystem::PyPI, "1.0.0").is_some());
        assert!(r.affected[0].affects(Ecosystem::PyPI, "1.1").is_none());
    }

    #[test]
    fn debian_ranges_use_dpkg_order_and_limits_cap() {
        let r = record(json!({
            "id": "DSA-1", "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u4"}]}]}]
        }));
        let a = &r.affected[0];
        assert!(a.affects(Ecosystem::Debian(Some(12)), "2.36-9+deb12u3").is_some());
        assert!(a.affects(Ecosystem::Debian(Some(12)), "2.36-9~bpo1").is_some());
        assert!(a.affects(Ecosystem::Debian(Some(12)), "2.36-9+deb12u4").is_none());
        assert!(
            Ecosystem::parse("Debian:12")
                .unwrap()
                .covers(Ecosystem::Debian(Some(12)))
        );
        assert!(
            !Ecosystem::parse("Debian:11")
                .unwrap()
                .covers(Ecosystem::Debian(Some(12)))
        );
        assert!(Ecosystem::parse("Debian").unwrap().covers(Ecosystem::Debian(Some(12))));
        assert_eq!(Ecosystem::parse("npm"), None);
        for text in ["PyPI", "Debian", "Debian:12"] {
            assert_eq!(Ecosystem::parse(text).unwrap().to_string(), text);
        }
        let limited = [Event::Introduced("0".into()), Event::Limit("2.0".into())];
        assert!(in_range(Ecosystem::PyPI, &limited, "1.5"));
        assert!(!in_range(Ecosystem::PyPI, &limited, "2.0"));
    }

    #[test]
    fn unknown_ecosystems_and_range_types_are_kept_not_refused() {
        let r = record(json!({
            "id": "X-1", "modified": "2024-01-01T00:00:00Z", "withdrawn": "2024-02-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Docker Hardened Images", "name": "x"},
              "ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "abc"}]}]}]
        }));
        assert!(r.withdrawn);
        assert_eq!(r.affected[0].affects(Ecosystem::PyPI, "1"), None);
        assert!(Record::from_json(&json!({"id": "A", "schema_version": "2.0.0"})).is_err());
        assert!(Record::from_json(&json!({"modified": "x"})).is_err());
    }
}
