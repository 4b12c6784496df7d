//! A PAM360 API simulator: both endpoints of the vendor pages, with state,
//! the same checks and answers as PAM360 (HTTP 200 + `Failed`), and fault
//! injection for tests and rehearsals.
//!
//! It runs on a tokio runtime of its own thread, so the blocking client can
//! live in the same process (`--simulate`, and the tests): reqwest's blocking
//! client panics when created inside a runtime.

mod api;
mod capacity;
mod handlers;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

pub use handlers::STATE_PATH;

/// What the simulator does besides answering.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The AUTHTOKEN it expects.
    pub token: String,
    /// Delay before every answer.
    pub latency: Duration,
    /// Answer `Details` as a list of one-key objects instead of an object.
    pub list_shape: bool,
    /// Accept password requests for any account id, not only those it created.
    pub any_account: bool,
    /// Requests per second served; more are answered 429 + `Retry-After`.
    pub rate_limit: Option<u32>,
    /// Share of requests answered 503.
    pub error_share: f64,
    /// Share of requests whose connection is dropped before anything is stored.
    pub drop_before: f64,
    /// Share of requests whose connection is dropped after the accounts are stored.
    pub drop_after: f64,
    /// Serve HTTPS with a generated self-signed certificate.
    pub tls: Option<SimTls>,
    /// Quote each account entry back in its STATUS, as some servers echo
    /// their input: a client must mask what it sent before logging it.
    pub echo: bool,
    /// The server's state before a run (`--inventory FILE`).
    pub inventory: Option<std::path::PathBuf>,
    /// Account names left out of account-list reads, as a server that lost
    /// an account shows it (for `--verify` tests).
    pub hide_accounts: Vec<String>,
    /// The most resources one page of the list holds, whatever LIMIT asks.
    pub page_cap: Option<usize>,
    /// STARTINDEX counts from 1 (public sources disagree).
    pub one_based_paging: bool,
    /// Longest a client may take over a TLS handshake or a request's
    /// headers, or stay idle between requests (tests set it short).
    pub slow_client: Duration,
    /// Requests per second it can serve (`--capacity C`; see `capacity`).
    pub capacity: Option<f64>,
    /// After this many requests, the capacity drops to the second value.
    pub capacity_drop: Option<(u64, f64)>,
    /// The answers of this many first creates are lost: the resource is
    /// stored, then the connection closes.
    pub lose_create_answers: u64,
    /// Load the state from this file at start, save it there at the end.
    pub state_file: Option<PathBuf>,
}

/// HTTPS for the simulator.
#[derive(Debug, Clone)]
pub struct SimTls {
    /// Where the certificate's PEM is written, for `--ca-cert`.
    pub cert_out: std::path::PathBuf,
    /// Only a CN, no subjectAltName: what PAM360 ships, and what rustls
    /// refuses even as a trusted root (so only `--pin-sha256` accepts it).
    pub cn_only: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            token: String::new(),
            latency: Duration::ZERO,
            list_shape: false,
            any_account: false,
            rate_limit: None,
            error_share: 0.0,
            drop_before: 0.0,
            drop_after: 0.0,
            tls: None,
            echo: false,
            inventory: None,
            hide_accounts: Vec::new(),
            page_cap: None,
            one_based_paging: false,
            slow_client: SLOW_CLIENT,
            capacity: None,
            capacity_drop: None,
            lose_create_answers: 0,
            state_file: None,
        }
    }
}

/// A running simulator; stops when dropped (and saves its state when it
/// has a state file).
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<State>,
    /// SHA-256 of the certificate's DER, when serving HTTPS.
    fingerprint: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The simulator's state, shared by its handlers.
pub(crate) struct State {
    opts: SimOptions,
    store: Mutex<store::Store>,
    window: Mutex<(Instant, u32)>,
    started: Instant,
    capacity: Option<capacity::Capacity>,
    /// Creates whose answer was lost so far (`--lose-create-answers`).
    lost_creates: AtomicU64,
}

impl State {
    fn store(&self) -> MutexGuard<'_, store::Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A JSON answer with this HTTP status.
fn json_reply(status: hyper::StatusCode, body: serde_json::Value) -> Reply {
    Ok(hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json;charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response"))
}

/// Connections whose handler asked for them to be dropped end with this.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

impl Simulator {
    /// Starts serving on `listen` (port 0 picks a free port).
    pub fn start(listen: &str, opts: SimOptions) -> Result<Simulator> {
        use std::net::ToSocketAddrs;
        // It serves what it stored, passwords included: loopback only.
        let addrs: Vec<SocketAddr> = listen
            .to_socket_addrs()
            .with_context(|| format!("cannot listen on {listen}: not an address"))?
            .collect();
        if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
            anyhow::bail!(
                "the simulator listens on loopback only (127.0.0.1 or [::1]): {listen} would serve stored passwords to the network"
            );
        }
        let listener = std::net::TcpListener::bind(&addrs[..])
            .with_context(|| format!("cannot listen on {listen}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (acceptor, fingerprint) = match &opts.tls {
            Some(tls) => {
                let (acceptor, fingerprint) = tls_acceptor(tls)?;
                (Some(acceptor), Some(fingerprint))
            }
            None => (None, None),
        };
        let mut store = match &opts.state_file {
            Some(path) => store::load_state(path)?,
            None => store::Store::default(),
        };
        if let Some(path) = &opts.inventory {
            store::load_inventory(path, &mut store)?;
        }
        let capacity = opts
            .capacity
            .map(|c| capacity::Capacity::new(c, opts.capacity_drop));
        let state = Arc::new(State {
            opts,
            store: Mutex::new(store),
            window: Mutex::new((Instant::now(), 0)),
            started: Instant::now(),
            capacity,
            lost_creates: AtomicU64::new(0),
        });
        let serving = state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the simulator's runtime")?;
        let thread = std::thread::Builder::new()
            .name("simulator".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = rx => {}
                        _ = accept_loop(listener, serving, acceptor) => {}
                    }
                });
                // Connections still open are cut at once: a stopped
                // simulator is a server that went away.
                runtime.shutdown_background();
            })?;
        Ok(Simulator {
            addr,
            state,
            fingerprint,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:port`, or `https://` when serving TLS.
    pub fn url(&self) -> String {
        let scheme = if self.fingerprint.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The SHA-256 fingerprint of the certificate, in hex, when serving TLS.
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }
}

impl Simulator {
    /// Stops serving, and saves the state to its file (if it has one).
    pub fn stop(mut self) -> Result<()> {
        self.halt();
        self.save()
    }

    fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn save(&self) -> Result<()> {
        match &self.state.opts.state_file {
            Some(path) => self.state.store().save(path),
            None => Ok(()),
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let saving = self.shutdown.is_some();
        self.halt();
        if saving && let Err(e) = self.save() {
            log::error!("{e:#}");
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors (or a connection gone before it
                // was taken): wait a little instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                // A client that refuses our certificate ends here.
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(state.opts.slow_client, acceptor.accept(stream));
                    if let Ok(Ok(tls)) = handshake.await {
                        serve(tls, state).await;
                    }
                }
                None => serve(stream, state).await,
            }
        });
    }
}

async fn serve<S>(io: S, state: Arc<State>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let slow_client = state.opts.slow_client;
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { handlers::handle(state, req).await }
    });
    // An error here is a client that went away or a dropped connection we
    // asked for: nothing to report.
    // A client that trickles its headers, or holds a connection idle
    // between requests (hyper's header timer runs while it waits for the
    // next request), is cut off: a slowloris must not hold its sockets.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(slow_client)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Longest a client may take over a TLS handshake or a request's headers,
/// or stay idle between requests, unless told otherwise.
pub const SLOW_CLIENT: Duration = Duration::from_secs(10);

/// A fresh self-signed certificate, its PEM written to `tls.cert_out`.
fn tls_acceptor(tls: &SimTls) -> Result<(tokio_rustls::TlsAcceptor, String)> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use sha2::{Digest, Sha256};
    let key = rcgen::KeyPair::generate().context("cannot generate a key")?;
    let names: Vec<String> = if tls.cn_only {
        Vec::new()
    } else {
        vec!["localhost".into(), "127.0.0.1".into()]
    };
    let mut params = rcgen::CertificateParams::new(names).context("certificate names")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pam360-simulator.local");
    let cert = params
        .self_signed(&key)
        .context("cannot make a certificate")?;
    std::fs::write(&tls.cert_out, cert.pem())
        .with_context(|| format!("cannot write {}", tls.cert_out.display()))?;
    let fingerprint = hex::encode(Sha256::digest(cert.der().as_ref()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .context("TLS certificate")?;
    Ok((
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        fingerprint,
    ))
}

type Reply = std::result::Result<hyper::Response<Full<Bytes>>, Dropped>;

/// A random token for a simulator started without one.
pub fn random_token() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}
