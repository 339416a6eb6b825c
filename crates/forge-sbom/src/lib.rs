//! Software bills of materials (and, in [`provenance`], signed statements
//! of how an artifact was built): what an element closure is made of — each
//! element, each source it is built from with its pin (a sha256 or a
//! commit), its package URL where it is a package of an ecosystem — as
//! an SPDX 2.3 or a CycloneDX 1.6 JSON document. The same pins give the
//! same bytes: no clock is read (the creation time is given), identifiers
//! are positions and names, and the namespace is the target's cache key.

use serde_json::{Map, Value, json};

pub mod provenance;

/// What a bill of materials describes.
#[derive(Clone, Debug, Default)]
pub struct Bom {
    /// The project's name.
    pub project: String,
    /// The element described (an index into `elements`).
    pub target: usize,
    /// When the document is said to be made, in Unix seconds.
    pub created: i64,
    /// The tool that made it (`forge-0.1.0`).
    pub tool: String,
    /// The elements of the closure, dependencies first.
    pub elements: Vec<BomElement>,
}

/// One element of the closure.
#[derive(Clone, Debug, Default)]
pub struct BomElement {
    /// Its name (`base/python.bst`).
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its cache key, when every pin it needs is there.
    pub key: Option<String>,
    /// Elements it needs at run time (indexes into the closure).
    pub runtime: Vec<usize>,
    /// Elements it needs only to build.
    pub build: Vec<usize>,
    /// What it is built from.
    pub sources: Vec<BomSource>,
}

/// One thing an element is built from.
#[derive(Clone, Debug, Default)]
pub struct BomSource {
    /// The source kind.
    pub kind: String,
    /// The package or file name.
    pub name: String,
    /// Its version: the package's, else one guessed from the URL, else
    /// the pin.
    pub version: Option<String>,
    /// Where it comes from (aliases expanded), if from a URL.
    pub url: Option<String>,
    /// `git`, `local` or `remote-file`.
    pub medium: String,
    /// The sha256 of the file it is pinned to.
    pub sha256: Option<String>,
    /// The commit it is pinned to.
    pub commit: Option<String>,
    /// Its package URL (`pkg:pypi/click@8.1.7`).
    pub purl: Option<String>,
    /// Who supplies it, as the source's provenance or its package says
    /// (`Name <email>`).
    pub supplier: Option<String>,
    /// Its home page, as the source's provenance gives it.
    pub homepage: Option<String>,
    /// Its license as the package declares it (an SPDX expression).
    pub license: Option<String>,
    /// The position of the source in its element's `sources:`.
    pub source: usize,
    /// Whether the element installs it as it is (a wheel, a `.deb`)
    /// rather than building from it.
    pub installed: bool,
}

/// SPDX license identifiers (and exceptions) that a declared expression
/// may use to be written as the package's declared license: the common
/// ones of Python and Debian packages. An expression with any other is
/// kept as a comment (forge ships no copy of the whole SPDX license list,
/// and a document naming an unknown identifier is not valid SPDX).
const KNOWN_LICENSES: &[&str] = &[
    "0BSD",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-2.0",
    "Artistic-2.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSL-1.0",
    "CC0-1.0",
    "CC-BY-4.0",
    "EPL-2.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "HPND",
    "ISC",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MIT",
    "MIT-0",
    "MPL-2.0",
    "PSF-2.0",
    "Python-2.0",
    "Unlicense",
    "Zlib",
    "LLVM-exception",
    "Classpath-exception-2.0",
    "GCC-exception-3.1",
];

/// `expression` when it is an SPDX license expression made of known
/// identifiers, `AND`, `OR`, `WITH` and parentheses.
pub fn known_license(expression: &str) -> Option<&str> {
    let spaced = expression.replace('(', " ( ").replace(')', " ) ");
    let mut words = spaced.split_whitespace().peekable();
    words.peek()?;
    words
        .all(|word| matches!(word, "AND" | "OR" | "WITH" | "(" | ")") || KNOWN_LICENSES.contains(&word))
        .then_some(expression.trim())
}

/// Words that name a group rather than a person.
const GROUP_WORDS: &[&str] = &[
    "team",
    "project",
    "maintainers",
    "developers",
    "foundation",
    "group",
    "inc",
    "ltd",
    "llc",
    "contributors",
    "authors",
    "community",
    "organization",
    "packagers",
    "pallets",
    "debian",
];

/// An SPDX supplier from `Name <email>`: `Organization: Name (email)` where
/// the name is a group's, else `Person: Name (email)`.
pub fn spdx_supplier(text: &str) -> String {
    let (name, email) = contact(text);
    let lower = name.to_ascii_lowercase();
    let group = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| GROUP_WORDS.contains(&word));
    let who = if group { "Organization" } else { "Person" };
    match email {
        Some(email) if email != name => format!("{who}: {name} ({email})"),
        _ => format!("{who}: {name}"),
    }
}

/// `Name <email>` as its name (the address where no name is given) and
/// its address.
fn contact(text: &str) -> (&str, Option<&str>) {
    let (name, email) = match text.split_once('<') {
        Some((name, rest)) => (name.trim(), Some(rest.trim_end_matches('>').trim())),
        None => (text.trim(), None),
    };
    (if name.is_empty() { email.unwrap_or("") } else { name }, email)
}

/// `text` percent-encoded for a package URL: everything but letters,
/// digits and `.-_~`.
fn purl_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b".-_~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The package URL of a PyPI release (`name` normalized as PEP 503 says).
pub fn pypi_purl(name: &str, version: &str) -> String {
    format!("pkg:pypi/{}@{}", purl_encode(name), purl_encode(version))
}

/// The package URL of a Debian binary package from the archive of
/// `vendor` (`debian`, `ubuntu`).
pub fn deb_purl(vendor: &str, package: &str, version: &str, arch: Option<&str>, suite: Option<&str>) -> String {
    let mut purl = format!("pkg:deb/{vendor}/{}@{}", purl_encode(package), purl_encode(version));
    let qualifiers: Vec<String> = [("arch", arch), ("distro", suite)]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| format!("{key}={}", purl_encode(v))))
        .collect();
    if !qualifiers.is_empty() {
        purl.push('?');
        purl.push_str(&qualifiers.join("&"));
    }
    purl
}

/// `seconds` since the Unix epoch as an RFC 3339 UTC time
/// (`2011-11-11T11:11:11Z`).
pub fn utc_time(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil date from a day count (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// `text` as the tail of an SPDX identifier (`[A-Za-z0-9.-]`).
fn spdx_id_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Where SPDX lets a package be downloaded from: a URL it knows, a git
/// repository as `git+URL@COMMIT`; anything else (a local path, a file://
/// URL) is `NOASSERTION`.
fn download_location(source: &BomSource) -> String {
    let Some(url) = &source.url else {
        return "NOASSERTION".to_string();
    };
    let remote = ["https://", "http://", "ssh://", "git://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    match (&source.commit, remote) {
        (_, false) => "NOASSERTION".to_string(),
        (Some(commit), true) => format!("git+{url}@{commit}"),
        (None, true) => url.clone(),
    }
}

/// The SPDX 2.3 JSON document of `bom`.
pub fn spdx_2_3(bom: &Bom) -> Value {
    spdx_2_3_with(bom, &[])
}

/// [`spdx_2_3`] where each package that `vulnerabilities` affect names
/// them as `SECURITY` / `advisory` references (as buildstream-sbom does
/// with osv-scanner's findings): `https://osv.dev/vulnerability/ID`.
pub fn spdx_2_3_with(bom: &Bom, vulnerabilities: &[Vulnerability]) -> Value {
    let element_id = |i: usize| format!("SPDXRef-Element-{}-{}", i + 1, spdx_id_part(&bom.elements[i].name));
    let target = &bom.elements[bom.target];
    let key = target.key.as_deref().unwrap_or("unkeyed");
    let mut packages = Vec::new();
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": element_id(bom.target),
    })];
    for (i, element) in bom.elements.iter().enumerate() {
        let mut package = Map::new();
        package.insert("SPDXID".into(), json!(element_id(i)));
        package.insert("name".into(), json!(element.name));
        if let Some(key) = &element.key {
            package.insert("versionInfo".into(), json!(key));
        }
        // The project assembles its elements.
        package.insert("supplier".into(), json!(format!("Organization: {}", bom.project)));
        package.insert("downloadLocation".into(), json!("NOASSERTION"));
        package.insert("filesAnalyzed".into(), json!(false));
        package.insert(
            "comment".into(),
            json!(format!(
                "forge element of kind {}{}",
                element.kind,
                element
                    .key
                    .as_ref()
                    .map(|k| format!(", cache key {k}"))
                    .unwrap_or_default()
            )),
        );
        packages.push(Value::Object(package));
        for &dep in &element.runtime {
            relationships.push(json!({
                "spdxElementId": element_id(i),
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": element_id(dep),
            }));
        }
        for &dep in &element.build {
            relationships.push(json!({
                "spdxElementId": element_id(dep),
                "relationshipType": "BUILD_DEPENDENCY_OF",
                "relatedSpdxElement": element_id(i),
            }));
        }
        for (j, source) in element.sources.iter().enumerate() {
            let id = format!("SPDXRef-Source-{}-{}-{}", i + 1, j + 1, spdx_id_part(&source.name));
            let mut package = Map::new();
            package.insert("SPDXID".into(), json!(id));
            package.insert("name".into(), json!(source.name));
            if let Some(version) = &source.version {
                package.insert("versionInfo".into(), json!(version));
            }
            let supplier = match (&source.supplier, source.medium.as_str()) {
                (Some(supplier), _) => spdx_supplier(supplier),
                // The project's own files.
                (None, "local") => format!("Organization: {}", bom.project),
                (None, _) => "NOASSERTION".to_string(),
            };
            package.insert("supplier".into(), json!(supplier));
            package.insert("downloadLocation".into(), json!(download_location(source)));
            if let Some(homepage) = &source.homepage {
                package.insert("homepage".into(), json!(homepage));
            }
            package.insert("filesAnalyzed".into(), json!(false));
            match source.license.as_deref().map(|l| (l, known_license(l))) {
                Some((_, Some(known))) => {
                    package.insert("licenseDeclared".into(), json!(known));
                }
                Some((declared, None)) => {
                    package.insert("licenseDeclared".into(), json!("NOASSERTION"));
                    package.insert(
                        "licenseComments".into(),
                        json!(format!(
                            "the package declares: {declared} (not among the identifiers forge checks)"
                        )),
                    );
                }
                None => {}
            }
            if let Some(sha256) = &source.sha256 {
                package.insert(
                    "checksums".into(),
                    json!([{ "algorithm": "SHA256", "checksumValue": sha256 }]),
                );
            }
            package.insert("sourceInfo".into(), json!(source_info(source)));
            let mut references = Vec::new();
            if let Some(purl) = &source.purl {
                references.push(json!({
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": purl,
                }));
            }
            for vulnerability in vulnerabilities
                .iter()
                .filter(|v| v.affects.iter().any(|(e, s, _)| *e == i && *s == source.source))
            {
                references.push(json!({
                    "referenceCategory": "SECURITY",
                    "referenceType": "advisory",
                    "referenceLocator": format!("https://osv.dev/vulnerability/{}", vulnerability.id),
                    "comment": format!("{} ({})", vulnerability.id, vulnerability.severity),
                }));
            }
            if !references.is_empty() {
                package.insert("externalRefs".into(), json!(references));
            }
            packages.push(Value::Object(package));
            // A package installed as it is is part of the artifact; what
            // is built from a source is generated from it.
            let relation = if source.installed { "CONTAINS" } else { "GENERATED_FROM" };
            relationships.push(json!({
                "spdxElementId": element_id(i),
                "relationshipType": relation,
                "relatedSpdxElement": id,
            }));
        }
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}/{}", bom.project, target.name),
        "documentNamespace": format!(
            "https://forge.build/spdx/{}/{}/{key}",
            purl_encode(&bom.project),
            purl_encode(&target.name)
        ),
        "creationInfo": {
            "created": utc_time(bom.created),
            "creators": [format!("Tool: {}", bom.tool)],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

/// The CycloneDX 1.6 JSON document of `bom`: the target as the metadata's
/// component, every other element and every source as components, and
/// the graph as `dependencies` (an element depends on its runtime
/// dependencies and on what it is made from; every component is listed,
/// leaves with nothing).
pub fn cyclonedx_1_6(bom: &Bom) -> Value {
    let element_ref = |i: usize| format!("element:{}", bom.elements[i].name);
    let source_ref = |i: usize, j: usize| format!("source:{}:{}", bom.elements[i].name, j + 1);
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    let mut metadata_component = Value::Null;
    for (i, element) in bom.elements.iter().enumerate() {
        let mut component = Map::new();
        let target = i == bom.target;
        component.insert("type".into(), json!(if target { "application" } else { "library" }));
        component.insert("bom-ref".into(), json!(element_ref(i)));
        component.insert("supplier".into(), json!({ "name": bom.project }));
        component.insert("name".into(), json!(element.name));
        if let Some(key) = &element.key {
            component.insert("version".into(), json!(key));
        }
        component.insert(
            "description".into(),
            json!(format!("forge element of kind {}", element.kind)),
        );
        if target {
            metadata_component = Value::Object(component);
        } else {
            components.push(Value::Object(component));
        }
        let mut needs: Vec<String> = element.runtime.iter().map(|&d| element_ref(d)).collect();
        needs.extend((0..element.sources.len()).map(|j| source_ref(i, j)));
        dependencies.push(json!({ "ref": element_ref(i), "dependsOn": needs }));
        for (j, source) in element.sources.iter().enumerate() {
            let mut component = Map::new();
            let library = source.purl.is_some();
            component.insert("type".into(), json!(if library { "library" } else { "file" }));
            component.insert("bom-ref".into(), json!(source_ref(i, j)));
            match (&source.supplier, source.medium.as_str()) {
                (Some(supplier), _) => {
                    let (name, email) = contact(supplier);
                    let mut entity = json!({ "name": name });
                    if let Some(email) = email {
                        entity["contact"] = json!([{ "email": email }]);
                    }
                    component.insert("supplier".into(), entity);
                }
                (None, "local") => {
                    component.insert("supplier".into(), json!({ "name": bom.project }));
                }
                (None, _) => {}
            }
            component.insert("name".into(), json!(source.name));
            if let Some(version) = &source.version {
                component.insert("version".into(), json!(version));
            }
            component.insert("description".into(), json!(source_info(source)));
            if let Some(sha256) = &source.sha256 {
                component.insert("hashes".into(), json!([{ "alg": "SHA-256", "content": sha256 }]));
            }
            if let Some(known) = source.license.as_deref().and_then(known_license) {
                component.insert("licenses".into(), json!([{ "expression": known }]));
            }
            if let Some(purl) = &source.purl {
                component.insert("purl".into(), json!(purl));
            }
            let mut references = Vec::new();
            let location = download_location(source);
            if location != "NOASSERTION" {
                let kind = if source.commit.is_some() { "vcs" } else { "distribution" };
                let url = source.url.clone().unwrap_or_default();
                references.push(json!({ "type": kind, "url": url }));
            }
            if let Some(homepage) = &source.homepage {
                references.push(json!({ "type": "website", "url": homepage }));
            }
            if !references.is_empty() {
                component.insert("externalReferences".into(), json!(references));
            }
            components.push(Value::Object(component));
            dependencies.push(json!({ "ref": source_ref(i, j), "dependsOn": [] }));
        }
    }
    let tool = match bom.tool.rsplit_once('-') {
        Some((name, version)) => json!({ "type": "application", "name": name, "version": version }),
        None => json!({ "type": "application", "name": bom.tool }),
    };
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": utc_time(bom.created),
            "lifecycles": [{ "phase": "build" }],
            "tools": { "components": [tool] },
            "component": metadata_component,
        },
        "components": components,
        "dependencies": dependencies,
    })
}

/// An advisory that affects pinned packages of a bill (from `forge
/// audit`).
#[derive(Clone, Debug, Default)]
pub struct Vulnerability {
    /// The id shown first (`PYSEC-…`, `GHSA-…`, `MAL-…`, `DSA-…`).
    pub id: String,
    /// Its other ids (CVEs, other databases').
    pub aliases: Vec<String>,
    /// What it is.
    pub description: String,
    /// CycloneDX's severity: critical, high, medium, low or unknown.
    pub severity: String,
    /// The highest CVSS v3 base score of its records.
    pub score: Option<f64>,
    /// Versions that fix it.
    pub fixed: Vec<String>,
    /// The pins it affects: (element in the bill, source position in that
    /// element's `sources:`, pinned version).
    pub affects: Vec<(usize, usize, String)>,
}

/// The database an advisory id comes from, by its prefix.
fn advisory_source(id: &str) -> &'static str {
    match id.split('-').next().unwrap_or("") {
        "CVE" => "NVD",
        "GHSA" => "GitHub Advisory Database",
        "PYSEC" => "PyPA Advisory Database",
        "MAL" => "OpenSSF Malicious Packages",
        "DSA" | "DLA" | "DTSA" => "Debian Security Tracker",
        _ => "OSV",
    }
}

/// [`cyclonedx_1_6`] with `vulnerabilities` listing what affects which
/// component, as pip-audit's CycloneDX output does.
pub fn cyclonedx_1_6_with(bom: &Bom, vulnerabilities: &[Vulnerability]) -> Value {
    let mut document = cyclonedx_1_6(bom);
    let source_ref = |element: usize, source: usize| -> Option<String> {
        let j = bom
            .elements
            .get(element)?
            .sources
            .iter()
            .position(|s| s.source == source)?;
        Some(format!("source:{}:{}", bom.elements[element].name, j + 1))
    };
    let listed: Vec<Value> = vulnerabilities
        .iter()
        .map(|v| {
            let mut entry = Map::new();
            entry.insert("id".into(), json!(v.id));
            entry.insert("source".into(), json!({ "name": advisory_source(&v.id) }));
            if !v.aliases.is_empty() {
                let references: Vec<Value> = v
                    .aliases
                    .iter()
                    .map(|a| json!({ "id": a, "source": { "name": advisory_source(a) } }))
                    .collect();
                entry.insert("references".into(), json!(references));
            }
            let mut rating = json!({ "severity": v.severity });
            if let Some(score) = v.score {
                rating["score"] = json!(score);
                rating["method"] = json!("CVSSv3");
            }
            entry.insert("ratings".into(), json!([rating]));
            if !v.description.is_empty() {
                entry.insert("description".into(), json!(v.description));
            }
            if !v.fixed.is_empty() {
                entry.insert(
                    "recommendation".into(),
                    json!(format!("Upgrade to {}", v.fixed.join(" or "))),
                );
            }
            let affects: Vec<Value> = v
                .affects
                .iter()
                .filter_map(|(element, source, version)| {
                    let reference = source_ref(*element, *source)?;
                    Some(json!({ "ref": reference, "versions": [{ "version": version, "status": "affected" }] }))
                })
                .collect();
            entry.insert("affects".into(), json!(affects));
            Value::Object(entry)
        })
        .collect();
    document["vulnerabilities"] = json!(listed);
    document
}

/// What a source is, in words: its kind and pin.
fn source_info(source: &BomSource) -> String {
    let pin = match (&source.commit, &source.sha256) {
        (Some(commit), _) => format!(", commit {commit}"),
        (None, Some(sha256)) => format!(", sha256 {sha256}"),
        _ => String::new(),
    };
    format!("forge source of kind {} ({}){pin}", source.kind, source.medium)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclonedx_lists_every_component_and_its_dependencies() {
        let bom = Bom {
            project: "demo".into(),
            target: 1,
            created: 0,
            tool: "forge-test".into(),
            elements: vec![
                BomElement {
                    name: "lib.bst".into(),
                    kind: "pip".into(),
                    sources: vec![BomSource {
                        name: "click".into(),
                        version: Some("8.1.7".into()),
                        medium: "remote-file".into(),
                        url: Some("https://files.example.org/click-8.1.7-py3-none-any.whl".into()),
                        sha256: Some("ab".repeat(32)),
                        purl: Some(pypi_purl("click", "8.1.7")),
                        supplier: Some("Pallets <contact@example.org>".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                BomElement {
                    name: "app.bst".into(),
                    runtime: vec![0],
                    ..Default::default()
                },
            ],
        };
        let doc = cyclonedx_1_6(&bom);
        assert_eq!(doc["metadata"]["component"]["bom-ref"], "element:app.bst");
        assert_eq!(doc["metadata"]["timestamp"], "1970-01-01T00:00:00Z");
        let click = &doc["components"][1];
        assert_eq!(click["purl"], "pkg:pypi/click@8.1.7");
        assert_eq!(click["hashes"][0]["alg"], "SHA-256");
        assert_eq!(click["supplier"]["contact"][0]["email"], "contact@example.org");
        assert_eq!(click["externalReferences"][0]["type"], "distribution");
        assert_eq!(
            doc["dependencies"],
            json!([
                { "ref": "element:lib.bst", "dependsOn": ["source:lib.bst:1"] },
                { "ref": "source:lib.bst:1", "dependsOn": [] },
                { "ref": "element:app.bst", "dependsOn": ["element:lib.bst"] },
            ])
        );
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_time(1_321_009_871), "2011-11-11T11:11:11Z");
        assert_eq!(utc_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_time(1_796_187_000), "2026-12-02T04:50:00Z");
    }

    #[test]
    fn suppliers_are_people_or_organizations() {
        assert_eq!(
            spdx_supplier("Armin Ronacher <armin@example.com>"),
            "Person: Armin Ronacher (armin@example.com)"
        );
        assert_eq!(
            spdx_supplier("Debian Python Team <team+python@tracker.debian.org>"),
            "Organization: Debian Python Team (team+python@tracker.debian.org)"
        );
        assert_eq!(spdx_supplier("<someone@example.com>"), "Person: someone@example.com");
        assert_eq!(spdx_supplier("Jane Doe"), "Person: Jane Doe");
    }

    #[test]
    fn only_expressions_of_known_identifiers_are_declared_licenses() {
        assert_eq!(known_license("MIT"), Some("MIT"));
        assert_eq!(
            known_license("(Apache-2.0 OR MIT) AND BSD-3-Clause"),
            Some("(Apache-2.0 OR MIT) AND BSD-3-Clause")
        );
        assert_eq!(
            known_license("Apache-2.0 WITH LLVM-exception"),
            Some("Apache-2.0 WITH LLVM-exception")
        );
        assert_eq!(known_license("LicenseRef-Proprietary"), None);
        assert_eq!(known_license("MIT License"), None);
        assert_eq!(known_license(""), None);
    }

    #[test]
    fn package_urls_are_encoded() {
        assert_eq!(pypi_purl("markdown-it-py", "3.0.0"), "pkg:pypi/markdown-it-py@3.0.0");
        assert_eq!(
            deb_purl(
                "debian",
                "libstdc++6",
                "1:12.2.0-14+deb12u1",
                Some("amd64"),
                Some("bookworm")
            ),
            "pkg:deb/debian/libstdc%2B%2B6@1%3A12.2.0-14%2Bdeb12u1?arch=amd64&distro=bookworm"
        );
    }

    #[test]
    fn a_closure_becomes_packages_and_relationships() {
        let bom = Bom {
            project: "demo".into(),
            target: 1,
            created: 0,
            tool: "forge-test".into(),
            elements: vec![
                BomElement {
                    name: "lib/click.bst".into(),
                    kind: "pip".into(),
                    key: Some("ab12".into()),
                    sources: vec![BomSource {
                        kind: "pypi".into(),
                        name: "click".into(),
                        version: Some("8.1.7".into()),
                        url: Some("https://pypi.org/simple/click/".into()),
                        medium: "remote-file".into(),
                        sha256: Some("cd".repeat(32)),
                        purl: Some(pypi_purl("click", "8.1.7")),
                        supplier: Some("Pallets <contact@palletsprojects.com>".into()),
                        installed: true,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                BomElement {
                    name: "app.bst".into(),
                    kind: "stack".into(),
                    key: Some("ef34".into()),
                    runtime: vec![0],
                    sources: vec![BomSource {
                        kind: "git".into(),
                        name: "tool".into(),
                        url: Some("https://example.com/tool.git".into()),
                        medium: "git".into(),
                        commit: Some("0123".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        };
        let doc = spdx_2_3(&bom);
        assert_eq!(doc["documentNamespace"], "https://forge.build/spdx/demo/app.bst/ef34");
        assert_eq!(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
        let packages = doc["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 4);
        assert_eq!(packages[0]["SPDXID"], "SPDXRef-Element-1-lib-click.bst");
        assert_eq!(packages[1]["checksums"][0]["checksumValue"], "cd".repeat(32));
        assert_eq!(
            packages[1]["externalRefs"][0]["referenceLocator"],
            "pkg:pypi/click@8.1.7"
        );
        assert_eq!(
            packages[1]["supplier"],
            "Organization: Pallets (contact@palletsprojects.com)"
        );
        assert_eq!(packages[3]["supplier"], "NOASSERTION");
        assert_eq!(packages[3]["downloadLocation"], "git+https://example.com/tool.git@0123");
        let relations: Vec<String> = doc["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r["spdxElementId"].as_str().unwrap(),
                    r["relationshipType"].as_str().unwrap(),
                    r["relatedSpdxElement"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            relations,
            [
                "SPDXRef-DOCUMENT DESCRIBES SPDXRef-Element-2-app.bst",
                "SPDXRef-Element-1-lib-click.bst CONTAINS SPDXRef-Source-1-1-click",
                "SPDXRef-Element-2-app.bst DEPENDS_ON SPDXRef-Element-1-lib-click.bst",
                "SPDXRef-Element-2-app.bst GENERATED_FROM SPDXRef-Source-2-1-tool",
            ]
        );
    }
}
