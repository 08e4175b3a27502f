//! CPU work over many messages (parsing, searching text) spread over the
//! cores, off the async runtime.

use std::sync::Arc;

/// Below this many items the work is done where it is (no thread hops).
const INLINE: usize = 8;

/// `f` over `items` on blocking threads, one contiguous slice per core;
/// results in the order of `items`.
pub async fn map<T, R>(items: Vec<T>, f: Arc<dyn Fn(T) -> R + Send + Sync>) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    if items.len() <= INLINE {
        return items.into_iter().map(|item| f(item)).collect();
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    let per = items.len().div_ceil(cores);
    let mut items = items;
    let mut tasks = Vec::with_capacity(cores);
    while !items.is_empty() {
        let rest = items.split_off(per.min(items.len()));
        let slice = std::mem::replace(&mut items, rest);
        let f = Arc::clone(&f);
        tasks.push(tokio::task::spawn_blocking(move || {
            slice.into_iter().map(|item| f(item)).collect::<Vec<R>>()
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await.expect("a parse or search task panicked"));
    }
    out
}

/// Most messages read in one batch...
const BATCH_MESSAGES: usize = 256;
/// ...and most bytes, so a batch of large messages stays small in memory.
const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// `positions` cut into batches of at most 256 messages or 32 MiB (a
/// larger message goes alone).
pub fn batches(positions: &[usize], size: impl Fn(usize) -> u64) -> Vec<&[usize]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (k, &position) in positions.iter().enumerate() {
        let this = size(position);
        if k > start && (k - start == BATCH_MESSAGES || bytes + this > BATCH_BYTES) {
            out.push(&positions[start..k]);
            (start, bytes) = (k, 0);
        }
        bytes += this;
    }
    if start < positions.len() {
        out.push(&positions[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let positions: Vec<usize> = (0..600).collect();
        let small = batches(&positions, |_| 1_000);
        assert_eq!(small.iter().map(|b| b.len()).collect::<Vec<_>>(), [256, 256, 88]);
        let big = batches(&positions[..5], |_| 20 * 1024 * 1024);
        assert_eq!(big.len(), 5, "each 20 MiB message alone");
        let huge = batches(&positions[..2], |_| 100 * 1024 * 1024);
        assert_eq!(huge.len(), 2);
        assert!(batches(&[], |_| 1).is_empty());
        let all: Vec<usize> = small.concat();
        assert_eq!(all, positions);
    }
}
