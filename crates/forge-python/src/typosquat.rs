//! Typo-squat warnings: is a project name a near miss of one of PyPI's
//! most downloaded projects (`reqeusts` → `requests`)?
//!
//! Offline, from the list shipped in `data/pypi-top-names.txt`. Variants
//! are made of the candidate and looked up (as typomania and PyPI's own
//! check do), so a lookup costs the length of the name, not of the list:
//! a letter added, left out, doubled or swapped with its neighbour, a
//! keyboard-neighbour or look-alike typo, letters repeated, words of a
//! `-` name reordered,
//! a `python-`/`py-` affix added or removed, and PyPI's "ultranormalized"
//! collision (separators dropped, `l`/`i` as `1`, `o` as `0`). A name that
//! is itself on the list never warns: popular projects that look alike
//! (`boto` and `boto3`) are both real.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::names::normalize;

const LIST: &str = include_str!("../data/pypi-top-names.txt");

/// Near misses are looked for among the most downloaded of the list only:
/// the measured false-warning rate against every other PyPI name is 0.6 %
/// for the top 5,000 and 1.5 % for all 15,000.
const TARGETS: usize = 5_000;

/// Shorter names have too many real neighbours.
const MIN_LEN: usize = 5;

struct Corpus {
    /// Every listed name (never warned about).
    all: HashSet<&'static str>,
    /// Rank (1 = most downloaded) of the names near misses are measured
    /// against.
    targets: HashMap<&'static str, usize>,
    /// Ultranormalized form → the best-ranked target with it.
    ultra: HashMap<String, &'static str>,
    /// With runs of one letter made one → the best-ranked target.
    collapsed: HashMap<String, &'static str>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let names: Vec<&'static str> = LIST.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
        let mut ultra = HashMap::new();
        let mut collapsed = HashMap::new();
        for name in names.iter().take(TARGETS).filter(|n| n.len() >= 4) {
            ultra.entry(ultranormalize(name)).or_insert(*name);
            collapsed.entry(collapse(name)).or_insert(*name);
        }
        Corpus {
            all: names.iter().copied().collect(),
            targets: names
                .iter()
                .take(TARGETS)
                .enumerate()
                .filter(|(_, n)| n.len() >= 4)
                .map(|(i, n)| (*n, i + 1))
                .collect(),
            ultra,
            collapsed,
        }
    })
}

/// Runs of one character made one (`reeequests` → `requests`).
fn collapse(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// PyPI's collision form: no separators, `l`/`i` → `1`, `o` → `0`.
fn ultranormalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .map(|c| match c.to_ascii_lowercase() {
            'l' | 'i' => '1',
            'o' => '0',
            other => other,
        })
        .collect()
}

/// Letters a finger or an eye takes for each other (QWERTY neighbours and
/// look-alikes).
fn typos(c: char) -> &'static str {
    match c {
        'q' => "wa",
        'w' => "qes",
        'e' => "wrd",
        'r' => "etf",
        't' => "ryg",
        'y' => "tuhi",
        'u' => "yij",
        'i' => "uokl1y",
        'o' => "ip0l",
        'p' => "o",
        'a' => "qsz",
        's' => "adwz",
        'd' => "sfe",
        'f' => "dgr",
        'g' => "fht",
        'h' => "gjy",
        'j' => "hku",
        'k' => "jli",
        'l' => "ki1",
        'z' => "asx",
        'x' => "zc",
        'c' => "xv",
        'v' => "cb",
        'b' => "vn",
        'n' => "bm",
        'm' => "n",
        '1' => "li",
        '0' => "o",
        _ => "",
    }
}

/// A near miss found: the popular project and how the name differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearMiss {
    /// The popular project's (normalized) name.
    pub popular: String,
    /// Its download rank.
    pub rank: usize,
    /// How the name differs from it.
    pub how: &'static str,
}

impl NearMiss {
    /// The warning for a package called `name`.
    pub fn warning(&self, name: &str) -> String {
        format!(
            "'{name}' is a near miss of '{}', PyPI's #{} most downloaded project (it {}): make sure you mean it, not a typo-squat",
            self.popular, self.rank, self.how
        )
    }
}

/// The most downloaded project `name` is a near miss of, if any.
pub fn near_miss(name: &str) -> Option<NearMiss> {
    let name = normalize(name);
    let corpus = corpus();
    if corpus.all.contains(name.as_str()) || name.len() < MIN_LEN {
        return None;
    }
    let mut best: Option<NearMiss> = None;
    let mut consider = |candidate: &str, how: &'static str| {
        if candidate == name {
            return;
        }
        if let Some((&popular, &rank)) = corpus.targets.get_key_value(candidate)
            && best.as_ref().is_none_or(|b| rank < b.rank)
        {
            best = Some(NearMiss {
                popular: popular.to_string(),
                rank,
                how,
            });
        }
    };
    let chars: Vec<char> = name.chars().collect();
    let text = |cs: &[char]| cs.iter().collect::<String>();
    for i in 0..chars.len() {
        // A letter added (or doubled) by mistake.
        let mut fewer = chars.clone();
        fewer.remove(i);
        consider(&text(&fewer), "has a letter more");
        // A neighbour on the keyboard, or a look-alike.
        for typo in typos(chars[i]).chars() {
            let mut other = chars.clone();
            other[i] = typo;
            consider(&text(&other), "has a mistyped letter");
        }
        // Two letters swapped.
        if i + 1 < chars.len() {
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            consider(&text(&swapped), "has two letters swapped");
        }
    }
    // A letter left out.
    for i in 0..=chars.len() {
        for c in "abcdefghijklmnopqrstuvwxyz0123456789-".chars() {
            let mut more = chars.clone();
            more.insert(i, c);
            consider(&text(&more), "misses a letter");
        }
    }
    // Words reordered.
    let words: Vec<&str> = name.split('-').collect();
    if (2..=4).contains(&words.len()) {
        for permutation in permutations(&words) {
            consider(&permutation.join("-"), "has its words in another order");
        }
    }
    // Affixes added or removed.
    for affix in ["python-", "py-"] {
        consider(&format!("{affix}{name}"), "lacks a prefix");
        if let Some(rest) = name.strip_prefix(affix) {
            consider(rest, "has a prefix added");
        }
    }
    for affix in ["-python", "-py"] {
        consider(&format!("{name}{affix}"), "lacks a suffix");
        if let Some(rest) = name.strip_suffix(affix) {
            consider(rest, "has a suffix added");
        }
    }
    if let Some(&popular) = corpus.ultra.get(&ultranormalize(&name)) {
        consider(popular, "differs only in separators or look-alike letters");
    }
    if let Some(&popular) = corpus.collapsed.get(&collapse(&name)) {
        consider(popular, "has a letter repeated");
    }
    best
}

fn permutations<'a>(words: &[&'a str]) -> Vec<Vec<&'a str>> {
    if words.len() <= 1 {
        return vec![words.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..words.len() {
        let mut rest = words.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            out.push(tail);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_squats_are_caught() {
        // PyPI warehouse's own test vectors, and squats seen in the wild.
        for (squat, popular) in [
            ("reqeusts", "requests"),
            ("reeequests", "requests"),
            ("requestz", "requests"),
            ("nuumpy", "numpy"),
            ("numpi", "numpy"),
            ("python-dteutil", "python-dateutil"),
            ("pythondateutil", "python-dateutil"),
            ("dateutil-python", "python-dateutil"),
            ("urlib3", "urllib3"),
            ("colourama", "colorama"),
        ] {
            let found = near_miss(squat).unwrap_or_else(|| panic!("{squat} is not caught"));
            assert_eq!(found.popular, popular, "{squat}");
        }
    }

    #[test]
    fn popular_names_and_unrelated_names_never_warn() {
        let listed: Vec<&str> = LIST.lines().filter(|l| !l.starts_with('#')).collect();
        let warned: Vec<&&str> = listed.iter().filter(|n| near_miss(n).is_some()).collect();
        assert!(warned.is_empty(), "{warned:?}");
        for name in ["my-company-internal-tool", "hello-forge", "zzzzqqqq"] {
            assert_eq!(near_miss(name), None, "{name}");
        }
    }
}

/// How often the check warns on names that are not popular: run with
/// `FORGE_NAME_CORPUS=FILE` (one name per line, or a TSV whose first column
/// is the name) and `cargo test -p forge-python -- --ignored false_warnings`.
#[cfg(test)]
#[test]
#[ignore = "needs a corpus of PyPI names: FORGE_NAME_CORPUS"]
fn false_warnings() {
    let path = std::env::var("FORGE_NAME_CORPUS").expect("FORGE_NAME_CORPUS");
    let text = std::fs::read_to_string(path).unwrap();
    let corpus = corpus();
    let names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(normalize)
        .filter(|n| !corpus.all.contains(n.as_str()))
        .collect();
    let warned = names.iter().filter(|n| near_miss(n).is_some()).count();
    eprintln!(
        "{warned} of {} names warn ({:.2} %)",
        names.len(),
        100.0 * warned as f64 / names.len() as f64
    );
}
