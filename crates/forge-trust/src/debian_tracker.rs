//! The Debian security tracker's JSON (`/tracker/data/json`) as OSV
//! records: `{source package: {CVE id: {description, releases: {suite:
//! {status, fixed_version, urgency}}}}}`. A release whose status is
//! `resolved` is affected below its `fixed_version` (`0`: never
//! affected); `open` is affected at every version; `undetermined` is not
//! reported (nobody has looked yet, as debsecan treats it). Suites are
//! turned into release numbers (`bookworm` → `Debian:12`); `sid` has none
//! and is left out.

use serde_json::{Map, Value, json};

use crate::osv::{Ecosystem, Record};

pub fn records(tracker: Map<String, Value>) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for (package, issues) in tracker {
        let issues = issues
            .as_object()
            .ok_or_else(|| format!("'{package}': the tracker's JSON maps each package to its issues"))?;
        for (id, issue) in issues {
            let mut affected = Vec::new();
            let releases = issue.get("releases").and_then(Value::as_object);
            for (suite, state) in releases.into_iter().flatten() {
                let Some(release) = Ecosystem::debian_release(suite) else {
                    continue;
                };
                let status = state.get("status").and_then(Value::as_str).unwrap_or("");
                let fixed = state.get("fixed_version").and_then(Value::as_str);
                let events = match (status, fixed) {
                    ("resolved", Some("0")) => continue,
                    ("resolved", Some(version)) => json!([{"introduced": "0"}, {"fixed": version}]),
                    ("open", _) => json!([{"introduced": "0"}]),
                    _ => continue,
                };
                let mut entry = json!({
                    "package": {"ecosystem": format!("Debian:{release}"), "name": package},
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                });
                if let Some(urgency) = state.get("urgency").and_then(Value::as_str) {
                    entry["ecosystem_specific"] = json!({"urgency": urgency});
                }
                affected.push(entry);
            }
            if affected.is_empty() {
                continue;
            }
            let record = json!({
                "id": id,
                "summary": issue.get("description").and_then(Value::as_str).unwrap_or(""),
                "modified": "",
                "affected": affected,
            });
            out.push(Record::from_json(&record).map_err(|e| format!("'{package}' {id}: {e}"))?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Package, Snapshot};

    #[test]
    fn tracker_statuses_become_ranges_per_release() {
        let tracker = json!({
            "glibc": {
                "CVE-2024-2961": {"description": "iconv overflow", "releases": {
                    "bookworm": {"status": "resolved", "fixed_version": "2.36-9+deb12u6", "urgency": "high"},
                    "bullseye": {"status": "open", "urgency": "medium"},
                    "sid": {"status": "resolved", "fixed_version": "2.37-18"}}},
                "CVE-2000-1": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "0"}}},
                "CVE-2000-2": {"releases": {"bookworm": {"status": "undetermined"}}}
            }
        });
        let Value::Object(map) = tracker else { unreachable!() };
        let mut snapshot = Snapshot::new();
        for r in records(map).unwrap() {
            snapshot.add(r);
        }
        assert_eq!(snapshot.len(), 1);
        let pin = |release, version: &str| Package {
            ecosystem: Ecosystem::Debian(Some(release)),
            name: "glibc".into(),
            version: version.into(),
        };
        let found = snapshot.findings(&pin(12, "2.36-9+deb12u4"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fixed, ["2.36-9+deb12u6"]);
        assert_eq!(found[0].severity, crate::Severity::High);
        assert!(snapshot.findings(&pin(12, "2.36-9+deb12u6")).is_empty());
        assert_eq!(
            snapshot.findings(&pin(11, "2.31-13+deb11u10"))[0].fixed,
            Vec::<String>::new()
        );
        assert!(snapshot.findings(&pin(13, "2.40-1")).is_empty());
    }
}
