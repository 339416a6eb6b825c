//! Python's `list.sort` (CPython 3.12's timsort, which BuildStream vendors
//! to sort dependencies): runs, binary insertion, the powersort merge
//! policy and galloping merges, step for step.
//!
//! BuildStream's dependency comparison is not a total order (dependencies
//! that neither depend on each other compare by name, which need not agree
//! with the dependency order), so the result depends on exactly which
//! comparisons the algorithm makes. Only the same algorithm gives the same
//! staging order.

/// The number of wins in a row that switches a merge to galloping.
const MIN_GALLOP: usize = 7;

struct Run {
    base: usize,
    len: usize,
    power: u32,
}

struct MergeState<'a, T> {
    lt: &'a dyn Fn(&T, &T) -> bool,
    min_gallop: usize,
    pending: Vec<Run>,
    len: usize,
}

/// Sorts `list` as Python's `list.sort` does, `lt(a, b)` standing for
/// `a < b`.
pub fn sort<T: Copy>(list: &mut [T], lt: &dyn Fn(&T, &T) -> bool) {
    let n = list.len();
    if n < 2 {
        return;
    }
    let mut ms = MergeState {
        lt,
        min_gallop: MIN_GALLOP,
        pending: Vec::new(),
        len: n,
    };
    let minrun = compute_minrun(n);
    let mut lo = 0;
    let mut remaining = n;
    while remaining > 0 {
        let (mut run, descending) = count_run(list, lo, lo + remaining, lt);
        if descending {
            list[lo..lo + run].reverse();
        }
        if run < minrun {
            let force = remaining.min(minrun);
            binary_sort(list, lo, lo + force, lo + run, lt);
            run = force;
        }
        found_new_run(&mut ms, list, run);
        ms.pending.push(Run {
            base: lo,
            len: run,
            power: 0,
        });
        lo += run;
        remaining -= run;
    }
    merge_force_collapse(&mut ms, list);
}

fn compute_minrun(mut n: usize) -> usize {
    let mut r = 0;
    while n >= 64 {
        r |= n & 1;
        n >>= 1;
    }
    n + r
}

/// Sorts `list[lo..hi]` by binary insertion, `list[lo..start]` being sorted.
fn binary_sort<T: Copy>(list: &mut [T], lo: usize, hi: usize, start: usize, lt: &dyn Fn(&T, &T) -> bool) {
    let mut start = if start == lo { start + 1 } else { start };
    while start < hi {
        let pivot = list[start];
        let (mut l, mut r) = (lo, start);
        while l < r {
            let p = l + ((r - l) >> 1);
            if lt(&pivot, &list[p]) {
                r = p;
            } else {
                l = p + 1;
            }
        }
        list.copy_within(l..start, l + 1);
        list[l] = pivot;
        start += 1;
    }
}

/// The run at `lo`: ascending (`a <= b`) or strictly descending.
fn count_run<T: Copy>(list: &[T], lo: usize, hi: usize, lt: &dyn Fn(&T, &T) -> bool) -> (usize, bool) {
    if lo + 1 == hi {
        return (1, false);
    }
    let mut n = 2;
    if lt(&list[lo + 1], &list[lo]) {
        let mut i = lo + 2;
        while i < hi && lt(&list[i], &list[i - 1]) {
            i += 1;
            n += 1;
        }
        (n, true)
    } else {
        let mut i = lo + 2;
        while i < hi && !lt(&list[i], &list[i - 1]) {
            i += 1;
            n += 1;
        }
        (n, false)
    }
}

/// Where `key` goes in sorted `a`, left of any equal element.
fn gallop_left<T: Copy>(key: &T, a: &[T], hint: usize, lt: &dyn Fn(&T, &T) -> bool) -> usize {
    let n = a.len();
    let (mut lastofs, mut ofs): (isize, isize);
    if lt(&a[hint], key) {
        let maxofs = (n - hint) as isize;
        lastofs = 0;
        ofs = 1;
        while ofs < maxofs {
            if lt(&a[hint + ofs as usize], key) {
                lastofs = ofs;
                ofs = (ofs << 1) + 1;
            } else {
                break;
            }
        }
        ofs = ofs.min(maxofs);
        lastofs += hint as isize;
        ofs += hint as isize;
    } else {
        let maxofs = hint as isize + 1;
        lastofs = 0;
        ofs = 1;
        while ofs < maxofs {
            if lt(&a[hint - ofs as usize], key) {
                break;
            }
            lastofs = ofs;
            ofs = (ofs << 1) + 1;
        }
        ofs = ofs.min(maxofs);
        let k = lastofs;
        lastofs = hint as isize - ofs;
        ofs = hint as isize - k;
    }
    lastofs += 1;
    while lastofs < ofs {
        let m = lastofs + ((ofs - lastofs) >> 1);
        if lt(&a[m as usize], key) {
            lastofs = m + 1;
        } else {
            ofs = m;
        }
    }
    ofs as usize
}

/// Where `key` goes in sorted `a`, right of any equal element.
fn gallop_right<T: Copy>(key: &T, a: &[T], hint: usize, lt: &dyn Fn(&T, &T) -> bool) -> usize {
    let n = a.len();
    let (mut lastofs, mut ofs): (isize, isize);
    if lt(key, &a[hint]) {
        let maxofs = hint as isize + 1;
        lastofs = 0;
        ofs = 1;
        while ofs < maxofs {
            if lt(key, &a[hint - ofs as usize]) {
                lastofs = ofs;
                ofs = (ofs << 1) + 1;
            } else {
                break;
            }
        }
        ofs = ofs.min(maxofs);
        let k = lastofs;
        lastofs = hint as isize - ofs;
        ofs = hint as isize - k;
    } else {
        let maxofs = (n - hint) as isize;
        lastofs = 0;
        ofs = 1;
        while ofs < maxofs {
            if lt(key, &a[hint + ofs as usize]) {
                break;
            }
            lastofs = ofs;
            ofs = (ofs << 1) + 1;
        }
        ofs = ofs.min(maxofs);
        lastofs += hint as isize;
        ofs += hint as isize;
    }
    lastofs += 1;
    while lastofs < ofs {
        let m = lastofs + ((ofs - lastofs) >> 1);
        if lt(key, &a[m as usize]) {
            ofs = m;
        } else {
            lastofs = m + 1;
        }
    }
    ofs as usize
}

/// The powersort "power" of the boundary between two adjacent runs.
fn powerloop(s1: usize, n1: usize, n2: usize, n: usize) -> u32 {
    let mut result = 0;
    let mut a = 2 * s1 + n1;
    let mut b = a + n1 + n2;
    loop {
        result += 1;
        if a >= n {
            a -= n;
            b -= n;
        } else if b >= n {
            break;
        }
        a <<= 1;
        b <<= 1;
    }
    result
}

fn found_new_run<T: Copy>(ms: &mut MergeState<'_, T>, list: &mut [T], n2: usize) {
    let Some(last) = ms.pending.last() else { return };
    let power = powerloop(last.base, last.len, n2, ms.len);
    while ms.pending.len() > 1 && ms.pending[ms.pending.len() - 2].power > power {
        let at = ms.pending.len() - 2;
        merge_at(ms, list, at);
    }
    let last = ms.pending.len() - 1;
    ms.pending[last].power = power;
}

fn merge_force_collapse<T: Copy>(ms: &mut MergeState<'_, T>, list: &mut [T]) {
    while ms.pending.len() > 1 {
        let mut n = ms.pending.len() - 2;
        if n > 0 && ms.pending[n - 1].len < ms.pending[n + 1].len {
            n -= 1;
        }
        merge_at(ms, list, n);
    }
}

/// Merges the runs at `i` and `i + 1`.
fn merge_at<T: Copy>(ms: &mut MergeState<'_, T>, list: &mut [T], i: usize) {
    let lt = ms.lt;
    let (mut a, mut na) = (ms.pending[i].base, ms.pending[i].len);
    let (b, nb) = (ms.pending[i + 1].base, ms.pending[i + 1].len);
    ms.pending[i].len = na + nb;
    ms.pending.remove(i + 1);
    let k = gallop_right(&list[b], &list[a..a + na], 0, lt);
    a += k;
    na -= k;
    if na == 0 {
        return;
    }
    let nb = gallop_left(&list[a + na - 1], &list[b..b + nb], nb - 1, lt);
    if nb == 0 {
        return;
    }
    if na <= nb {
        merge_lo(ms, list, a, na, b, nb);
    } else {
        merge_hi(ms, list, a, na, b, nb);
    }
}

/// Merges `list[a..a+na]` and `list[b..b+nb]` (adjacent) from the left,
/// with `na <= nb`.
fn merge_lo<T: Copy>(ms: &mut MergeState<'_, T>, list: &mut [T], a: usize, mut na: usize, b: usize, mut nb: usize) {
    let lt = ms.lt;
    let tmp: Vec<T> = list[a..a + na].to_vec();
    let (mut pa, mut pb, mut dest) = (0usize, b, a);
    list[dest] = list[pb];
    dest += 1;
    pb += 1;
    nb -= 1;
    // What is left when the loop ends: copy the rest of A, or finish with B
    // then the last of A.
    enum End {
        Succeed,
        CopyB,
    }
    let end = 'merge: {
        if nb == 0 {
            break 'merge End::Succeed;
        }
        if na == 1 {
            break 'merge End::CopyB;
        }
        let mut min_gallop = ms.min_gallop;
        loop {
            let mut acount = 0;
            let mut bcount = 0;
            loop {
                if lt(&list[pb], &tmp[pa]) {
                    list[dest] = list[pb];
                    dest += 1;
                    pb += 1;
                    bcount += 1;
                    acount = 0;
                    nb -= 1;
                    if nb == 0 {
                        break 'merge End::Succeed;
                    }
                    if bcount >= min_gallop {
                        break;
                    }
                } else {
                    list[dest] = tmp[pa];
                    dest += 1;
                    pa += 1;
                    acount += 1;
                    bcount = 0;
                    na -= 1;
                    if na == 1 {
                        break 'merge End::CopyB;
                    }
                    if acount >= min_gallop {
                        break;
                    }
                }
            }
            min_gallop += 1;
            loop {
                min_gallop -= usize::from(min_gallop > 1);
                ms.min_gallop = min_gallop;
                let k = gallop_right(&list[pb], &tmp[pa..pa + na], 0, lt);
                acount = k;
                if k > 0 {
                    list[dest..dest + k].copy_from_slice(&tmp[pa..pa + k]);
                    dest += k;
                    pa += k;
                    na -= k;
                    if na == 1 {
                        break 'merge End::CopyB;
                    }
                    if na == 0 {
                        break 'merge End::Succeed;
                    }
                }
                list[dest] = list[pb];
                dest += 1;
                pb += 1;
                nb -= 1;
                if nb == 0 {
                    break 'merge End::Succeed;
                }
                let k = gallop_left(&tmp[pa], &list[pb..pb + nb], 0, lt);
                bcount = k;
                if k > 0 {
                    list.copy_within(pb..pb + k, dest);
                    dest += k;
                    pb += k;
                    nb -= k;
                    if nb == 0 {
                        break 'merge End::Succeed;
                    }
                }
                list[dest] = tmp[pa];
                dest += 1;
                pa += 1;
                na -= 1;
                if na == 1 {
                    break 'merge End::CopyB;
                }
                if acount < MIN_GALLOP && bcount < MIN_GALLOP {
                    break;
                }
            }
            min_gallop += 1;
            ms.min_gallop = min_gallop;
        }
    };
    match end {
        End::Succeed => list[dest..dest + na].copy_from_slice(&tmp[pa..pa + na]),
        End::CopyB => {
            list.copy_within(pb..pb + nb, dest);
            list[dest + nb] = tmp[pa];
        }
    }
}

/// Merges `list[a..a+na]` and `list[b..b+nb]` (adjacent) from the right,
/// with `na > nb`.
fn merge_hi<T: Copy>(ms: &mut MergeState<'_, T>, list: &mut [T], a: usize, mut na: usize, b: usize, mut nb: usize) {
    let lt = ms.lt;
    let tmp: Vec<T> = list[b..b + nb].to_vec();
    // Signed: the cursors step just before the start of their areas.
    let mut dest = (b + nb - 1) as isize;
    let mut pa = (a + na - 1) as isize;
    let mut pb = nb as isize - 1;
    let at = |i: isize| i as usize;
    list[at(dest)] = list[at(pa)];
    dest -= 1;
    pa -= 1;
    na -= 1;
    enum End {
        Succeed,
        CopyA,
    }
    let end = 'merge: {
        if na == 0 {
            break 'merge End::Succeed;
        }
        if nb == 1 {
            break 'merge End::CopyA;
        }
        let mut min_gallop = ms.min_gallop;
        loop {
            let mut acount = 0;
            let mut bcount = 0;
            loop {
                if lt(&tmp[at(pb)], &list[at(pa)]) {
                    list[at(dest)] = list[at(pa)];
                    dest -= 1;
                    pa -= 1;
                    acount += 1;
                    bcount = 0;
                    na -= 1;
                    if na == 0 {
                        break 'merge End::Succeed;
                    }
                    if acount >= min_gallop {
                        break;
                    }
                } else {
                    list[at(dest)] = tmp[at(pb)];
                    dest -= 1;
                    pb -= 1;
                    bcount += 1;
                    acount = 0;
                    nb -= 1;
                    if nb == 1 {
                        break 'merge End::CopyA;
                    }
                    if bcount >= min_gallop {
                        break;
                    }
                }
            }
            min_gallop += 1;
            loop {
                min_gallop -= usize::from(min_gallop > 1);
                ms.min_gallop = min_gallop;
                let k = na - gallop_right(&tmp[at(pb)], &list[a..a + na], na - 1, lt);
                acount = k;
                if k > 0 {
                    dest -= k as isize;
                    pa -= k as isize;
                    list.copy_within(at(pa + 1)..at(pa + 1) + k, at(dest + 1));
                    na -= k;
                    if na == 0 {
                        break 'merge End::Succeed;
                    }
                }
                list[at(dest)] = tmp[at(pb)];
                dest -= 1;
                pb -= 1;
                nb -= 1;
                if nb == 1 {
                    break 'merge End::CopyA;
                }
                let k = nb - gallop_left(&list[at(pa)], &tmp[..nb], nb - 1, lt);
                bcount = k;
                if k > 0 {
                    dest -= k as isize;
                    pb -= k as isize;
                    list[at(dest + 1)..at(dest + 1) + k].copy_from_slice(&tmp[at(pb + 1)..at(pb + 1) + k]);
                    nb -= k;
                    if nb == 1 {
                        break 'merge End::CopyA;
                    }
                    if nb == 0 {
                        break 'merge End::Succeed;
                    }
                }
                list[at(dest)] = list[at(pa)];
                dest -= 1;
                pa -= 1;
                na -= 1;
                if na == 0 {
                    break 'merge End::Succeed;
                }
                if acount < MIN_GALLOP && bcount < MIN_GALLOP {
                    break;
                }
            }
            min_gallop += 1;
            ms.min_gallop = min_gallop;
        }
    };
    match end {
        End::Succeed => {
            if nb > 0 {
                let start = at(dest - (nb as isize - 1));
                list[start..start + nb].copy_from_slice(&tmp[..nb]);
            }
        }
        End::CopyA => {
            let from = at(pa + 1 - na as isize);
            let to = at(dest + 1 - na as isize);
            list.copy_within(from..from + na, to);
            dest -= na as isize;
            list[at(dest)] = tmp[at(pb)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence.
    fn numbers(seed: u64, n: usize, modulo: u64) -> Vec<u64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) % modulo
            })
            .collect()
    }

    #[test]
    fn a_total_order_sorts_stably() {
        for (seed, n) in [(1, 0), (2, 1), (3, 5), (4, 63), (5, 64), (6, 200), (7, 1000), (8, 5000)] {
            let values: Vec<(u64, usize)> = numbers(seed, n, 50).into_iter().zip(0..).collect();
            let mut ours = values.clone();
            sort(&mut ours, &|a, b| a.0 < b.0);
            let mut std = values.clone();
            std.sort_by_key(|v| v.0);
            assert_eq!(ours, std, "n = {n}");
        }
        // Presorted and reversed inputs take the run paths.
        let mut up: Vec<u32> = (0..300).collect();
        sort(&mut up, &|a, b| a < b);
        assert!(up.windows(2).all(|w| w[0] < w[1]));
        let mut down: Vec<u32> = (0..300).rev().collect();
        sort(&mut down, &|a, b| a < b);
        assert_eq!(down, (0..300).collect::<Vec<_>>());
    }

    /// Python 3.12 gives this order for `sorted(values, key=cmp_to_key(c))`
    /// with a comparison that is not a total order (values are compared
    /// modulo 7 unless one is a multiple of the other, as dependencies
    /// come after what they depend on, then by value):
    ///
    /// ```python
    /// def c(a, b):
    ///     if a != b and b % a == 0: return -1
    ///     if a != b and a % b == 0: return 1
    ///     return (a % 7 > b % 7) - (a % 7 < b % 7)
    /// ```
    #[test]
    fn a_partial_order_sorts_as_python_does() {
        let lt = |a: &u64, b: &u64| {
            if a != b && b.is_multiple_of(*a) {
                return true;
            }
            if a != b && a.is_multiple_of(*b) {
                return false;
            }
            a % 7 < b % 7
        };
        let values: Vec<u64> = numbers(42, 150, 997).into_iter().map(|v| v + 2).collect();
        let mut ours = values.clone();
        sort(&mut ours, &lt);
        assert_eq!(ours, python_expected());
    }

    fn python_expected() -> Vec<u64> {
        include!("../tests/data/pysort-expected.txt")
    }
}
