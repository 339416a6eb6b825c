//! CVSS v3.x base scores from a vector (FIRST's specification, §7.1 and
//! Appendix A's rounding), so that a record carrying only a vector still
//! has a severity. v2 and v4 vectors are not scored.

/// The base score of a `CVSS:3.0/…` or `CVSS:3.1/…` vector, or `None`
/// when it is not one or lacks a base metric.
pub fn base_score_v3(vector: &str) -> Option<f64> {
    let mut parts = vector.split('/');
    let version = parts.next()?;
    if version != "CVSS:3.0" && version != "CVSS:3.1" {
        return None;
    }
    let metric = |name: &str| -> Option<char> {
        vector
            .split('/')
            .skip(1)
            .find_map(|p| p.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.chars().next())
    };
    let changed = match metric("S")? {
        'U' => false,
        'C' => true,
        _ => return None,
    };
    let av = match metric("AV")? {
        'N' => 0.85,
        'A' => 0.62,
        'L' => 0.55,
        'P' => 0.2,
        _ => return None,
    };
    let ac = match metric("AC")? {
        'L' => 0.77,
        'H' => 0.44,
        _ => return None,
    };
    let pr = match (metric("PR")?, changed) {
        ('N', _) => 0.85,
        ('L', false) => 0.62,
        ('L', true) => 0.68,
        ('H', false) => 0.27,
        ('H', true) => 0.5,
        _ => return None,
    };
    let ui = match metric("UI")? {
        'N' => 0.85,
        'R' => 0.62,
        _ => return None,
    };
    let impact = |name: &str| -> Option<f64> {
        match metric(name)? {
            'H' => Some(0.56),
            'L' => Some(0.22),
            'N' => Some(0.0),
            _ => None,
        }
    };
    let (c, i, a) = (impact("C")?, impact("I")?, impact("A")?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    if impact <= 0.0 {
        return Some(0.0);
    }
    let exploitability = 8.22 * av * ac * pr * ui;
    let sum = if changed {
        1.08 * (impact + exploitability)
    } else {
        impact + exploitability
    };
    Some(round_up(sum.min(10.0)))
}

/// CVSS 3.1's Roundup: the smallest number with one decimal at or above
/// the input, computed on integers to avoid floating-point surprises.
fn round_up(value: f64) -> f64 {
    let scaled = (value * 100_000.0).round() as i64;
    if scaled % 10_000 == 0 {
        scaled as f64 / 100_000.0
    } else {
        (scaled / 10_000 + 1) as f64 / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_first_examples() {
        // Scores as NVD publishes them for these vectors.
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N", 3.7),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ];
        for (vector, score) in cases {
            assert_eq!(base_score_v3(vector), Some(score), "{vector}");
        }
        assert_eq!(base_score_v3("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
        assert_eq!(base_score_v3("CVSS:3.1/AV:N/AC:L"), None);
    }
}
