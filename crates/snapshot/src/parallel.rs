//! A small worker pool for per-layer work (unpacking, downloading).

use std::sync::Mutex;

use crate::error::{Error, Result};

/// Runs `work` on every item, `workers` at a time, and returns the results
/// (in completion order). After the first error no new item is started and
/// that error is returned.
pub(crate) fn run_parallel<I, T>(
    items: Vec<I>,
    workers: usize,
    work: impl Fn(I) -> Result<T> + Sync,
) -> Result<Vec<T>>
where
    I: Send,
    T: Send,
{
    let workers = workers.clamp(1, items.len().max(1));
    let queue = Mutex::new(items.into_iter());
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let done: Mutex<Vec<T>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    if failure.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                        break;
                    }
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some(item) = next else { break };
                    match work(item) {
                        Ok(result) => done.lock().unwrap_or_else(|p| p.into_inner()).push(result),
                        Err(e) => {
                            failure
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                            break;
                        }
                    }
                }
            });
        }
    });
    match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(done.into_inner().unwrap_or_else(|p| p.into_inner())),
    }
}
