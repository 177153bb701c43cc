//! A local HTTP server that answers like the Hugging Face Hub for the files it is given: the
//! tree API with LFS records (`/api/models/<repo>/tree/main/`) and ranged downloads
//! (`/<repo>/resolve/<revision>/<file>`) with the headers hf-hub reads. The test drives its
//! faults: cutting the connection at a byte offset (and staying down), serving a damaged byte
//! under the real checksum, claiming another size, slowing down. It records every request.

// Shared by the test crates of oa-app and oa-cli, each of which uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A download request the Hub saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The path asked for.
    pub path: String,
    /// The first byte asked for, for ranged requests.
    pub range_start: Option<u64>,
}

#[derive(Clone)]
struct HubFile {
    bytes: Arc<Vec<u8>>,
    sha256: String,
    claimed_size: Option<u64>,
}

#[derive(Default)]
struct State {
    files: HashMap<(String, String), HubFile>,
    served: Vec<Served>,
    cut_at: Option<u64>,
    down: bool,
    bytes_per_second: Option<u64>,
}

/// The running server; it stops with the test's runtime.
#[derive(Clone)]
pub struct LocalHub {
    endpoint: String,
    state: Arc<Mutex<State>>,
}

impl LocalHub {
    /// Starts it on a free loopback port.
    pub async fn start() -> LocalHub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let hub = LocalHub { endpoint, state };
        let serving = hub.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let hub = serving.clone();
                tokio::spawn(async move {
                    let _ = hub.answer(stream).await;
                });
            }
        });
        hub
    }

    /// Its address, for `HubSettings::endpoint`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Serves `bytes` as `file` of `repo`, under their real sha256.
    pub fn serve(&self, repo: &str, file: &str, bytes: Vec<u8>) {
        let sha256 = format!("{:x}", Sha256::digest(&bytes));
        self.lock().files.insert(
            (repo.to_owned(), file.to_owned()),
            HubFile {
                bytes: Arc::new(bytes),
                sha256,
                claimed_size: None,
            },
        );
    }

    /// Flips one byte of a served file, keeping the checksum the Hub gives for it.
    pub fn damage_byte(&self, repo: &str, file: &str, offset: usize) {
        let mut state = self.lock();
        let entry = state
            .files
            .get_mut(&(repo.to_owned(), file.to_owned()))
            .unwrap();
        let mut bytes = entry.bytes.as_ref().clone();
        bytes[offset] ^= 0xff;
        entry.bytes = Arc::new(bytes);
    }

    /// Makes the Hub claim another size for a file.
    pub fn claim_size(&self, repo: &str, file: &str, size: u64) {
        self.lock()
            .files
            .get_mut(&(repo.to_owned(), file.to_owned()))
            .unwrap()
            .claimed_size = Some(size);
    }

    /// The next response that would send the byte at `offset` stops just before it and the
    /// connection is cut; from then on every connection is dropped until [`LocalHub::restore`].
    pub fn cut_at(&self, offset: u64) {
        self.lock().cut_at = Some(offset);
    }

    /// The Hub answers again.
    pub fn restore(&self) {
        self.lock().down = false;
    }

    /// Sends at most this many bytes per second per response.
    pub fn throttle(&self, bytes_per_second: u64) {
        self.lock().bytes_per_second = Some(bytes_per_second);
    }

    /// Every download request seen, in order.
    pub fn served(&self) -> Vec<Served> {
        self.lock().served.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn answer(&self, mut stream: TcpStream) -> std::io::Result<()> {
        if self.lock().down {
            return Ok(()); // Dropped without a word, as a dead server would.
        }
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.lines();
        let path = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/")
            .to_owned();
        let range = lines.find_map(|l| {
            let (name, value) = l.split_once(':')?;
            if !name.trim().eq_ignore_ascii_case("range") {
                return None;
            }
            let (start, end) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
            Some((start.parse::<u64>().ok()?, end.parse::<u64>().ok()))
        });

        if let Some(rest) = path.strip_prefix("/api/models/") {
            let Some((repo, _)) = rest.split_once("/tree/main") else {
                return respond(&mut stream, 404, &[], b"").await;
            };
            let listing: Vec<serde_json::Value> = self
                .lock()
                .files
                .iter()
                .filter(|((r, _), _)| r == repo)
                .map(|((_, file), f)| {
                    let size = f.claimed_size.unwrap_or(f.bytes.len() as u64);
                    serde_json::json!({
                        "type": "file",
                        "oid": "0".repeat(40),
                        "size": size,
                        "path": file,
                        "lfs": { "oid": f.sha256, "size": size, "pointerSize": 134 },
                    })
                })
                .collect();
            if listing.is_empty() {
                return respond(
                    &mut stream,
                    404,
                    &[],
                    b"{\"error\":\"Repository not found\"}",
                )
                .await;
            }
            let body = serde_json::to_vec(&listing).unwrap();
            return respond(
                &mut stream,
                200,
                &[("content-type", "application/json".into())],
                &body,
            )
            .await;
        }

        let Some((repo, file)) = path
            .strip_prefix('/')
            .and_then(|p| p.split_once("/resolve/"))
            .and_then(|(repo, rest)| Some((repo.to_owned(), rest.split_once('/')?.1.to_owned())))
        else {
            return respond(&mut stream, 404, &[], b"").await;
        };
        let found = self.lock().files.get(&(repo, file)).cloned();
        let Some(found) = found else {
            return respond(&mut stream, 404, &[], b"Entry not found").await;
        };
        self.lock().served.push(Served {
            path: path.clone(),
            range_start: range.map(|r| r.0),
        });
        let size = found.claimed_size.unwrap_or(found.bytes.len() as u64);
        let (start, end) = match range {
            Some((start, end)) => (start, end.unwrap_or(size - 1).min(size - 1)),
            None => (0, size - 1),
        };
        let real_end = end.min(found.bytes.len() as u64 - 1);
        let headers = vec![
            ("x-repo-commit", "a".repeat(40)),
            ("x-linked-etag", format!("\"{}\"", found.sha256)),
            ("etag", format!("\"{}\"", found.sha256)),
            ("x-linked-size", size.to_string()),
            ("accept-ranges", "bytes".into()),
            ("content-range", format!("bytes {start}-{end}/{size}")),
            ("content-length", (end + 1 - start).to_string()),
        ];
        write_head(
            &mut stream,
            if range.is_some() { 206 } else { 200 },
            &headers,
        )
        .await?;
        let mut at = start;
        while at <= real_end {
            let piece_end = (at + 64 * 1024).min(real_end + 1);
            let (cut, pace) = {
                let state = self.lock();
                (state.cut_at, state.bytes_per_second)
            };
            if let Some(cut) = cut
                && cut < piece_end
                && cut >= at
            {
                stream
                    .write_all(&found.bytes[at as usize..cut as usize])
                    .await?;
                let mut state = self.lock();
                state.cut_at = None;
                state.down = true;
                return Ok(()); // The connection drops mid-body.
            }
            stream
                .write_all(&found.bytes[at as usize..piece_end as usize])
                .await?;
            if let Some(pace) = pace {
                let ms = (piece_end - at) * 1000 / pace.max(1);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            at = piece_end;
        }
        stream.shutdown().await
    }
}

async fn write_head(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        _ => "Not Found",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut all = headers.to_vec();
    all.push(("content-length", body.len().to_string()));
    write_head(stream, status, &all).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}
