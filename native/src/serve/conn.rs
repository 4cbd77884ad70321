//! The accept loop: at most `max_connections` connections are served at once, each on its own
//! thread; one more is answered 503 at once on the accepting thread, so a flood of idle
//! connections costs no threads. A served connection has `header_timeout` to send its head.

use super::Site;
use super::head::{Refusal, read_head};
use super::respond::{respond, respond_text};
use std::io::{ErrorKind, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long one write of a response may stall (a client that stops reading) before the
/// connection is dropped. Per write, so a slow but steady download of the model goes on.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// After a refusal, how long the rest of what the client sends is read and dropped, so that
/// closing does not reset the connection before the client has read the answer.
const LINGER: Duration = Duration::from_secs(1);
/// At most this much is read and dropped in `LINGER`.
const LINGER_BYTES: u64 = 256 * 1024;

/// Serves connections from `listener` until the process ends.
pub fn serve(listener: TcpListener, site: Arc<Site>, max_connections: usize) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, say: wait a moment instead of spinning.
                eprintln!("anytune serve: accepting a connection: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Some(slot) = Slot::take(&open, max_connections) else {
            busy(stream, max_connections);
            continue;
        };
        let site = Arc::clone(&site);
        let spawned = std::thread::Builder::new().name("anytune serve".into()).spawn(move || {
            let _slot = slot;
            connection(stream, &site);
        });
        if let Err(e) = spawned {
            eprintln!("anytune serve: no thread for a connection ({e}); it is closed");
        }
    }
}

/// One of the `max_connections` places; given back when dropped, however the thread ends.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        if open.fetch_add(1, Ordering::SeqCst) >= max {
            open.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot(Arc::clone(open)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// 503 for a connection over the cap, without waiting: what the client sent so far is dropped
/// without blocking, and the short answer fits the empty send buffer of a new connection.
fn busy(mut stream: TcpStream, max_connections: usize) {
    eprintln!("anytune serve: {max_connections} connections open; answered 503");
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    for _ in 0..4 {
        if !matches!(stream.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
    let why = format!("busy: {max_connections} connections open (--max-connections); retry");
    let _ = respond_text(&mut stream, false, 503, "Service Unavailable", "Retry-After: 1\r\n", &why);
    let _ = stream.shutdown(Shutdown::Write);
}

/// Reads one request head within the deadline and answers it.
fn connection(mut stream: TcpStream, site: &Site) {
    let deadline = Instant::now() + site.header_timeout;
    let result = stream.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(anyhow::Error::from).and_then(|()| {
        match read_head(&mut stream, deadline) {
            Ok(head) => respond(&mut stream, site, head),
            Err(Refusal::Silent) => Ok(()),
            Err(Refusal::Io(e)) => Err(e.into()),
            Err(Refusal::Answer { status, reason, why }) => {
                eprintln!("anytune serve: refused a request: {why} ({status})");
                respond_text(&mut stream, false, status, reason, "", &why)?;
                linger(&mut stream);
                Ok(())
            }
        }
    });
    // A client that goes away mid-response (reloads, aborted fetches) is not an error.
    if let Err(e) = result
        && !e.downcast_ref::<std::io::Error>().is_some_and(|e| {
            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset)
        })
    {
        eprintln!("anytune serve: {e:#}");
    }
}

/// Ends the answer, then reads and drops what the client still sends, for at most `LINGER`
/// and `LINGER_BYTES`.
fn linger(stream: &mut TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let end = Instant::now() + LINGER;
    let mut sink = [0u8; 16 * 1024];
    let mut left = LINGER_BYTES;
    while left > 0 {
        let wait = end.saturating_duration_since(Instant::now());
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n as u64),
        }
    }
}
