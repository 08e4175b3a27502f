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
