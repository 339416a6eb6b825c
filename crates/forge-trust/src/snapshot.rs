//! An advisory snapshot: OSV records read from files, indexed by package,
//! and the findings for one pinned package.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::osv::{Ecosystem, Record};

/// A JSON or YAML file larger than this is refused (the Debian tracker's
/// whole JSON is about 80 MB; one OSV record is a few kB).
const MAX_FILE: u64 = 512 << 20;
/// The same for one member of an export zip.
const MAX_MEMBER: u64 = 64 << 20;

/// A file of the snapshot that could not be read, and why.
#[derive(Debug)]
pub struct SnapshotError {
    /// The file (inside the staged sources).
    pub file: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// A package as a pin names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Package {
    /// Where its versions come from.
    pub ecosystem: Ecosystem,
    /// PyPI project or Debian source package.
    pub name: String,
    /// The pinned version (for Debian, the source version).
    pub version: String,
}

/// How bad a finding is, lowest first. `Unknown` is a record that gives
/// no severity forge can read: it fails every `--fail-on` threshold
/// short of `malware`, because forge will not guess that it is low.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// No severity given.
    Unknown,
    /// CVSS below 4, or labelled low (Debian: unimportant, low).
    Low,
    /// CVSS 4 to 6.9, or labelled moderate or medium.
    Medium,
    /// CVSS 7 to 8.9, or labelled high.
    High,
    /// CVSS 9 or more, or labelled critical.
    Critical,
    /// A malicious release (`MAL-` records).
    Malware,
}

impl Severity {
    /// The word used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
            Severity::Malware => "malware",
        }
    }

    /// Whether a finding of this severity fails an audit run with
    /// `--fail-on threshold`.
    /// An unknown severity fails every threshold but `malware`.
    pub fn fails(self, threshold: Severity) -> bool {
        match self {
            Severity::Unknown => threshold != Severity::Malware,
            _ => self >= threshold,
        }
    }

    fn of_score(score: f64) -> Option<Severity> {
        Some(match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => return None,
        })
    }

    fn of_label(label: &str) -> Option<Severity> {
        Some(match label.trim_end_matches('*').to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "moderate" | "medium" => Severity::Medium,
            "low" | "unimportant" | "negligible" => Severity::Low,
            _ => return None,
        })
    }
}

/// What a snapshot says about one package: records that are aliases of
/// one another are one finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The id shown first: `MAL-`, then `PYSEC-`, then `GHSA-`, then a
    /// record's own id (`DSA-…` before the CVE it lists as an alias).
    pub id: String,
    /// Every other id of the records and their aliases, sorted.
    pub aliases: Vec<String>,
    /// The summary of the record named by `id` (else the first with one).
    pub summary: String,
    /// Versions that fix it, in version order.
    pub fixed: Vec<String>,
    /// The highest severity any of its records gives.
    pub severity: Severity,
    /// The highest CVSS v3 base score among its records.
    pub score: Option<f64>,
}

/// The records of a snapshot, indexed by ecosystem and package.
#[derive(Default)]
pub struct Snapshot {
    records: Vec<Record>,
    /// (PyPI or Debian, normalized name) → (record, affected entry).
    index: HashMap<(bool, String), Vec<(usize, usize)>>,
    withdrawn: usize,
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Snapshot {
        Snapshot::default()
    }

    /// How many records it holds (withdrawn ones not counted).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// How many withdrawn records were skipped.
    pub fn withdrawn(&self) -> usize {
        self.withdrawn
    }

    /// The newest `modified` of its records: how fresh the data is.
    pub fn newest(&self) -> Option<&str> {
        self.records
            .iter()
            .map(|r| r.modified.as_str())
            .filter(|m| !m.is_empty())
            .max()
    }

    /// Whether any record covers the ecosystem (PyPI, or any Debian).
    pub fn covers(&self, ecosystem: Ecosystem) -> bool {
        let pypi = ecosystem == Ecosystem::PyPI;
        self.index.keys().any(|(p, _)| *p == pypi)
    }

    /// Adds the records of `other`.
    pub fn extend(&mut self, other: Snapshot) {
        self.withdrawn += other.withdrawn;
        for record in other.records {
            self.add(record);
        }
    }

    /// The snapshot as one JSON document that [`Snapshot::from_json`]
    /// reads back much faster than the files it came from.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "forge-advisory-snapshot": 1,
            "withdrawn": self.withdrawn,
            "records": self.records.iter().map(Record::to_json).collect::<Vec<_>>(),
        })
    }

    /// Reads what [`Snapshot::to_json`] wrote.
    pub fn from_json(value: &Value) -> Result<Snapshot, String> {
        if value.get("forge-advisory-snapshot").and_then(Value::as_u64) != Some(1) {
            return Err("not a snapshot forge wrote".into());
        }
        let mut snapshot = Snapshot::new();
        for record in value.get("records").and_then(Value::as_array).into_iter().flatten() {
            snapshot.add(Record::from_json(record)?);
        }
        snapshot.withdrawn = value.get("withdrawn").and_then(Value::as_u64).unwrap_or(0) as usize;
        Ok(snapshot)
    }

    /// Adds one record.
    pub fn add(&mut self, record: Record) {
        if record.withdrawn {
            self.withdrawn += 1;
            return;
        }
        let at = self.records.len();
        for (i, affected) in record.affected.iter().enumerate() {
            let Some(ecosystem) = Ecosystem::parse(&affected.ecosystem) else {
                continue;
            };
            let key = (ecosystem == Ecosystem::PyPI, ecosystem.normalize_name(&affected.name));
            self.index.entry(key).or_default().push((at, i));
        }
        self.records.push(record);
    }

    /// Reads every `.json`, `.yaml`, `.yml` and `.zip` file under `path`
    /// (a directory, walked in name order without its hidden directories,
    /// or one file). Each is an OSV record, a JSON list of them, an OSV
    /// export zip of them, or the Debian security tracker's JSON.
    pub fn add_path(&mut self, path: &Path) -> Result<(), SnapshotError> {
        let error = |file: &Path, message: String| SnapshotError {
            file: file.to_path_buf(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| error(path, e.to_string()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| error(path, e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for entry in entries {
                let hidden = entry.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
                let is_dir = std::fs::symlink_metadata(&entry).is_ok_and(|m| m.is_dir());
                if is_dir && !hidden {
                    self.add_path(&entry)?;
                } else if !is_dir {
                    self.add_file(&entry)?;
                }
            }
            return Ok(());
        }
        self.add_file(path)
    }

    fn add_file(&mut self, file: &Path) -> Result<(), SnapshotError> {
        let error = |message: String| SnapshotError {
            file: file.to_path_buf(),
            message,
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let kind = match name.rsplit_once('.').map(|(_, e)| e) {
            Some("json") => "json",
            Some("yaml" | "yml") => "yaml",
            Some("zip") => "zip",
            _ => return Ok(()),
        };
        let size = std::fs::metadata(file).map_err(|e| error(e.to_string()))?.len();
        if kind != "zip" && size > MAX_FILE {
            return Err(error(format!(
                "{size} bytes is more than an advisory file may hold ({MAX_FILE})"
            )));
        }
        match kind {
            "zip" => self.add_zip(file).map_err(error),
            _ => {
                let text = std::fs::read_to_string(file).map_err(|e| error(e.to_string()))?;
                let value = if kind == "json" {
                    serde_json::from_str(&text).map_err(|e| error(format!("not JSON: {e}")))?
                } else {
                    let node = forge_yaml::parse_str(&file.to_string_lossy(), &text)
                        .map_err(|e| error(format!("not YAML: {e}")))?;
                    forge_project::keys::node_to_json(&node)
                };
                self.add_value(value).map_err(error)
            }
        }
    }

    fn add_zip(&mut self, file: &Path) -> Result<(), String> {
        let reader = std::fs::File::open(file).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipArchive::new(reader).map_err(|e| format!("not a zip archive: {e}"))?;
        for i in 0..zip.len() {
            let mut member = zip.by_index(i).map_err(|e| e.to_string())?;
            let name = member.name().map_err(|e| format!("bad member name: {e}"))?.to_string();
            if !member.is_file() || !name.to_ascii_lowercase().ends_with(".json") {
                continue;
            }
            if member.size() > MAX_MEMBER {
                return Err(format!(
                    "member {name} is larger than an advisory may be ({MAX_MEMBER} bytes)"
                ));
            }
            let mut text = String::new();
            (&mut member)
                .take(MAX_MEMBER + 1)
                .read_to_string(&mut text)
                .map_err(|e| format!("member {name}: {e}"))?;
            if text.len() as u64 > MAX_MEMBER {
                return Err(format!("member {name} inflates beyond its stated size"));
            }
            let value = serde_json::from_str(&text).map_err(|e| format!("member {name} is not JSON: {e}"))?;
            self.add_value(value).map_err(|e| format!("member {name}: {e}"))?;
        }
        Ok(())
    }

    fn add_value(&mut self, value: Value) -> Result<(), String> {
        match value {
            Value::Array(records) => {
                for record in records {
                    self.add(Record::from_json(&record)?);
                }
                Ok(())
            }
            Value::Object(ref object) if object.contains_key("id") => {
                self.add(Record::from_json(&value)?);
                Ok(())
            }
            Value::Object(object) => {
                for record in crate::debian_tracker::records(object)? {
                    self.add(record);
                }
                Ok(())
            }
            _ => Err("neither an OSV record, a list of them, nor the Debian security tracker's JSON".into()),
        }
    }

    /// What the snapshot says about `package`, most severe first.
    pub fn findings(&self, package: &Package) -> Vec<Finding> {
        let key = (
            package.ecosystem == Ecosystem::PyPI,
            package.ecosystem.normalize_name(&package.name),
        );
        let mut hits: Vec<Hit> = Vec::new();
        for &(r, a) in self.index.get(&key).into_iter().flatten() {
            let affected = &self.records[r].affected[a];
            let covers = Ecosystem::parse(&affected.ecosystem).is_some_and(|e| e.covers(package.ecosystem));
            if !covers {
                continue;
            }
            if let Some(fixed) = affected.affects(package.ecosystem, &package.version) {
                match hits.iter_mut().find(|(seen, _)| *seen == r) {
                    Some((_, all)) => all.extend(fixed),
                    None => hits.push((r, fixed)),
                }
            }
        }
        let mut findings: Vec<Finding> = merge_aliases(&self.records, hits)
            .into_iter()
            .map(|group| self.finding(package, group))
            .collect();
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
        findings
    }

    fn finding(&self, package: &Package, group: Vec<Hit>) -> Finding {
        let mut ids: Vec<String> = Vec::new();
        for (r, _) in &group {
            let record = &self.records[*r];
            ids.push(record.id.clone());
            ids.extend(record.aliases.iter().cloned());
        }
        ids.sort();
        ids.dedup();
        let own: Vec<&str> = group.iter().map(|(r, _)| self.records[*r].id.as_str()).collect();
        let rank = |id: &str| match id {
            _ if id.starts_with("MAL-") => 0,
            _ if id.starts_with("PYSEC-") => 1,
            _ if id.starts_with("GHSA-") => 2,
            _ if own.contains(&id) => 3,
            _ => 4,
        };
        let id = ids
            .iter()
            .min_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)))
            .cloned()
            .unwrap_or_default();
        let records: Vec<&Record> = group.iter().map(|(r, _)| &self.records[*r]).collect();
        let summary = records
            .iter()
            .find(|r| r.id == id && !r.summary.is_empty())
            .or_else(|| records.iter().find(|r| !r.summary.is_empty()))
            .map(|r| r.summary.clone())
            .unwrap_or_default();
        let mut fixed: Vec<String> = group.into_iter().flat_map(|(_, f)| f).collect();
        let ecosystem = package.ecosystem;
        fixed.sort_by(|a, b| ecosystem.compare(a, b).unwrap_or_else(|| a.cmp(b)));
        fixed.dedup_by(|a, b| ecosystem.compare(a, b) == Some(std::cmp::Ordering::Equal));
        let (severity, score) = severity_of(&records, package);
        Finding {
            aliases: ids.into_iter().filter(|i| *i != id).collect(),
            id,
            summary,
            fixed,
            severity,
            score,
        }
    }
}

/// A matched record and the fixed versions of its ranges that hold the pin.
type Hit = (usize, Vec<String>);

/// Groups matched records that share an id or an alias (aliases are
/// symmetric and transitive in OSV: a union-find over the ids).
fn merge_aliases(records: &[Record], hits: Vec<Hit>) -> Vec<Vec<Hit>> {
    let mut parent: Vec<usize> = (0..hits.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (h, (r, _)) in hits.iter().enumerate() {
        let record = &records[*r];
        for id in std::iter::once(&record.id).chain(&record.aliases) {
            match owner.get(id.as_str()) {
                Some(&other) => {
                    let (a, b) = (root(&mut parent, h), root(&mut parent, other));
                    parent[a] = b;
                }
                None => {
                    owner.insert(id, h);
                }
            }
        }
    }
    let mut groups: Vec<(usize, Vec<Hit>)> = Vec::new();
    for (h, hit) in hits.into_iter().enumerate() {
        let r = root(&mut parent, h);
        match groups.iter_mut().find(|(g, _)| *g == r) {
            Some((_, members)) => members.push(hit),
            None => groups.push((r, vec![hit])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

fn severity_of(records: &[&Record], package: &Package) -> (Severity, Option<f64>) {
    if records.iter().any(|r| r.is_malware()) {
        return (Severity::Malware, None);
    }
    let mut severity = Severity::Unknown;
    let mut best: Option<f64> = None;
    let name = package.ecosystem.normalize_name(&package.name);
    for record in records {
        let own = record
            .affected
            .iter()
            .filter(|a| package.ecosystem.normalize_name(&a.name) == name)
            .flat_map(|a| a.severity.iter());
        for (kind, value) in record.severity.iter().chain(own) {
            let level = if kind == "label" {
                Severity::of_label(value)
            } else if kind.starts_with("CVSS_V3") {
                let score = crate::cvss::base_score_v3(value);
                if let Some(s) = score {
                    best = Some(best.map_or(s, |b: f64| b.max(s)));
                }
                score.and_then(Severity::of_score)
            } else {
                None
            };
            if let Some(level) = level {
                severity = severity.max(level);
            }
        }
    }
    (severity, best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pypi(name: &str, version: &str) -> Package {
        Package {
            ecosystem: Ecosystem::PyPI,
            name: name.into(),
            version: version.into(),
        }
    }

    fn snapshot(records: Value) -> Snapshot {
        let mut s = Snapshot::new();
        s.add_value(records).unwrap();
        s
    }

    #[test]
    fn aliases_merge_into_one_finding_with_the_pysec_id_first() {
        let s = snapshot(json!([
            {"id": "GHSA-aaaa", "aliases": ["CVE-2024-1"], "summary": "from GitHub", "modified": "2024-02-01T00:00:00Z",
             "database_specific": {"severity": "MODERATE"},
             "affected": [{"package": {"ecosystem": "PyPI", "name": "Some_Lib"},
               "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2"}]}]}]},
            {"id": "PYSEC-2024-9", "aliases": ["CVE-2024-1"], "details": "from PyPA\nmore", "modified": "2024-01-01T00:00:00Z",
             "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
             "affected": [{"package": {"ecosystem": "PyPI", "name": "some-lib"},
               "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}]}]},
            {"id": "PYSEC-2023-1", "modified": "2023-01-01T00:00:00Z", "withdrawn": "2023-02-01T00:00:00Z",
             "affected": [{"package": {"ecosystem": "PyPI", "name": "some-lib"}, "versions": ["1.0"]}]},
            {"id": "PYSEC-2022-1", "modified": "2022-01-01T00:00:00Z",
             "affected": [{"package": {"ecosystem": "PyPI", "name": "some-lib"},
               "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.9"}]}]}]}
        ]));
        assert_eq!(s.len(), 3);
        assert_eq!(s.withdrawn(), 1);
        assert_eq!(s.newest(), Some("2024-02-01T00:00:00Z"));
        let found = s.findings(&pypi("some.lib", "1.0"));
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.id, "PYSEC-2024-9");
        assert_eq!(f.aliases, ["CVE-2024-1", "GHSA-aaaa"]);
        assert_eq!(f.summary, "from PyPA");
        assert_eq!(f.fixed, ["1.2"]);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.score, Some(9.8));
        assert!(s.findings(&pypi("some-lib", "1.2")).is_empty());

        let again = Snapshot::from_json(&s.to_json()).unwrap();
        assert_eq!((again.len(), again.withdrawn()), (3, 1));
        assert_eq!(again.findings(&pypi("some.lib", "1.0")), found);
        assert_eq!(again.to_json(), s.to_json());
    }

    #[test]
    fn severities_order_thresholds_and_unknown_always_fails() {
        assert!(Severity::High.fails(Severity::Medium));
        assert!(!Severity::Low.fails(Severity::Medium));
        assert!(Severity::Unknown.fails(Severity::Critical));
        assert!(!Severity::Unknown.fails(Severity::Malware));
        assert!(Severity::Malware.fails(Severity::Malware));
        assert!(!Severity::Critical.fails(Severity::Malware));
    }

    #[test]
    fn files_of_every_form_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let record = |id: &str| {
            json!({"id": id, "modified": "2024-01-01T00:00:00Z",
                   "affected": [{"package": {"ecosystem": "PyPI", "name": "lib"}, "versions": ["1.0"]}]})
        };
        std::fs::create_dir_all(dir.path().join("vulns/lib")).unwrap();
        std::fs::write(
            dir.path().join("vulns/lib/PYSEC-1.yaml"),
            "id: PYSEC-1\nmodified: 2024-01-01T00:00:00Z\naffected:\n- package: {ecosystem: PyPI, name: lib}\n  versions: ['1.0']\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("vulns/GHSA-1.json"), record("GHSA-1").to_string()).unwrap();
        let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.path().join("vulns/all.zip")).unwrap());
        zip.start_file("MAL-1.json", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, record("MAL-1").to_string().as_bytes()).unwrap();
        zip.finish().unwrap();
        std::fs::write(dir.path().join("vulns/.id-allocator"), "junk").unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/x.json"), "not json").unwrap();
        let mut s = Snapshot::new();
        s.add_path(dir.path()).unwrap();
        assert_eq!(s.len(), 3);
        let found = s.findings(&pypi("lib", "1.0"));
        let mut ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["GHSA-1", "MAL-1", "PYSEC-1"]);
        assert_eq!(found[0].severity, Severity::Malware);

        std::fs::write(dir.path().join("vulns/bad.json"), "{\"id\": 1}").unwrap();
        let err = Snapshot::new().add_path(dir.path()).unwrap_err();
        assert!(err.file.ends_with("vulns/bad.json"), "{err}");
    }
}
