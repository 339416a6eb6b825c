//! Which wheels a Python target can use, most specific first.

/// The Python a project builds for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `3.11`.
    pub version: (u32, u32),
    /// `cp`.
    pub implementation: String,
    /// Platform tags, most preferred first (`manylinux_2_36_x86_64`, ...).
    pub platforms: Vec<String>,
}

/// The platform tags a glibc Linux of this version and architecture runs:
/// `manylinux_2_X_arch` from X down to 5 (with the legacy aliases), then
/// `linux_arch`.
pub fn manylinux_platforms(glibc: (u32, u32), arch: &str) -> Vec<String> {
    let mut out = Vec::new();
    for minor in (5..=glibc.1).rev() {
        out.push(format!("manylinux_{}_{minor}_{arch}", glibc.0));
        match minor {
            17 => out.push(format!("manylinux2014_{arch}")),
            12 => out.push(format!("manylinux2010_{arch}")),
            5 => out.push(format!("manylinux1_{arch}")),
            _ => {}
        }
    }
    out.push(format!("linux_{arch}"));
    out
}

/// Every tag triple a target accepts, most specific first, as `packaging`
/// orders them. Without a target only pure-Python tags qualify, so a
/// project that declares none never depends on the machine that tracked it.
pub fn compatible_tags(target: Option<&Target>) -> Vec<(String, String, String)> {
    let mut tags = Vec::new();
    let any = "any".to_string();
    let Some(target) = target else {
        for python in ["py3", "py2.py3"] {
            tags.push((python.to_string(), "none".to_string(), any.clone()));
        }
        return tags;
    };
    let (major, minor) = target.version;
    let interpreter = format!("{}{major}{minor}", target.implementation);
    for platform in &target.platforms {
        tags.push((interpreter.clone(), interpreter.clone(), platform.clone()));
    }
    for platform in &target.platforms {
        tags.push((interpreter.clone(), "abi3".into(), platform.clone()));
    }
    for platform in &target.platforms {
        tags.push((interpreter.clone(), "none".into(), platform.clone()));
    }
    for older in (2..minor).rev() {
        for platform in &target.platforms {
            tags.push((
                format!("{}{major}{older}", target.implementation),
                "abi3".into(),
                platform.clone(),
            ));
        }
    }
    for platform in &target.platforms {
        for python in [format!("py{major}{minor}"), format!("py{major}")] {
            tags.push((python, "none".into(), platform.clone()));
        }
    }
    for older in (0..minor).rev() {
        for platform in &target.platforms {
            tags.push((format!("py{major}{older}"), "none".into(), platform.clone()));
        }
    }
    tags.push((interpreter, "none".into(), any.clone()));
    tags.push((format!("py{major}{minor}"), "none".into(), any.clone()));
    tags.push((format!("py{major}"), "none".into(), any.clone()));
    for older in (0..minor).rev() {
        tags.push((format!("py{major}{older}"), "none".into(), any.clone()));
    }
    tags
}

/// How good a wheel's tags are for `tags` (lower is better), or `None` if
/// none of its tag triples is accepted. `py2.py3` style compressed tags
/// expand to every combination.
pub fn rank(
    python: &[String],
    abi: &[String],
    platform: &[String],
    tags: &[(String, String, String)],
) -> Option<usize> {
    let mut best: Option<usize> = None;
    for p in python {
        for a in abi {
            for pl in platform {
                if let Some(i) = tags.iter().position(|(tp, ta, tpl)| tp == p && ta == a && tpl == pl) {
                    best = Some(best.map_or(i, |b| b.min(i)));
                }
            }
        }
    }
    // `py2.py3-none-any` is spelled as one tag in the no-target list.
    if best.is_none() && python.len() > 1 {
        let joined = python.join(".");
        for a in abi {
            for pl in platform {
                if let Some(i) = tags
                    .iter()
                    .position(|(tp, ta, tpl)| *tp == joined && ta == a && tpl == pl)
                {
                    best = Some(i);
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn without_a_target_only_pure_wheels() {
        let tags = compatible_tags(None);
        assert!(rank(&v(&["py3"]), &v(&["none"]), &v(&["any"]), &tags).is_some());
        assert!(rank(&v(&["py2", "py3"]), &v(&["none"]), &v(&["any"]), &tags).is_some());
        assert!(rank(&v(&["cp311"]), &v(&["cp311"]), &v(&["manylinux_2_17_x86_64"]), &tags).is_none());
    }

    #[test]
    fn a_target_prefers_specific_wheels() {
        let target = Target {
            version: (3, 11),
            implementation: "cp".into(),
            platforms: manylinux_platforms((2, 36), "x86_64"),
        };
        let tags = compatible_tags(Some(&target));
        let native = rank(
            &v(&["cp311"]),
            &v(&["cp311"]),
            &v(&["manylinux_2_17_x86_64", "manylinux2014_x86_64"]),
            &tags,
        )
        .unwrap();
        let abi3 = rank(&v(&["cp38"]), &v(&["abi3"]), &v(&["manylinux2014_x86_64"]), &tags).unwrap();
        let pure = rank(&v(&["py3"]), &v(&["none"]), &v(&["any"]), &tags).unwrap();
        assert!(native < abi3 && abi3 < pure);
        assert!(rank(&v(&["cp312"]), &v(&["cp312"]), &v(&["manylinux_2_17_x86_64"]), &tags).is_none());
        assert!(rank(&v(&["cp311"]), &v(&["cp311"]), &v(&["manylinux_2_38_x86_64"]), &tags).is_none());
        assert!(rank(&v(&["cp311"]), &v(&["cp311"]), &v(&["macosx_11_0_arm64"]), &tags).is_none());
    }
}
