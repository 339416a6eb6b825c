//! The dependency graph: loading every element reachable from the targets,
//! cycle detection, BuildStream's deterministic dependency order, and the
//! walks by scope. Everything is iterative: depth is only limited by memory.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};

use crate::element::{Element, check_element_name, load_element};
use crate::error::{LoadError, did_you_mean};
use crate::parallel;
use crate::project::Project;

/// A resolved edge to a dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The dependency's index in [`Graph::elements`].
    pub element: usize,
    /// Needed to build.
    pub build: bool,
    /// Needed at run time.
    pub runtime: bool,
    /// Declared `strict: true`.
    pub strict: bool,
}

/// Which dependencies a walk follows (BuildStream's scopes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The elements themselves.
    None,
    /// What is staged to build them: build deps and their runtime closure.
    Build,
    /// What they need at run time, themselves included.
    Run,
    /// Everything, themselves included.
    All,
}

/// Every element reachable from the targets, with sorted edges.
pub struct Graph {
    /// The elements, in load order.
    pub elements: Vec<Element>,
    /// Each element's dependencies in staging order.
    pub edges: Vec<Vec<Edge>>,
    /// The targets asked for.
    pub targets: Vec<usize>,
    /// Every element, dependencies before dependents.
    pub topological: Vec<usize>,
    index: HashMap<String, usize>,
}

impl Graph {
    /// Loads `targets` and everything they depend on.
    ///
    /// Elements load on every core. Results do not depend on timing: the
    /// elements are numbered by name, and when several fail, the error of
    /// the first by name is reported.
    pub fn load(project: &Arc<Project>, targets: &[String]) -> Result<Graph, LoadError> {
        Graph::load_with(project, targets, true)
    }

    /// [`Graph::load`] with every element's sources as its file writes
    /// them, open workspaces or not (to track them, or open a workspace).
    pub fn load_as_written(project: &Arc<Project>, targets: &[String]) -> Result<Graph, LoadError> {
        Graph::load_with(project, targets, false)
    }

    fn load_with(project: &Arc<Project>, targets: &[String], workspaces: bool) -> Result<Graph, LoadError> {
        for target in targets {
            check_element_name(target, None)?;
        }
        let (loaded, redirects) = load_closure(project, targets);
        let mut failures: Vec<(String, LoadError)> = Vec::new();
        let mut elements: Vec<Element> = Vec::with_capacity(loaded.len());
        for (name, result) in loaded {
            match result {
                Ok(element) => elements.push(element),
                Err(err) => failures.push((name, err)),
            }
        }
        if let Some((_, err)) = failures.into_iter().min_by(|a, b| a.0.cmp(&b.0)) {
            return Err(err);
        }
        if workspaces && !project.workspaces.is_empty() {
            for element in &mut elements {
                if let Some(dir) = project.workspaces.get(&element.name) {
                    crate::workspaces::replace_sources(element, dir)?;
                }
            }
        }
        // Links and overridden elements stand for others: follow them.
        let resolve = |name: &str| -> String {
            let mut current = name.to_string();
            let mut steps = 0;
            while let Some(next) = redirects.get(&current) {
                current = next.clone();
                steps += 1;
                if steps > redirects.len() {
                    break;
                }
            }
            current
        };
        for element in &mut elements {
            for dep in &mut element.dependencies {
                dep.name = resolve(&dep.name);
            }
            merge_duplicate_dependencies(&mut element.dependencies);
        }
        elements.sort_by(|a, b| a.name.cmp(&b.name));
        let mut index: HashMap<String, usize> = elements.iter().enumerate().map(|(i, e)| (e.name.clone(), i)).collect();
        for (from, _) in redirects.iter() {
            if let Some(&target) = index.get(&resolve(from)) {
                index.insert(from.clone(), target);
            }
        }
        for element in &elements {
            let kind_of = |e: &Element| {
                e.project
                    .kinds
                    .element(&e.kind)
                    .expect("loaded elements have known kinds")
                    .clone()
            };
            let kinds: Vec<Arc<dyn crate::ElementKind>> = element
                .dependencies
                .iter()
                .map(|d| kind_of(&elements[index[&d.name]]))
                .collect();
            let direct: Vec<(&Element, &dyn crate::ElementKind)> = element
                .dependencies
                .iter()
                .zip(&kinds)
                .map(|(d, k)| (&elements[index[&d.name]], k.as_ref()))
                .collect();
            kind_of(element).validate_dependencies(element, &direct)?;
            if let Some(dep) = element.dependencies.iter().find(|d| elements[index[&d.name]].junction) {
                return Err(LoadError::at(
                    &dep.span,
                    format!(
                        "{} depends on the junction '{}': a junction cannot be depended on",
                        element.name, dep.name
                    ),
                )
                .with_hint(format!(
                    "depend on an element of the subproject: '{}:element.bst'",
                    dep.name
                )));
            }
        }
        let target_ids = targets.iter().map(|t| index[t]).collect();
        let unsorted: Vec<Vec<Edge>> = elements
            .iter()
            .map(|e| {
                e.dependencies
                    .iter()
                    .map(|d| Edge {
                        element: index[&d.name],
                        build: d.build,
                        runtime: d.runtime,
                        strict: d.strict,
                    })
                    .collect()
            })
            .collect();
        let topological = topological_order(&elements, &unsorted)?;
        let edges = sort_dependencies(&elements, unsorted, &topological);
        Ok(Graph {
            elements,
            edges,
            targets: target_ids,
            topological,
            index,
        })
    }

    /// The index of element `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Which elements come from an open workspace, themselves or through
    /// any dependency: BuildStream's "tainted" artifacts, which reflect
    /// edits nobody else has, so they are never pushed or pulled.
    pub fn from_workspaces(&self) -> Vec<bool> {
        let mut tainted: Vec<bool> = self.elements.iter().map(|e| e.workspace.is_some()).collect();
        if tainted.contains(&true) {
            for &i in &self.topological {
                if !tainted[i] && self.edges[i].iter().any(|edge| tainted[edge.element]) {
                    tainted[i] = true;
                }
            }
        }
        tainted
    }

    /// Direct build dependencies in staging order.
    pub fn build_deps(&self, element: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges[element].iter().filter(|e| e.build).map(|e| e.element)
    }

    /// Direct runtime dependencies in staging order.
    pub fn runtime_deps(&self, element: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges[element].iter().filter(|e| e.runtime).map(|e| e.element)
    }

    /// Direct dependencies of any type, each once: build ones first, as
    /// `bst show %{deps}` lists them.
    pub fn direct_deps(&self, element: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self.build_deps(element).collect();
        for dep in self.runtime_deps(element) {
            if !out.contains(&dep) {
                out.push(dep);
            }
        }
        out
    }

    /// The elements in `scope` of `roots`, in staging order, each once
    /// (BuildStream's `_dependencies` with one shared visited set).
    pub fn walk(&self, roots: &[usize], scope: Scope) -> Vec<usize> {
        if scope == Scope::None {
            let mut out = Vec::new();
            for &r in roots {
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            return out;
        }
        let n = self.elements.len();
        let mut visited_build = vec![false; n];
        let mut visited_run = vec![false; n];
        let mut out = Vec::new();
        struct Frame {
            element: usize,
            scope: Scope,
            child: usize,
        }
        for &root in roots {
            let skip = match scope {
                Scope::Build => visited_build[root],
                Scope::Run => visited_run[root],
                _ => visited_build[root] || visited_run[root],
            };
            if skip {
                continue;
            }
            let mut stack = vec![Frame {
                element: root,
                scope,
                child: 0,
            }];
            mark(&mut visited_build, &mut visited_run, root, scope);
            while let Some(frame) = stack.last_mut() {
                let children: &[Edge] = &self.edges[frame.element];
                // Build scope lists build deps, run scope runtime deps, all
                // scope build deps then runtime deps.
                let total = if frame.scope == Scope::All {
                    children.len() * 2
                } else {
                    children.len()
                };
                let mut pushed = None;
                while frame.child < total {
                    let position = frame.child;
                    frame.child += 1;
                    let (edge, as_build) = if position < children.len() {
                        (children[position], frame.scope != Scope::Run)
                    } else {
                        (children[position - children.len()], false)
                    };
                    let child = edge.element;
                    let (follows, child_scope, visit) = match frame.scope {
                        Scope::All => {
                            let follows = if as_build { edge.build } else { edge.runtime };
                            (follows, Scope::All, !visited_build[child] && !visited_run[child])
                        }
                        Scope::Build => (edge.build, Scope::Run, !visited_run[child]),
                        _ => (edge.runtime, Scope::Run, !visited_run[child]),
                    };
                    if follows && visit {
                        pushed = Some(Frame {
                            element: child,
                            scope: child_scope,
                            child: 0,
                        });
                        break;
                    }
                }
                match pushed {
                    Some(child) => {
                        mark(&mut visited_build, &mut visited_run, child.element, child.scope);
                        stack.push(child);
                    }
                    None => {
                        let done = stack.pop().expect("non-empty");
                        if done.scope != Scope::Build {
                            out.push(done.element);
                        }
                    }
                }
            }
        }
        out
    }
}

/// What a name in the graph is.
enum Resolved {
    /// An element of `project`, by its local name.
    Element(Arc<Project>, String),
    /// Another name (an element a junction overrides).
    Redirect(String),
}

/// Finds the project and local name of a name qualified from the top
/// (`a.bst:b.bst:c.bst`), loading subprojects on the way, and applying the
/// elements their junctions override.
fn resolve(top: &Arc<Project>, name: &str, from: Option<&forge_yaml::Span>) -> Result<Resolved, LoadError> {
    let mut project = top.clone();
    let mut rest = name;
    loop {
        if let Some(info) = &project.junction
            && let Some(replacement) = info.overrides.get(rest)
        {
            return Ok(Resolved::Redirect(replacement.clone()));
        }
        let Some(at) = rest.find(".bst:") else {
            return Ok(Resolved::Element(project, rest.to_string()));
        };
        let junction = &rest[..at + 4];
        project = project.subproject(junction, from)?;
        rest = &rest[at + 5..];
    }
}

/// Merges dependencies that name the same element after links and
/// overrides were followed.
fn merge_duplicate_dependencies(deps: &mut Vec<crate::element::Dependency>) {
    let mut merged: Vec<crate::element::Dependency> = Vec::with_capacity(deps.len());
    for dep in deps.drain(..) {
        match merged.iter_mut().find(|d| d.name == dep.name) {
            Some(existing) => {
                existing.build |= dep.build;
                existing.runtime |= dep.runtime;
                existing.strict |= dep.strict;
                existing.config.extend(dep.config);
            }
            None => merged.push(dep),
        }
    }
    *deps = merged;
}

/// Every element loaded for a graph, and the names that stand for others.
type Loaded = (Vec<(String, Result<Element, LoadError>)>, HashMap<String, String>);

/// Splits `targets` into those whose whole closure loads and those that
/// do not (each with the first error of its closure), for reports over a
/// whole project where one broken element must not hide the rest.
pub fn loadable_targets(project: &Arc<Project>, targets: &[String]) -> (Vec<String>, Vec<(String, LoadError)>) {
    let (loaded, redirects) = load_closure(project, targets);
    let mut dependencies: HashMap<String, Vec<String>> = HashMap::new();
    let mut errors: HashMap<String, LoadError> = HashMap::new();
    for (name, result) in loaded {
        match result {
            Ok(element) => {
                dependencies.insert(name, element.dependencies.into_iter().map(|d| d.name).collect());
            }
            Err(err) => {
                errors.insert(name, err);
            }
        }
    }
    for (from, to) in &redirects {
        dependencies.insert(from.clone(), vec![to.clone()]);
    }
    // The first error in each name's closure, found without recursion.
    let mut verdict: HashMap<String, Option<LoadError>> = HashMap::new();
    let mut loadable = Vec::new();
    let mut broken = Vec::new();
    for target in targets {
        let mut stack = vec![(target.clone(), 0usize)];
        let mut on_stack: HashSet<String> = HashSet::from([target.clone()]);
        while let Some((name, next)) = stack.pop() {
            if verdict.contains_key(&name) {
                on_stack.remove(&name);
                continue;
            }
            if let Some(err) = errors.get(&name) {
                verdict.insert(name.clone(), Some(err.clone()));
                on_stack.remove(&name);
                continue;
            }
            let deps = dependencies.get(&name).map(Vec::as_slice).unwrap_or_default();
            match deps.get(next) {
                Some(dep) if !verdict.contains_key(dep) && !on_stack.contains(dep) => {
                    stack.push((name, next + 1));
                    on_stack.insert(dep.clone());
                    stack.push((dep.clone(), 0));
                }
                Some(_) => stack.push((name, next + 1)),
                None => {
                    // Cycles are left for the graph to report.
                    let first = deps.iter().find_map(|d| verdict.get(d).cloned().flatten());
                    verdict.insert(name.clone(), first);
                    on_stack.remove(&name);
                }
            }
        }
        match verdict.get(target).cloned().flatten() {
            None => loadable.push(target.clone()),
            Some(err) => broken.push((target.clone(), err)),
        }
    }
    (loadable, broken)
}

/// Loads every element reachable from `targets`, each once, on every core.
fn load_closure(project: &Arc<Project>, targets: &[String]) -> Loaded {
    struct Queue {
        pending: Vec<(String, Option<forge_yaml::Span>)>,
        seen: HashSet<String>,
        busy: usize,
        done: Vec<(String, Result<Element, LoadError>)>,
        redirects: HashMap<String, String>,
    }
    let mut seen = HashSet::new();
    let mut pending = Vec::new();
    for target in targets {
        if seen.insert(target.clone()) {
            pending.push((target.clone(), None));
        }
    }
    let queue = Mutex::new(Queue {
        pending,
        seen,
        busy: 0,
        done: Vec::new(),
        redirects: HashMap::new(),
    });
    let wake = Condvar::new();
    let worker = || loop {
        let (name, from) = {
            let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = q.pending.pop() {
                    q.busy += 1;
                    break job;
                }
                if q.busy == 0 {
                    wake.notify_all();
                    return;
                }
                q = wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = resolve(project, &name, from.as_ref()).and_then(|resolved| match resolved {
            Resolved::Redirect(target) => Ok(Err(target)),
            Resolved::Element(owner, local) => read_element(&owner, &local, from.as_ref())
                .and_then(|text| load_element(&owner, &local, &text))
                .map(Ok),
        });
        let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
        let follow = |q: &mut Queue, next: &str, span: &forge_yaml::Span| {
            if q.seen.insert(next.to_string()) {
                q.pending.push((next.to_string(), Some(span.clone())));
            }
        };
        match result {
            Ok(Ok(element)) => {
                if let Some(target) = element.link.clone() {
                    follow(&mut q, &target, &element.kind_span);
                    q.redirects.insert(name, target);
                } else {
                    for dep in &element.dependencies {
                        follow(&mut q, &dep.name, &dep.span);
                    }
                    q.done.push((name, Ok(element)));
                }
            }
            Ok(Err(target)) => {
                let span = from
                    .clone()
                    .unwrap_or_else(|| forge_yaml::Span::synthetic("<override>"));
                follow(&mut q, &target, &span);
                q.redirects.insert(name, target);
            }
            Err(err) => q.done.push((name, Err(err))),
        }
        q.busy -= 1;
        wake.notify_all();
    };
    std::thread::scope(|scope| {
        for _ in 1..parallel::workers() {
            scope.spawn(worker);
        }
        worker();
    });
    let q = queue.into_inner().unwrap_or_else(|e| e.into_inner());
    (q.done, q.redirects)
}

fn mark(build: &mut [bool], run: &mut [bool], element: usize, scope: Scope) {
    match scope {
        Scope::All => {
            build[element] = true;
            run[element] = true;
        }
        Scope::Build => build[element] = true,
        Scope::Run => run[element] = true,
        Scope::None => {}
    }
}

pub(crate) fn read_element(
    project: &Project,
    name: &str,
    from: Option<&forge_yaml::Span>,
) -> Result<String, LoadError> {
    let path = project.element_path.join(name);
    let display = project.element_display_path(name);
    crate::error::read_text(&path, &display).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("element '{name}' not found: there is no file {display}")
        } else {
            format!("cannot read {display}: {e}")
        };
        let err = match from {
            Some(span) => LoadError::at(span, message),
            None => LoadError::new(message),
        };
        match nearest_element_name(project, name).filter(|_| e.kind() == std::io::ErrorKind::NotFound) {
            Some(near) => err.with_hint(format!("did you mean '{near}'?")),
            None => err,
        }
    })?
}

/// Every `.bst` file under the element path, as element names, sorted.
pub fn all_element_names(project: &Project) -> Vec<String> {
    let mut names = Vec::new();
    let mut dirs = vec![project.element_path.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "bst")
                && let Ok(relative) = path.strip_prefix(&project.element_path)
            {
                names.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    names
}

fn nearest_element_name(project: &Project, name: &str) -> Option<String> {
    let names = all_element_names(project);
    did_you_mean(name, names.iter().map(String::as_str)).map(str::to_string)
}

/// Dependencies before dependents, or the first cycle found.
fn topological_order(elements: &[Element], edges: &[Vec<Edge>]) -> Result<Vec<usize>, LoadError> {
    const WHITE: u8 = 0;
    const GREY: u8 = 1;
    const BLACK: u8 = 2;
    let mut color = vec![WHITE; elements.len()];
    let mut order = Vec::with_capacity(elements.len());
    for root in 0..elements.len() {
        if color[root] != WHITE {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        color[root] = GREY;
        while let Some((node, child)) = stack.last_mut() {
            if let Some(edge) = edges[*node].get(*child) {
                *child += 1;
                let next = edge.element;
                match color[next] {
                    WHITE => {
                        color[next] = GREY;
                        stack.push((next, 0));
                    }
                    GREY => {
                        let from = *node;
                        let start = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut chain: Vec<&str> =
                            stack[start..].iter().map(|(n, _)| elements[*n].name.as_str()).collect();
                        chain.push(&elements[next].name);
                        let dep = elements[from]
                            .dependencies
                            .iter()
                            .find(|d| d.name == elements[next].name)
                            .expect("edge comes from a dependency");
                        return Err(LoadError::at(
                            &dep.span,
                            format!("circular dependency detected at element '{}'", elements[next].name),
                        )
                        .with_detail(format!("dependency chain: {}", chain.join(" -> "))));
                    }
                    _ => {}
                }
            } else {
                color[*node] = BLACK;
                order.push(*node);
                stack.pop();
            }
        }
    }
    Ok(order)
}

/// Sorts each element's dependencies as BuildStream does: a dependency that
/// (transitively) depends on a sibling comes after it; otherwise runtime-only
/// ones come last, and the rest by name.
fn sort_dependencies(elements: &[Element], mut edges: Vec<Vec<Edge>>, topological: &[usize]) -> Vec<Vec<Edge>> {
    if edges.iter().all(|e| e.len() < 2) {
        return edges;
    }
    let closure = Closure::compute(&edges, topological);
    for list in edges.iter_mut().filter(|l| l.len() >= 2) {
        let compare = |a: &Edge, b: &Edge| -> Ordering {
            if closure.depends(a.element, b.element) {
                return Ordering::Greater;
            }
            if closure.depends(b.element, a.element) {
                return Ordering::Less;
            }
            let runtime_only = |e: &Edge| e.runtime && !e.build;
            match (runtime_only(a), runtime_only(b)) {
                (true, false) => return Ordering::Greater,
                (false, true) => return Ordering::Less,
                _ => {}
            }
            // By the name within each element's own project; between
            // equal names, elements of subprojects first (BuildStream's
            // comparison does that, whatever its comment says), and
            // subprojects by their junction.
            let (ea, eb) = (&elements[a.element], &elements[b.element]);
            ea.local_name().cmp(eb.local_name()).then_with(|| {
                match (ea.project.prefix.is_empty(), eb.project.prefix.is_empty()) {
                    (false, false) => ea.project.prefix.cmp(&eb.project.prefix),
                    (false, true) => Ordering::Less,
                    (true, false) => Ordering::Greater,
                    (true, true) => Ordering::Equal,
                }
            })
        };
        crate::pysort::sort(list, &|a, b| compare(a, b) == Ordering::Less);
    }
    edges
}

/// Transitive dependencies of every element, as bitsets.
struct Closure {
    words: usize,
    bits: Vec<u64>,
}

impl Closure {
    fn compute(edges: &[Vec<Edge>], topological: &[usize]) -> Closure {
        let n = edges.len();
        let words = n.div_ceil(64);
        let mut bits = vec![0u64; n * words];
        for &element in topological {
            for edge in &edges[element] {
                let dep = edge.element;
                let (low, high) = if dep < element { (dep, element) } else { (element, dep) };
                let (first, second) = bits.split_at_mut(high * words);
                let (dep_bits, own_bits) = if dep < element {
                    (&first[low * words..(low + 1) * words], &mut second[..words])
                } else {
                    (&second[..words], &mut first[low * words..(low + 1) * words])
                };
                for (own, theirs) in own_bits.iter_mut().zip(dep_bits) {
                    *own |= theirs;
                }
                own_bits[dep / 64] |= 1 << (dep % 64);
            }
        }
        Closure { words, bits }
    }

    fn depends(&self, element: usize, on: usize) -> bool {
        self.bits[element * self.words + on / 64] & (1 << (on % 64)) != 0
    }
}
