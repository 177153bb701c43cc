//! [`FaultProxy`]: a loopback TCP proxy in front of a server that a test drives to break the
//! network the ways real networks break.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// One way to break the next request that starts on any connection through the proxy. Each
/// fault is used once, in the order given to [`FaultProxy::inject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Forwards half of the request's first piece, then closes both connections: the server
    /// sees a truncated request, the client a dropped connection.
    CutRequest,
    /// Resets the client's connection (TCP RST) before anything is forwarded.
    Reset,
    /// Holds the request for this long, then forwards it as usual.
    Delay(Duration),
    /// Forwards half of the request's first piece, then waits for [`FaultProxy::release`]
    /// (see [`FaultProxy::stalled`]); the test can kill the server meanwhile.
    StallRequest,
    /// Forwards the whole request, holds the server's answer back until
    /// [`FaultProxy::release`], then forwards it; the test can kill the client meanwhile.
    HoldResponse,
    /// Forwards the whole request and closes both connections when the answer starts: the
    /// server did the work, the client never hears of it.
    CutResponse,
}

/// A TCP proxy on a loopback port. Without faults it forwards bytes both ways unchanged.
///
/// Requests are told apart by direction: bytes from the client after the server spoke (or on a
/// fresh connection) start a new request, as HTTP/1.1 without pipelining does.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    upstream: Mutex<SocketAddr>,
    faults: Mutex<std::collections::VecDeque<Fault>>,
    up: watch::Sender<bool>,
    requests: AtomicU64,
    stalled: Notify,
    release: Notify,
}

impl FaultProxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            faults: Mutex::default(),
            up: watch::channel(true).0,
            requests: AtomicU64::new(0),
            stalled: Notify::new(),
            release: Notify::new(),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !*accepting.up.borrow() {
                    continue; // down: the connection closes at once
                }
                tokio::spawn(forward(inbound, accepting.clone()));
            }
        });
        Ok(FaultProxy { addr, shared, task })
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends new connections to `upstream` from now on (a restarted server on another port).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// Down, the proxy closes every open connection and refuses new ones, as a dropped network
    /// does; up, it forwards again.
    pub fn set_up(&self, up: bool) {
        self.shared.up.send_replace(up);
    }

    /// Queues faults for the next requests, one request each.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.shared.faults).extend(faults);
    }

    /// How many faults wait for a request.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults).len()
    }

    /// How many requests have started through the proxy.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Waits until a [`Fault::StallRequest`] or [`Fault::HoldResponse`] holds a request.
    pub async fn stalled(&self) {
        self.shared.stalled.notified().await;
    }

    /// Lets a held request or answer go on.
    pub fn release(&self) {
        self.shared.release.notify_one();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.shared.up.send_replace(false);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Carries one connection until either side closes, the proxy goes down, or a fault ends it.
async fn forward(mut client: TcpStream, shared: Arc<Shared>) {
    let upstream = *lock(&shared.upstream);
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let mut down = shared.up.subscribe();
    let mut from_client = vec![0u8; 64 * 1024];
    let mut from_server = vec![0u8; 64 * 1024];
    // The fault of the request in progress, and whether the next client bytes start a request.
    let mut current: Option<Fault> = None;
    let mut at_request_start = true;
    loop {
        let step = tokio::select! {
            read = client.read(&mut from_client) => Step::Client(read),
            read = server.read(&mut from_server) => Step::Server(read),
            () = async { let _ = down.wait_for(|up| !*up).await; } => return,
        };
        match step {
            Step::Client(read) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let mut piece = &from_client[..n];
                if at_request_start {
                    at_request_start = false;
                    shared.requests.fetch_add(1, Ordering::SeqCst);
                    current = lock(&shared.faults).pop_front();
                    match current {
                        Some(Fault::CutRequest) => {
                            let _ = server.write_all(&piece[..n / 2]).await;
                            return;
                        }
                        Some(Fault::Reset) => {
                            let _ = client.set_zero_linger();
                            return;
                        }
                        Some(Fault::Delay(pause)) => tokio::time::sleep(pause).await,
                        Some(Fault::StallRequest) => {
                            if server.write_all(&piece[..n / 2]).await.is_err() {
                                return;
                            }
                            piece = &piece[n / 2..];
                            shared.stalled.notify_one();
                            shared.release.notified().await;
                        }
                        _ => {}
                    }
                }
                if server.write_all(piece).await.is_err() {
                    return;
                }
            }
            Step::Server(read) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if !at_request_start {
                    at_request_start = true;
                    match current.take() {
                        Some(Fault::CutResponse) => return,
                        Some(Fault::HoldResponse) => {
                            shared.stalled.notify_one();
                            shared.release.notified().await;
                        }
                        _ => {}
                    }
                }
                if client.write_all(&from_server[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// What woke the proxy on a connection.
enum Step {
    Client(io::Result<usize>),
    Server(io::Result<usize>),
}
