//! The open connections, bounded: past the limit, the one that has waited longest for a request
//! makes room; and the write deadline every connection's socket carries.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;
use tokio::time::Sleep;

/// `Activity::since` of a connection that is answering a request.
const BUSY: u64 = u64::MAX;

/// What one connection is doing, shared between its task and the table.
#[derive(Debug)]
pub(super) struct Activity {
    /// Microseconds after the table's start at which the connection began waiting for its next
    /// request, or [`BUSY`].
    since: AtomicU64,
    start: Instant,
    /// Requests the connection has started answering.
    requests: AtomicU64,
}

impl Activity {
    fn waiting_now(&self) {
        let micros = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(BUSY - 1);
        self.since.store(micros, Ordering::Relaxed);
    }

    /// Whether the connection has answered (or started answering) a request.
    pub(super) fn answered(&self) -> bool {
        self.requests.load(Ordering::Relaxed) > 0
    }

    /// Marks the connection busy until the guard is dropped (with the response it answers).
    pub(super) fn busy(self: &Arc<Self>) -> Busy {
        self.since.store(BUSY, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(self))
    }
}

/// Keeps a connection from being evicted while it answers a request.
#[derive(Debug)]
pub(super) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.waiting_now();
    }
}

struct Entry {
    activity: Arc<Activity>,
    task: Option<AbortHandle>,
}

struct Table {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

/// The open connections.
pub(super) struct Connections {
    table: Mutex<Table>,
    max: usize,
    start: Instant,
}

/// What [`Connections::admit`] did to make room.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admitted {
    /// There was room.
    Freely,
    /// The connection that had waited longest for a request was closed.
    ByEviction,
}

impl Connections {
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            table: Mutex::new(Table {
                next_id: 0,
                open: HashMap::new(),
            }),
            max,
            start: Instant::now(),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table stays consistent whatever panicked while holding it: each change is one call.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes room for a new connection, or `None` when every open one is busy answering.
    pub(super) fn admit(self: &Arc<Self>) -> Option<(Slot, Admitted)> {
        let mut table = self.table();
        let mut admitted = Admitted::Freely;
        if table.open.len() >= self.max {
            let (&oldest, _) = table
                .open
                .iter()
                .map(|(id, entry)| (id, entry.activity.since.load(Ordering::Relaxed)))
                .filter(|&(_, since)| since != BUSY)
                .min_by_key(|&(id, since)| (since, *id))?;
            if let Some(task) = table.open.remove(&oldest).and_then(|entry| entry.task) {
                task.abort();
            }
            admitted = Admitted::ByEviction;
        }
        let id = table.next_id;
        table.next_id += 1;
        let activity = Arc::new(Activity {
            since: AtomicU64::new(0),
            start: self.start,
            requests: AtomicU64::new(0),
        });
        activity.waiting_now();
        table.open.insert(
            id,
            Entry {
                activity: Arc::clone(&activity),
                task: None,
            },
        );
        Some((
            Slot {
                id,
                activity,
                connections: Arc::clone(self),
            },
            admitted,
        ))
    }

    /// Lets an eviction abort the task that serves connection `id`.
    pub(super) fn served_by(&self, id: u64, task: AbortHandle) {
        if let Some(entry) = self.table().open.get_mut(&id) {
            entry.task = Some(task);
        }
    }

    #[cfg(test)]
    fn open(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.table().open.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

/// A connection's place in the table; dropping it (the connection's task ends or is aborted)
/// frees the place.
pub(super) struct Slot {
    id: u64,
    activity: Arc<Activity>,
    connections: Arc<Connections>,
}

impl Slot {
    pub(super) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }

    pub(super) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.table().open.remove(&self.id);
    }
}

/// A socket whose writes must finish within a deadline: it starts with the first write of a
/// response and ends when the response is flushed, so a client that reads slowly, however
/// steadily, is cut off after `timeout` (a per-write timeout would restart at every byte taken).
pub(super) struct WriteDeadline {
    stream: TcpStream,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    armed: bool,
}

impl WriteDeadline {
    pub(super) fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            armed: false,
        }
    }

    fn arm(&mut self) {
        if !self.armed {
            let at = tokio::time::Instant::now() + self.timeout;
            self.deadline.as_mut().reset(at);
            self.armed = true;
        }
    }

    /// A write still pending past the deadline fails; polling the deadline registers the wakeup.
    fn within_deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_pending() && self.armed && self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not take the response in time",
            )));
        }
        poll
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.arm();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.within_deadline(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.arm();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.within_deadline(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // hyper flushes once it has handed every byte of its buffer to the socket.
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        if matches!(poll, Poll::Ready(Ok(()))) {
            this.armed = false;
        }
        this.within_deadline(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.within_deadline(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_longest_waiting_idle_connection_makes_room() {
        let connections = Connections::new(3);
        let (first, admitted) = connections.admit().unwrap();
        assert_eq!(admitted, Admitted::Freely);
        let (second, _) = connections.admit().unwrap();
        let (third, _) = connections.admit().unwrap();
        // The first answers a request; the second then waits the longest.
        let busy = first.activity().busy();
        // Sleeps order the waits: the table measures them in microseconds.
        std::thread::sleep(Duration::from_millis(2));
        drop(third.activity().busy());
        let (fourth, admitted) = connections.admit().unwrap();
        assert_eq!(admitted, Admitted::ByEviction);
        assert_eq!(connections.open(), [0, 2, 3]);
        // A connection that finished answering waits from then on: the newest waiter now.
        std::thread::sleep(Duration::from_millis(2));
        drop(busy);
        drop(second); // its task ends after the eviction: freeing its place again changes nothing
        assert_eq!(connections.open(), [0, 2, 3]);
        let _fifth = connections.admit().unwrap();
        assert_eq!(connections.open(), [0, 3, 4], "the third waited longest");
        drop((third, fourth));
    }

    #[test]
    fn at_the_limit_with_every_connection_busy_a_new_one_is_refused() {
        let connections = Connections::new(1);
        let (only, _) = connections.admit().unwrap();
        let _busy = only.activity().busy();
        assert!(connections.admit().is_none());
        assert_eq!(connections.open(), [0]);
    }

    #[test]
    fn a_client_that_reads_steadily_but_slowly_is_cut_off_at_the_write_deadline() {
        const RESPONSE: usize = 64 << 20;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Takes 64 KiB every 10 ms: the writes keep making progress, far too slowly for 64 MiB.
        let reader = std::thread::spawn(move || {
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let mut buf = vec![0; 64 << 10];
            while let Ok(1..) = std::io::Read::read(&mut client, &mut buf) {
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let (accepted, _) = listener.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let (written, error) = runtime.block_on(async {
            let stream = TcpStream::from_std(accepted).unwrap();
            let mut socket = WriteDeadline::new(stream, Duration::from_millis(300));
            let chunk = vec![b'x'; 1 << 20];
            let mut written = 0;
            loop {
                let poll = std::future::poll_fn(|cx| Pin::new(&mut socket).poll_write(cx, &chunk));
                match poll.await {
                    Ok(n) if written + n < RESPONSE => written += n,
                    Ok(_) => return (RESPONSE, None),
                    Err(error) => return (written, Some(error)),
                }
            }
        });
        assert_eq!(
            error.map(|error| error.kind()),
            Some(io::ErrorKind::TimedOut),
            "wrote {written} bytes"
        );
        assert!(written < RESPONSE);
        reader.join().unwrap();
    }
}
