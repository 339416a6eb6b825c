//! dpkg's version ordering: `[epoch:]upstream[-revision]`.

use std::cmp::Ordering;

fn split(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// `~` sorts before everything, even the end; letters before non-letters.
fn order(c: Option<char>) -> i32 {
    match c {
        None => 0,
        Some('~') => -1,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // Non-digit prefixes, character by character.
        loop {
            let ca = a.first().filter(|c| !c.is_ascii_digit()).map(|c| *c as char);
            let cb = b.first().filter(|c| !c.is_ascii_digit()).map(|c| *c as char);
            if ca.is_none() && cb.is_none() {
                break;
            }
            match order(ca).cmp(&order(cb)) {
                Ordering::Equal => {
                    a = &a[1..];
                    b = &b[1..];
                }
                other => return other,
            }
        }
        // Digit runs, numerically.
        let da: String = a
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .map(|c| *c as char)
            .collect();
        let db: String = b
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .map(|c| *c as char)
            .collect();
        a = &a[da.len()..];
        b = &b[db.len()..];
        let na = da.trim_start_matches('0');
        let nb = db.trim_start_matches('0');
        match na.len().cmp(&nb.len()).then_with(|| na.cmp(nb)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

/// Compares two Debian versions as dpkg does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_ordering() {
        assert_eq!(compare("1.0", "1.0"), Ordering::Equal);
        assert_eq!(compare("1.0", "1.1"), Ordering::Less);
        assert_eq!(compare("1.10", "1.9"), Ordering::Greater);
        assert_eq!(compare("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(compare("1:0.1", "2.0"), Ordering::Greater);
        assert_eq!(compare("3.11.2-6+deb12u6", "3.11.2-6+deb12u5"), Ordering::Greater);
        assert_eq!(compare("3.11.2-6", "3.11.2-6+deb12u1"), Ordering::Less);
        assert_eq!(compare("1.0a", "1.0+"), Ordering::Less);
        assert_eq!(compare("2.36-9+deb12u10", "2.36-9+deb12u9"), Ordering::Greater);
    }
}
