//! Work shared between the cores: the files of a project are parsed, and their flows checked,
//! on every core once there is enough of them to pay for the threads.

/// Stack of the parsing and checking threads (reserved, not committed, until used): the passes
/// recurse over the tree, and absurdly nested input (thousands of `+` in a row) must be
/// reported, not overflow.
pub(crate) const STACK_SIZE: usize = 64 << 20;

/// `work` applied to every item, the results in the items' order. When there is more than one
/// core and the items' total `size` reaches `parallel_from`, the items are dealt into shares of
/// about equal size, one per core, the calling thread taking one.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    size: impl Fn(&T) -> usize,
    parallel_from: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = cores().min(items.len());
    let total: usize = items.iter().map(&size).sum();
    if threads < 2 || total < parallel_from {
        return items.iter().map(work).collect();
    }
    let shares = shares(items, threads, size);
    let work = &work;
    let run = move |share: &[usize]| share.iter().map(|&i| (i, work(&items[i]))).collect::<Vec<_>>();
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let (mine, others) = shares
            .split_last()
            .map_or((&[][..], &[][..]), |(l, o)| (&l[..], o));
        let handles: Vec<_> = others
            .iter()
            .map(|share| {
                std::thread::Builder::new()
                    .stack_size(STACK_SIZE)
                    .spawn_scoped(scope, move || run(share))
                    .map_err(|_| share)
            })
            .collect();
        let mut done = run(mine);
        for handle in handles {
            done.extend(match handle {
                // A panic in a thread is a bug: surface it rather than lose its results.
                Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                // No thread to be had: this share is done here.
                Err(share) => run(share),
            });
        }
        done
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// The cores this process may use, asked once: `available_parallelism` reads the cgroup's
/// CPU quota from files at every call, and a check asks twice (parse, then flows).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The indices of `items` dealt into at most `parts` shares of about equal total `size`:
/// largest first, each to the lightest share so far (within 4/3 of the best split).
fn shares<T>(items: &[T], parts: usize, size: impl Fn(&T) -> usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(size(&items[i])));
    let mut shares: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); parts.max(1)];
    for i in order {
        if let Some(lightest) = shares.iter_mut().min_by_key(|(load, _)| *load) {
            lightest.0 += size(&items[i]);
            lightest.1.push(i);
        }
    }
    shares
        .into_iter()
        .map(|(_, share)| share)
        .filter(|share| !share.is_empty())
        .collect()
}

/// `work` on a thread with a roomy stack ([`STACK_SIZE`]), or here when no thread can be had.
pub(crate) fn on_roomy_stack<R: Send>(work: impl Fn() -> R + Sync) -> R {
    let work = &work;
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, work)
            // A panic in the thread is a bug: surface it.
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
    .unwrap_or_else(|_| work())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_items_order_whatever_the_threads() {
        let items: Vec<usize> = (0..40).map(|i| (i * 7919) % 101).collect();
        let doubled = map(&items, |&n| n, 0, |&n| n * 2);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        // Below the threshold: the same, on this thread.
        assert_eq!(map(&items, |&n| n, usize::MAX, |&n| n * 2), doubled);
    }

    #[test]
    fn shares_are_about_equal_and_hold_every_item_once() {
        let sizes = [
            23_190, 20_888, 19_036, 15_185, 14_094, 11_946, 11_444, 9_892, 9_088, 8_858, 4_136,
        ];
        let shares = shares(&sizes, 2, |&n| n);
        assert_eq!(shares.len(), 2);
        let loads: Vec<usize> = shares.iter().map(|s| s.iter().map(|&i| sizes[i]).sum()).collect();
        let total: usize = sizes.iter().sum();
        assert!(
            loads.iter().all(|&l| l * 100 <= total * 52),
            "{loads:?} of {total}"
        );
        let mut all: Vec<usize> = shares.concat();
        all.sort_unstable();
        assert_eq!(all, (0..sizes.len()).collect::<Vec<_>>());
        // More parts than items: no empty share.
        assert_eq!(super::shares(&[5, 1], 4, |&n| n).len(), 2);
    }
}
