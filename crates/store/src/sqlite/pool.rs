//! Connections: one writer thread with group commit, and a pool of readers.
//!
//! SQLite allows one writer at a time; each commit in WAL mode with
//! `synchronous=FULL` costs an fsync. The writer thread takes every write
//! waiting in its queue, runs each in its own savepoint inside one
//! transaction, and commits once: N concurrent deliveries share one fsync,
//! yet a failing write rolls back alone. Callers get their answer only after
//! the commit is durable. Readers run on WAL snapshots beside the writer.

use super::Effects;
use crate::blob::FileBlobStore;
use crate::error::{Result, StoreError};
use estafeta_core::bus::ChangeBus;
use estafeta_core::metrics::{Counter, Metrics};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::{Semaphore, oneshot};

/// Writes per transaction at most; bounds the latency one batch adds.
const MAX_BATCH: usize = 256;
const READERS: usize = 4;
/// WAL pages after which the writer's commit copies the log back into the
/// database (SQLite's default: 1000). That copy and its fsync run on the
/// writer thread and hold up the next batch; ten times fewer, larger
/// copies cost less in all (smtp-ingest 1.07x and 1.12x in two A/B runs).
/// The WAL file then grows to about 40 MiB before it is reused.
pub const CHECKPOINT_PAGES: u32 = 10_000;

pub fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL lets readers run beside the writer; FULL fsyncs the WAL at every
    // commit, which is what makes an acknowledged write durable.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

trait Job: Send {
    fn run(&mut self, conn: &Connection, effects: &mut Effects);
    fn finish(self: Box<Self>, commit: Result<(), &StoreError>);
}

struct TypedJob<F, R> {
    work: Option<F>,
    result: Option<Result<R>>,
    reply: oneshot::Sender<Result<R>>,
}

impl<F, R> Job for TypedJob<F, R>
where
    F: FnOnce(&Connection, &mut Effects) -> Result<R> + Send,
    R: Send,
{
    fn run(&mut self, conn: &Connection, effects: &mut Effects) {
        let Some(work) = self.work.take() else { return };
        if let Err(error) = run_cached(conn, "SAVEPOINT job") {
            self.result = Some(Err(error.into()));
            return;
        }
        let mut own = Effects::default();
        let result = work(conn, &mut own);
        let end = match result {
            Ok(_) => run_cached(conn, "RELEASE job"),
            Err(_) => run_cached(conn, "ROLLBACK TO job").and_then(|()| run_cached(conn, "RELEASE job")),
        };
        self.result = Some(match end {
            Ok(()) => {
                if result.is_ok() {
                    effects.absorb(own);
                }
                result
            }
            Err(error) => Err(error.into()),
        });
    }

    fn finish(self: Box<Self>, commit: Result<(), &StoreError>) {
        let answer = match (self.result, commit) {
            (Some(Err(error)), _) => Err(error),
            (_, Err(error)) => Err(error.clone()),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StoreError::Database("write was not run".into())),
        };
        let _ = self.reply.send(answer);
    }
}

pub struct Writer {
    sender: Mutex<Option<mpsc::Sender<Box<dyn Job>>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct WriterStats {
    commits: Counter,
    writes: Counter,
}

impl Writer {
    pub fn start(conn: Connection, blobs: Arc<FileBlobStore>, bus: ChangeBus, metrics: &Metrics) -> Writer {
        let (sender, receiver) = mpsc::channel::<Box<dyn Job>>();
        let stats = WriterStats {
            commits: metrics.counter(
                "estafeta_store_commits_total",
                "Store write transactions committed.",
                &[],
            ),
            writes: metrics.counter(
                "estafeta_store_writes_total",
                "Store writes, several of which may share one commit.",
                &[],
            ),
        };
        let thread = std::thread::Builder::new()
            .name("estafeta-store-writer".into())
            .spawn(move || writer_loop(conn, receiver, blobs, bus, stats))
            .expect("spawn store writer thread");
        Writer {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Runs `work` inside the next group transaction; resolves once that
    /// transaction is committed and durable (or failed).
    pub async fn run<F, R>(&self, work: F) -> Result<R>
    where
        F: FnOnce(&Connection, &mut Effects) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(TypedJob {
            work: Some(work),
            result: None,
            reply,
        });
        {
            let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
            let sender = sender.as_ref().ok_or(StoreError::Closed)?;
            sender.send(job).map_err(|_| StoreError::Closed)?;
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Finishes queued writes and stops the thread.
    pub fn shutdown(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn writer_loop(
    conn: Connection,
    receiver: mpsc::Receiver<Box<dyn Job>>,
    blobs: Arc<FileBlobStore>,
    bus: ChangeBus,
    stats: WriterStats,
) {
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut effects = Effects::default();
        let commit = run_batch(&conn, &mut jobs, &mut effects);
        stats.writes.add(jobs.len() as u64);
        if commit.is_ok() {
            stats.commits.inc();
            remove_unreferenced_blobs(&conn, &blobs, &effects.unreferenced);
        }
        // Published before anyone is answered: a session that sees its own
        // write done also finds the change waiting on the bus.
        if commit.is_ok() {
            for change in effects.changes {
                bus.publish(change);
            }
        }
        for job in jobs {
            job.finish(commit.as_ref().map(|_| ()));
        }
    }
}

/// Runs a statement from the connection's cache: the writer says BEGIN,
/// SAVEPOINT, RELEASE and COMMIT for every batch and job, and parsing them
/// each time was a visible share of its work.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_batch(conn: &Connection, jobs: &mut [Box<dyn Job>], effects: &mut Effects) -> Result<()> {
    run_cached(conn, "BEGIN IMMEDIATE")?;
    for job in jobs.iter_mut() {
        job.run(conn, effects);
    }
    if let Err(error) = run_cached(conn, "COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(error.into());
    }
    Ok(())
}

/// Deletes the files of blobs whose last reference went away. It holds the
/// write lock while it checks and unlinks, so no other writer (this process
/// or another, such as the CLI) can re-reference a blob in between; a writer
/// that wants the content afterwards finds the file gone and writes it again.
fn remove_unreferenced_blobs(conn: &Connection, blobs: &FileBlobStore, candidates: &[crate::BlobId]) {
    if candidates.is_empty() {
        return;
    }
    if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
        return; // Left as orphans; `verify --repair` removes them.
    }
    for id in candidates {
        let referenced = conn
            .query_row("SELECT 1 FROM blobs WHERE id = ?1", [id.as_str()], |_| Ok(()))
            .is_ok();
        if !referenced && let Err(error) = blobs.remove(id) {
            tracing::warn!(blob = %id, %error, "could not remove unreferenced blob");
        }
    }
    let _ = conn.execute_batch("COMMIT");
}

/// Read connections on WAL snapshots, used from blocking threads.
pub struct Readers {
    connections: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    pub fn open(path: &Path) -> Result<Arc<Readers>> {
        let mut connections = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let conn = open_connection(path)?;
            conn.pragma_update(None, "query_only", "ON")?;
            connections.push(conn);
        }
        Ok(Arc::new(Readers {
            connections: Mutex::new(connections),
            permits: Semaphore::new(READERS),
        }))
    }

    /// A point lookup (a row or a few by key), run on the caller's thread:
    /// from the page cache it takes microseconds, less than handing it to
    /// a blocking thread and back, which on a busy server cost more CPU
    /// than the SQL (futex wakes and thread switches, for a dozen lookups a
    /// message). Scans go through `run`.
    pub async fn lookup<F, R>(&self, work: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R>,
    {
        let _permit = self.permits.acquire().await.map_err(|_| StoreError::Closed)?;
        let conn = self.take()?;
        let result = work(&conn);
        self.give_back(conn);
        result
    }

    /// A free connection; the caller holds a permit, so there is one.
    fn take(&self) -> Result<Connection> {
        self.connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or(StoreError::Closed)
    }

    fn give_back(&self, conn: Connection) {
        self.connections.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
    }

    pub async fn run<F, R>(self: &Arc<Self>, work: F) -> Result<R>
    where
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| StoreError::Closed)?;
        let conn = self.take()?;
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let result = work(&conn);
            readers.give_back(conn);
            result
        })
        .await
        .map_err(|error| StoreError::Database(format!("reader task failed: {error}")))?
    }
}
