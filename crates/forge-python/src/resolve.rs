//! Resolving what a project asks for into one version of each package,
//! with PubGrub (as uv does): specifiers, extras, markers for the target,
//! constraints, backtracking, and an explanation when nothing fits.
//!
//! Version sets are finite: the releases the index offers for the target
//! (the caller has already left out yanked files, Requires-Python that
//! excludes the target and releases the gates hold back), filtered by
//! PEP 440's own `contains`, so a specifier means exactly what PEP 440
//! says, pre-release rules included.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::str::FromStr;

use pubgrub::{
    DefaultStringReporter, Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics,
    PubGrubError, Reporter, VersionSet,
};

use crate::markers::{MarkerEnv, evaluate};
use crate::requirement::Requirement;
use crate::{Version, VersionSpecifiers};

/// What the resolver asks of an index.
pub trait PackageIndex {
    /// The releases of `name` (normalized) that have a file usable on the
    /// target.
    fn versions(&self, name: &str) -> Result<Vec<Version>, String>;
    /// What release `version` of `name` requires (`Requires-Dist`).
    fn requires(&self, name: &str, version: &Version) -> Result<Vec<Requirement>, String>;
}

/// One package of a resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Its normalized name.
    pub name: String,
    /// The release picked.
    pub version: Version,
    /// The packages of the resolution it requires (with its extras').
    pub requires: BTreeSet<String>,
}

/// Picks one release of each package needed by `roots` (with
/// `constraints` narrowing any package they name, never adding one), for
/// `env`. Sorted by name.
pub fn resolve(
    roots: &[Requirement],
    constraints: &[Requirement],
    env: &MarkerEnv,
    index: &dyn PackageIndex,
) -> Result<Vec<Resolved>, String> {
    let provider = Provider {
        index,
        env: env.clone(),
        roots: roots.to_vec(),
        constraints: constraints
            .iter()
            .map(|c| (c.name.clone(), c.specifiers.clone()))
            .collect(),
        versions: RefCell::default(),
        requires: RefCell::default(),
    };
    let root_version = Version::from_str("0").expect("a version");
    let solution = match pubgrub::resolve(&provider, Node::Root, root_version) {
        Ok(solution) => solution,
        Err(PubGrubError::NoSolution(mut tree)) => {
            tree.collapse_no_versions();
            // The root's version is a placeholder of PubGrub's.
            let report = DefaultStringReporter::report(&tree)
                .replace("the requirements 0 is forbidden", "they cannot all be met")
                .replace("the requirements 0 ", "the requirements ");
            return Err(format!("no set of releases satisfies the requirements:\n{report}"));
        }
        Err(PubGrubError::ErrorRetrievingDependencies {
            package,
            version,
            source,
        }) => {
            return Err(format!("{package} {version}: {source}"));
        }
        Err(PubGrubError::ErrorChoosingVersion { package, source }) => return Err(format!("{package}: {source}")),
        Err(PubGrubError::ErrorInShouldCancel(source)) => return Err(source.to_string()),
    };
    let mut out: BTreeMap<String, Resolved> = BTreeMap::new();
    for (node, version) in &solution {
        if let Node::Package(name) = node {
            out.insert(
                name.clone(),
                Resolved {
                    name: name.clone(),
                    version: version.clone(),
                    requires: BTreeSet::new(),
                },
            );
        }
    }
    // Each package's edges: its own requirements and those of the extras
    // it was asked with.
    for (node, version) in &solution {
        let (name, extra) = match node {
            Node::Package(name) => (name, None),
            Node::Extra(name, extra) => (name, Some(extra.as_str())),
            Node::Root => continue,
        };
        let needed: Vec<String> = provider
            .needed(name, version, extra)
            .map_err(|e| e.0)?
            .into_iter()
            .map(|r| r.name)
            .filter(|n| n != name && out.contains_key(n))
            .collect();
        out.get_mut(name).expect("selected").requires.extend(needed);
    }
    Ok(out.into_values().collect())
}

/// A node of the graph: the project's requirements, a package, or a
/// package with one extra (which depends on the package at the same
/// release, and on what the extra adds).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Root,
    Package(String),
    Extra(String, String),
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Root => f.write_str("the requirements"),
            Node::Package(name) => f.write_str(name),
            Node::Extra(name, extra) => write!(f, "{name}[{extra}]"),
        }
    }
}

/// A set of releases: those listed, or all but those.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Releases {
    except: bool,
    listed: BTreeSet<Version>,
}

impl std::fmt::Display for Releases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let listed: Vec<String> = self.listed.iter().map(|v| v.to_string()).collect();
        match (self.except, listed.is_empty()) {
            (false, true) => f.write_str("(no release)"),
            (false, false) => f.write_str(&listed.join(" | ")),
            (true, true) => f.write_str("*"),
            (true, false) => write!(f, "any release but {}", listed.join(", ")),
        }
    }
}

impl VersionSet for Releases {
    type V = Version;

    fn empty() -> Self {
        Releases {
            except: false,
            listed: BTreeSet::new(),
        }
    }

    fn singleton(v: Version) -> Self {
        Releases {
            except: false,
            listed: BTreeSet::from([v]),
        }
    }

    fn complement(&self) -> Self {
        Releases {
            except: !self.except,
            listed: self.listed.clone(),
        }
    }

    fn intersection(&self, other: &Self) -> Self {
        let (except, listed) = match (self.except, other.except) {
            (false, false) => (false, self.listed.intersection(&other.listed).cloned().collect()),
            (false, true) => (false, self.listed.difference(&other.listed).cloned().collect()),
            (true, false) => (false, other.listed.difference(&self.listed).cloned().collect()),
            (true, true) => (true, self.listed.union(&other.listed).cloned().collect()),
        };
        Releases { except, listed }
    }

    fn contains(&self, v: &Version) -> bool {
        self.listed.contains(v) != self.except
    }
}

/// A failure of the index, as PubGrub carries it.
#[derive(Debug)]
struct IndexError(String);

impl std::fmt::Display for IndexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IndexError {}

struct Provider<'a> {
    index: &'a dyn PackageIndex,
    env: MarkerEnv,
    roots: Vec<Requirement>,
    constraints: HashMap<String, VersionSpecifiers>,
    versions: RefCell<HashMap<String, Rc<Vec<Version>>>>,
    requires: RefCell<RequiresByRelease>,
}

/// What each release requires, as read once.
type RequiresByRelease = HashMap<(String, Version), Rc<Vec<Requirement>>>;

impl Provider<'_> {
    fn versions(&self, name: &str) -> Result<Rc<Vec<Version>>, IndexError> {
        if let Some(known) = self.versions.borrow().get(name) {
            return Ok(known.clone());
        }
        let mut versions = self.index.versions(name).map_err(IndexError)?;
        versions.sort();
        versions.dedup();
        let versions = Rc::new(versions);
        self.versions.borrow_mut().insert(name.to_string(), versions.clone());
        Ok(versions)
    }

    /// The releases of `name` that `specifiers` (and the constraints on
    /// it) allow. Pre-releases only where a specifier names one, or where
    /// the package has nothing else (PEP 440's rule, as pip and uv apply it).
    fn allowed(&self, name: &str, specifiers: &VersionSpecifiers) -> Result<Releases, IndexError> {
        let versions = self.versions(name)?;
        let constraint = self.constraints.get(name);
        let asks_pre = specifiers
            .iter()
            .chain(constraint.into_iter().flat_map(|c| c.iter()))
            .any(|s| s.version().any_prerelease());
        let only_pre = versions.iter().all(|v| v.any_prerelease());
        let listed = versions
            .iter()
            .filter(|v| specifiers.contains(v) && constraint.is_none_or(|c| c.contains(v)))
            .filter(|v| asks_pre || only_pre || !v.any_prerelease())
            .cloned()
            .collect();
        Ok(Releases { except: false, listed })
    }

    fn marker_holds(&self, requirement: &Requirement, extra: Option<&str>) -> Result<bool, IndexError> {
        let Some(marker) = &requirement.marker else {
            return Ok(extra.is_none());
        };
        let env = MarkerEnv {
            extra: extra.map(str::to_string),
            ..self.env.clone()
        };
        let holds = evaluate(marker, &env).map_err(|e| IndexError(format!("{requirement} ; {marker}: {e}")))?;
        // An extra adds what holds with it and not without it.
        if extra.is_some() && holds {
            let without = evaluate(marker, &self.env).map_err(|e| IndexError(format!("{requirement}: {e}")))?;
            return Ok(!without);
        }
        Ok(holds)
    }

    /// What `name` `version` needs on the target (with `extra`: what the
    /// extra adds).
    fn needed(&self, name: &str, version: &Version, extra: Option<&str>) -> Result<Vec<Requirement>, IndexError> {
        let key = (name.to_string(), version.clone());
        let cached = self.requires.borrow().get(&key).cloned();
        let requires = match cached {
            Some(known) => known,
            None => {
                let fetched = Rc::new(self.index.requires(name, version).map_err(IndexError)?);
                self.requires.borrow_mut().insert(key, fetched.clone());
                fetched
            }
        };
        let mut out = Vec::new();
        for requirement in requires.iter() {
            if self.marker_holds(requirement, extra)? {
                out.push(requirement.clone());
            }
        }
        Ok(out)
    }

    fn constraints_of(
        &self,
        requirements: &[Requirement],
        own: Option<&str>,
    ) -> Result<DependencyConstraints<Node, Releases>, IndexError> {
        let mut out: DependencyConstraints<Node, Releases> = DependencyConstraints::default();
        for requirement in requirements {
            let allowed = self.allowed(&requirement.name, &requirement.specifiers)?;
            let nodes = std::iter::once(Node::Package(requirement.name.clone())).chain(
                requirement
                    .extras
                    .iter()
                    .map(|e| Node::Extra(requirement.name.clone(), e.clone())),
            );
            for node in nodes {
                // A package that names itself (for another of its extras)
                // is already there.
                if matches!(&node, Node::Package(n) if Some(n.as_str()) == own) {
                    continue;
                }
                let merged = match out.get(&node) {
                    Some(earlier) => earlier.intersection(&allowed),
                    None => allowed.clone(),
                };
                out.insert(node, merged);
            }
        }
        Ok(out)
    }
}

impl DependencyProvider for Provider<'_> {
    type P = Node;
    type V = Version;
    type VS = Releases;
    type M = String;
    type Err = IndexError;
    /// Conflicts seen, then fewer releases to choose from: decided first.
    type Priority = (u32, std::cmp::Reverse<usize>);

    fn prioritize(&self, _: &Node, range: &Releases, stats: &PackageResolutionStatistics) -> Self::Priority {
        let choices = if range.except { usize::MAX } else { range.listed.len() };
        (stats.conflict_count(), std::cmp::Reverse(choices))
    }

    fn choose_version(&self, node: &Node, range: &Releases) -> Result<Option<Version>, IndexError> {
        let name = match node {
            Node::Root => return Ok(range.listed.first().cloned().or_else(|| Version::from_str("0").ok())),
            Node::Package(name) | Node::Extra(name, _) => name,
        };
        Ok(self.versions(name)?.iter().rev().find(|v| range.contains(v)).cloned())
    }

    fn get_dependencies(
        &self,
        node: &Node,
        version: &Version,
    ) -> Result<Dependencies<Node, Releases, String>, IndexError> {
        let constraints = match node {
            Node::Root => {
                let mut wanted = Vec::new();
                for requirement in &self.roots {
                    if self.marker_holds(requirement, None)? {
                        wanted.push(requirement.clone());
                    }
                }
                self.constraints_of(&wanted, None)?
            }
            Node::Package(name) => self.constraints_of(&self.needed(name, version, None)?, Some(name))?,
            Node::Extra(name, extra) => {
                let mut constraints = self.constraints_of(&self.needed(name, version, Some(extra))?, Some(name))?;
                constraints.insert(Node::Package(name.clone()), Releases::singleton(version.clone()));
                constraints
            }
        };
        Ok(Dependencies::Available(constraints))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirement::parse;

    /// An index in memory: name → [(version, requires)].
    struct Fixture(HashMap<&'static str, Vec<(&'static str, Vec<&'static str>)>>);

    impl PackageIndex for Fixture {
        fn versions(&self, name: &str) -> Result<Vec<Version>, String> {
            let releases = self
                .0
                .get(name)
                .ok_or_else(|| format!("the index has no project {name}"))?;
            Ok(releases.iter().map(|(v, _)| Version::from_str(v).unwrap()).collect())
        }

        fn requires(&self, name: &str, version: &Version) -> Result<Vec<Requirement>, String> {
            let (_, requires) = self.0[name]
                .iter()
                .find(|(v, _)| Version::from_str(v).unwrap() == *version)
                .unwrap();
            Ok(requires.iter().map(|r| parse(r).unwrap()).collect())
        }
    }

    fn env() -> MarkerEnv {
        MarkerEnv {
            python: Some((3, 11)),
            machine: Some("x86_64".into()),
            extra: None,
        }
    }

    fn pins(resolved: &[Resolved]) -> Vec<String> {
        resolved.iter().map(|r| format!("{}=={}", r.name, r.version)).collect()
    }

    fn roots(lines: &[&str]) -> Vec<Requirement> {
        lines.iter().map(|l| parse(l).unwrap()).collect()
    }

    #[test]
    fn backtracks_out_of_a_conflict_and_follows_extras_and_markers() {
        let index = Fixture(HashMap::from([
            // app 2.0 needs lib>=2, which clashes with tool: back to app 1.0.
            ("app", vec![("1.0", vec!["lib<2"]), ("2.0", vec!["lib>=2"])]),
            (
                "tool",
                vec![("1.0", vec!["lib<2", "winonly ; sys_platform == 'win32'"])],
            ),
            ("lib", vec![("1.5", vec![]), ("2.0", vec![]), ("3.0a1", vec![])]),
            (
                "web",
                vec![(
                    "1.0",
                    vec![
                        "speedups ; extra == 'fast'",
                        "lib ; extra == 'fast' and python_version < '3'",
                    ],
                )],
            ),
            ("speedups", vec![("0.9", vec![])]),
        ]));
        let resolved = resolve(&roots(&["app", "tool", "web[fast]"]), &[], &env(), &index).unwrap();
        assert_eq!(
            pins(&resolved),
            ["app==1.0", "lib==1.5", "speedups==0.9", "tool==1.0", "web==1.0"]
        );
        let web = resolved.iter().find(|r| r.name == "web").unwrap();
        assert_eq!(web.requires, BTreeSet::from(["speedups".to_string()]));

        // A constraint narrows; a pre-release is taken only when asked for.
        let constrained = resolve(&roots(&["lib"]), &roots(&["lib<2"]), &env(), &index).unwrap();
        assert_eq!(pins(&constrained), ["lib==1.5"]);
        let pre = resolve(&roots(&["lib>=3.0a1"]), &[], &env(), &index).unwrap();
        assert_eq!(pins(&pre), ["lib==3.0a1"]);
        let latest = resolve(&roots(&["lib"]), &[], &env(), &index).unwrap();
        assert_eq!(pins(&latest), ["lib==2.0"]);
    }

    #[test]
    fn no_solution_is_explained() {
        let index = Fixture(HashMap::from([
            ("a", vec![("1.0", vec!["c==1.0"])]),
            ("b", vec![("1.0", vec!["c==2.0"])]),
            ("c", vec![("1.0", vec![]), ("2.0", vec![])]),
        ]));
        let err = resolve(&roots(&["a", "b"]), &[], &env(), &index).unwrap_err();
        assert!(
            err.starts_with("no set of releases satisfies the requirements:"),
            "{err}"
        );
        assert!(err.contains("a") && err.contains("b") && err.contains("c"), "{err}");
        let err = resolve(&roots(&["nosuch"]), &[], &env(), &index).unwrap_err();
        assert!(err.contains("the index has no project nosuch"), "{err}");
    }
}
