//! Small helpers to spread independent work over the machine's cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

/// How many worker threads to use.
pub fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(16)
}

/// `items.iter().map(f)` on every core; results keep the input order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_on(workers(), items, f)
}

/// [`map`] on `threads` threads (more than the cores for work that waits,
/// such as network calls).
pub fn map_on<T: Sync, R: Send>(threads: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    local.push((i, f(&items[i])));
                }
                let mut all = results.lock().unwrap_or_else(|e| e.into_inner());
                for (i, r) in local {
                    all[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every item mapped"))
        .collect()
}

/// Computes `f(i)` for every node of a graph on every core, each once
/// all of `prerequisites(i)` are done; `f` reads their results from the
/// slice it is given. The graph must have no cycles.
pub fn dag<R: Send + Sync>(prerequisites: &[Vec<usize>], f: impl Fn(usize, &[OnceLock<R>]) -> R + Sync) -> Vec<R> {
    let n = prerequisites.len();
    let results: Vec<OnceLock<R>> = (0..n).map(|_| OnceLock::new()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = vec![0; n];
    for (node, prereqs) in prerequisites.iter().enumerate() {
        for &p in prereqs {
            dependents[p].push(node);
            waiting[node] += 1;
        }
    }
    struct State {
        ready: Vec<usize>,
        waiting: Vec<usize>,
        done: usize,
    }
    let ready: Vec<usize> = (0..n).rev().filter(|&i| waiting[i] == 0).collect();
    let state = Mutex::new(State {
        ready,
        waiting,
        done: 0,
    });
    let wake = Condvar::new();
    let worker = || loop {
        let node = {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(node) = s.ready.pop() {
                    break node;
                }
                if s.done == n {
                    return;
                }
                s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = f(node, &results);
        if results[node].set(result).is_err() {
            unreachable!("each node is computed once");
        }
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.done += 1;
        for &d in &dependents[node] {
            s.waiting[d] -= 1;
            if s.waiting[d] == 0 {
                s.ready.push(d);
            }
        }
        wake.notify_all();
    };
    let threads = workers().min(n.max(1));
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(worker);
        }
        worker();
    });
    results
        .into_iter()
        .map(|r| r.into_inner().expect("every node computed (the graph has no cycle)"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(
            super::map(&items, |x| x * 2),
            items.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
        assert!(super::map(&[] as &[u32], |x| *x).is_empty());
    }

    #[test]
    fn dag_sees_its_prerequisites_done() {
        // Node i needs i-1 and i/2: a chain with shortcuts.
        let prerequisites: Vec<Vec<usize>> = (0..500usize)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1, i / 2] })
            .collect();
        let depth = super::dag(&prerequisites, |i, done| {
            prerequisites[i]
                .iter()
                .map(|&p| *done[p].get().expect("prerequisite done") + 1)
                .max()
                .unwrap_or(0)
        });
        assert_eq!(depth, (0..500).collect::<Vec<usize>>());
        assert!(super::dag(&[], |_, _: &[std::sync::OnceLock<u8>]| 0).is_empty());
    }
}
