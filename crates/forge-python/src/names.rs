//! Project names and distribution file names.

/// A project name normalised as PEP 503 says: lowercase, runs of `-_.`
/// become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('-');
            }
            separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// What a distribution file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DistFile {
    /// A wheel and its tags.
    Wheel {
        /// The project name as written in the file name.
        name: String,
        /// The version.
        version: String,
        /// Python tags (`py3`, `cp311`).
        python: Vec<String>,
        /// ABI tags (`none`, `abi3`, `cp311`).
        abi: Vec<String>,
        /// Platform tags (`any`, `manylinux_2_17_x86_64`).
        platform: Vec<String>,
    },
    /// A source distribution.
    Sdist {
        /// The project name as written.
        name: String,
        /// The version.
        version: String,
    },
}

impl DistFile {
    /// The version in the file name.
    pub fn version(&self) -> &str {
        match self {
            DistFile::Wheel { version, .. } | DistFile::Sdist { version, .. } => version,
        }
    }

    /// The project name in the file name.
    pub fn name(&self) -> &str {
        match self {
            DistFile::Wheel { name, .. } | DistFile::Sdist { name, .. } => name,
        }
    }
}

/// Parses a wheel (`name-version(-build)?-py-abi-plat.whl`) or sdist
/// (`name-version.tar.gz` / `.zip`) file name.
pub fn parse_filename(filename: &str) -> Option<DistFile> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        let parts: Vec<&str> = stem.split('-').collect();
        if parts.len() != 5 && parts.len() != 6 {
            return None;
        }
        let n = parts.len();
        let split = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        return Some(DistFile::Wheel {
            name: parts[0].to_string(),
            version: parts[1].to_string(),
            python: split(parts[n - 3]),
            abi: split(parts[n - 2]),
            platform: split(parts[n - 1]),
        });
    }
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    // The version is what follows the last `-` (names in sdist file names
    // may contain `-`; versions may not).
    let (name, version) = stem.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty()).then(|| DistFile::Sdist {
        name: name.to_string(),
        version: version.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names() {
        assert_eq!(normalize("Django"), "django");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("A__B-.c"), "a-b-c");
    }

    #[test]
    fn parses_file_names() {
        assert_eq!(
            parse_filename("requests-2.32.3-py3-none-any.whl"),
            Some(DistFile::Wheel {
                name: "requests".into(),
                version: "2.32.3".into(),
                python: vec!["py3".into()],
                abi: vec!["none".into()],
                platform: vec!["any".into()],
            })
        );
        let wheel = parse_filename("numpy-2.1.0-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        match wheel {
            DistFile::Wheel { platform, .. } => assert_eq!(platform.len(), 2),
            _ => panic!(),
        }
        assert_eq!(
            parse_filename("my-pkg-1.0rc1.tar.gz"),
            Some(DistFile::Sdist {
                name: "my-pkg".into(),
                version: "1.0rc1".into()
            })
        );
        assert_eq!(parse_filename("README.txt"), None);
    }
}
