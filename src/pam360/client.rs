//! The HTTP client: one reqwest blocking client shared by every worker,
//! TLS through rustls, the token in a header marked sensitive.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::header::{HeaderMap, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use super::Answer;
use crate::op::{Call, Method};
use crate::secret::Secret;

/// How the server's certificate is trusted.
#[derive(Debug, Clone, Default)]
pub enum TlsTrust {
    /// The platform's roots.
    #[default]
    System,
    /// The platform's roots and this PEM certificate.
    CaCert(PathBuf),
    /// Exactly the certificate whose DER has this SHA-256 (`--pin-sha256`),
    /// whatever its names: PAM360's self-signed certificates often carry only
    /// a CN, which rustls refuses even as a trusted root.
    Pin([u8; 32]),
    /// No checks at all (`--insecure`).
    Insecure,
}

/// What the client needs to know.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://host:port`, without a trailing slash.
    pub server: String,
    pub token: Secret,
    pub trust: TlsTrust,
    pub timeout: Duration,
    pub concurrency: usize,
    /// `--no-proxy`: never use a proxy from the environment.
    pub no_proxy: bool,
}

/// One attempt's result, as the retry policy needs to see it.
#[derive(Debug)]
pub enum Attempt {
    /// An HTTP answer.
    Http {
        http: u16,
        /// The body read as PAM360 JSON, when it is.
        answer: Option<Answer>,
        /// The answer's `Content-Type`, for a message about an answer that
        /// is not PAM360 JSON. Such a body is never quoted: an HTML error
        /// page may echo the request, passwords and all.
        content_type: String,
        /// The body's size in bytes (what was read of it, when cut off).
        size: usize,
        /// Set when the body was larger than an answer may be (the cap, in
        /// bytes), or than the answers in flight may hold together: it was
        /// cut off there and not read.
        cut_off: Option<usize>,
        /// `Retry-After`, capped at [`MAX_RETRY_AFTER`].
        retry_after: Option<Duration>,
    },
    /// A 3xx. Never followed: the token and the passwords go to the
    /// `--server` origin and nowhere else.
    Redirect { http: u16, location: String },
    /// No HTTP answer.
    Failed(Failure),
}

/// The largest answer to a write that is read: a PAM360 answer names the
/// accounts of one request, a few kilobytes.
pub const WRITE_ANSWER_CAP: usize = 8 << 20;
/// The largest page of a read: 5,000 resources are about a megabyte.
pub const READ_ANSWER_CAP: usize = 64 << 20;
/// What the answers in flight together may hold, whatever `--concurrency`.
pub const IN_FLIGHT_CAP: usize = 128 << 20;

fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}

/// The bytes the answers being read hold together, bounded by
/// [`IN_FLIGHT_CAP`]: an answer that would take the total past it is cut
/// off, as one over its own cap is. Nobody waits for room, so nothing can
/// wait on each other.
#[derive(Debug, Default)]
pub struct AnswerBudget {
    held: std::sync::atomic::AtomicUsize,
}

impl AnswerBudget {
    /// Takes `n` bytes; false (and nothing taken) when that would pass the cap.
    fn take(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                (held + n <= IN_FLIGHT_CAP).then_some(held + n)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.held.fetch_sub(n, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Longest pause one `Retry-After` may impose.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

impl Attempt {
    /// The HTTP status, when there was an answer.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Attempt::Http { http, .. } | Attempt::Redirect { http, .. } => Some(*http),
            Attempt::Failed(_) => None,
        }
    }

    /// Whether the server may have acted on the request: not after a 429 or
    /// a 503 (refused before the application saw it), a redirect, or a
    /// connection never made.
    pub fn may_have_been_processed(&self) -> bool {
        match self {
            Attempt::Http { http, .. } => !matches!(http, 429 | 503),
            Attempt::Redirect { .. } => false,
            Attempt::Failed(f) => !f.never_sent(),
        }
    }

    /// The attempt in a few words for a log line: the HTTP status and
    /// PAM360's result, or what went wrong.
    pub fn summary(&self) -> String {
        match self {
            Attempt::Http {
                http,
                answer: Some(a),
                ..
            } => format!("HTTP {http} {}", a.status),
            Attempt::Http {
                http,
                cut_off: Some(cap),
                ..
            } => format!("HTTP {http}, an answer over {} cut off", mib(*cap)),
            Attempt::Http {
                http,
                content_type,
                size,
                ..
            } => format!("HTTP {http}, not PAM360 JSON ({content_type}, {size} bytes)"),
            Attempt::Redirect { http, location } => format!("HTTP {http} redirect to {location}"),
            Attempt::Failed(f) => f.describe(),
        }
    }

    /// An HTTP answer in words, without quoting its body.
    pub fn describe_answer(&self) -> String {
        match self {
            Attempt::Http {
                http,
                answer: None,
                cut_off: Some(cap),
                ..
            } => format!(
                "the server answered HTTP {http} with more than {}, more than any PAM360 answer here; it was cut off there and not read",
                mib(*cap)
            ),
            Attempt::Http {
                http,
                answer: None,
                content_type,
                size,
                ..
            } => {
                let ct = if content_type.is_empty() {
                    "no content type".to_string()
                } else {
                    format!("content type {content_type}")
                };
                format!(
                    "the server answered HTTP {http} that is not a PAM360 answer ({ct}, {size} bytes; not shown, it may echo the request)"
                )
            }
            Attempt::Http { http, .. } => format!("HTTP {http}"),
            Attempt::Redirect { http, location } => {
                format!("HTTP {http} redirect to {location}")
            }
            Attempt::Failed(f) => f.describe(),
        }
    }
}

/// Why an attempt got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection was never made: nothing reached the server.
    Connect(String),
    /// The server's certificate failed verification: nothing was sent.
    Certificate(String),
    /// Sent (or possibly sent) but no answer in time.
    Timeout,
    /// Sent, then the connection broke (reset, closed mid-answer).
    Broken(String),
    /// The certificate failed verification after earlier requests of the
    /// run were answered over verified connections: it changed. Nothing of
    /// it is quoted (its fingerprint would read as one to pin).
    CertificateChanged,
}

impl Failure {
    /// Whether the request surely never reached the server.
    pub fn never_sent(&self) -> bool {
        matches!(
            self,
            Failure::Connect(_) | Failure::Certificate(_) | Failure::CertificateChanged
        )
    }

    pub fn describe(&self) -> String {
        match self {
            Failure::Connect(e) => format!("could not connect: {e}"),
            Failure::Certificate(e) => format!("the server's certificate was refused: {e}"),
            Failure::Timeout => "no answer before the timeout".into(),
            Failure::Broken(e) => format!("the connection broke: {e}"),
            Failure::CertificateChanged => {
                "the server's certificate failed verification after requests were sent".into()
            }
        }
    }
}

/// A PAM360 API client.
pub struct Client {
    http: reqwest::blocking::Client,
    server: String,
    /// The proxy used, for messages (without credentials).
    proxy: Option<String>,
    /// The proxy's password, masked in every message like the token.
    proxy_password: Option<String>,
    budget: AnswerBudget,
    /// Whether any request got an answer over a verified connection: a
    /// certificate that fails after that has changed.
    answered: std::sync::atomic::AtomicBool,
}

impl Client {
    pub fn new(cfg: &ClientConfig) -> Result<Client> {
        super::install_crypto();
        let mut headers = HeaderMap::new();
        let mut token = HeaderValue::from_str(cfg.token.expose())
            .map_err(|_| anyhow::anyhow!("the token holds characters a header cannot carry"))?;
        // Keeps the token out of reqwest's Debug output and hyper's logs.
        token.set_sensitive(true);
        headers.insert("AUTHTOKEN", token);
        let mut builder = reqwest::blocking::Client::builder()
            .default_headers(headers)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(15)))
            .pool_max_idle_per_host(cfg.concurrency)
            // Servers close idle connections (the simulator after 10 s,
            // Tomcat after 20 s); a POST on a connection closed under it
            // would be a broken request whose fate is unknown.
            .pool_idle_timeout(Duration::from_secs(5))
            // A redirect would carry the token and the bodies to wherever
            // the Location points, https down to http included.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pam360-bulk/", env!("CARGO_PKG_VERSION")));
        match &cfg.trust {
            TlsTrust::System => {}
            TlsTrust::CaCert(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("cannot read --ca-cert {}", path.display()))?;
                let cert = reqwest::Certificate::from_pem(&pem).with_context(|| {
                    format!("--ca-cert {} is not a PEM certificate", path.display())
                })?;
                builder = builder.add_root_certificate(cert);
            }
            TlsTrust::Pin(fingerprint) => {
                builder = builder.tls_backend_preconfigured(pinned_config(*fingerprint)?)
            }
            TlsTrust::Insecure => builder = builder.danger_accept_invalid_certs(true),
        }
        if cfg.server.is_empty() {
            bail!("no server: pass --server URL or set PAM360_URL");
        }
        // Proxies as curl reads them, never for loopback; reqwest's own
        // reading of the environment is off, so this is the only one.
        builder = builder.no_proxy();
        let proxy = if cfg.no_proxy {
            None
        } else {
            proxy_for(&cfg.server, |k| std::env::var(k).ok())
        };
        if let Some(p) = &proxy {
            let proxy = reqwest::Proxy::all(p.as_str())
                .with_context(|| format!("the proxy {} is not a URL", shown_proxy(p)))?;
            builder = builder.proxy(proxy);
            log::info!(
                "connecting through the proxy {} (--no-proxy to go direct)",
                shown_proxy(p)
            );
        }
        // Plain HTTP (the simulator, a lab server) needs no roots: reading
        // the platform's hundreds of certificates would cost more than the
        // client. A TLS handshake with none would refuse any certificate.
        let plain = |url: &str| {
            url.get(..7)
                .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        };
        if plain(&cfg.server)
            && proxy.as_deref().is_none_or(plain)
            && matches!(cfg.trust, TlsTrust::System)
        {
            builder = builder.tls_certs_only([]);
        }
        let http = builder.build().context("cannot set up the HTTP client")?;
        Ok(Client {
            http,
            server: cfg.server.trim_end_matches('/').to_string(),
            proxy_password: proxy.as_deref().and_then(proxy_password),
            proxy: proxy.as_deref().map(shown_proxy),
            budget: AnswerBudget::default(),
            answered: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Secrets of the connection itself (a proxy's password), to mask in
    /// whatever is logged or reported, as the token is.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.proxy_password.as_deref().into_iter()
    }

    /// Sends one call and sorts out what came back. A write carries
    /// `INPUT_DATA` form-encoded; a read carries it in the query string.
    pub fn send(&self, call: &Call) -> Attempt {
        let url = format!("{}{}", self.server, call.path);
        let input = call.input.as_deref();
        let req = match call.kind.method() {
            Method::Get => {
                let req = self.http.get(url);
                match input {
                    Some(i) => req.query(&[("INPUT_DATA", i)]),
                    None => req,
                }
            }
            Method::Post => self
                .http
                .post(url)
                .form(&[("INPUT_DATA", input.unwrap_or(""))]),
            Method::Put => self
                .http
                .put(url)
                .form(&[("INPUT_DATA", input.unwrap_or(""))]),
        };
        self.execute(req, call.org.as_deref(), call.kind.answer_cap())
    }

    fn execute(
        &self,
        mut req: reqwest::blocking::RequestBuilder,
        org: Option<&str>,
        cap: usize,
    ) -> Attempt {
        if let Some(org) = org {
            req = req.header("orgName", org);
        }
        use std::sync::atomic::Ordering;
        let resp = match req.send() {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Failed(match self.failure(&e) {
                    Failure::Certificate(_) if self.answered.load(Ordering::SeqCst) => {
                        Failure::CertificateChanged
                    }
                    f => f,
                });
            }
        };
        self.answered.store(true, Ordering::SeqCst);
        let http = resp.status().as_u16();
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        if resp.status().is_redirection() {
            let location = header(reqwest::header::LOCATION)
                .map(|l| printable(&l, 200))
                .unwrap_or_else(|| "(no Location)".into());
            return Attempt::Redirect { http, location };
        }
        let retry_after = header(reqwest::header::RETRY_AFTER).and_then(|v| retry_after(&v));
        let content_type = header(reqwest::header::CONTENT_TYPE)
            .map(|c| printable(&c, 80))
            .unwrap_or_default();
        let (body, taken) = match self.read_capped(resp, cap) {
            Ok(read) => read,
            Err(e) => {
                // The body broke off, or did not come in time.
                let inner = e.get_ref().and_then(|i| i.downcast_ref::<reqwest::Error>());
                return Attempt::Failed(match inner {
                    Some(re) => failure(re),
                    None if e.kind() == std::io::ErrorKind::TimedOut => Failure::Timeout,
                    None => Failure::Broken(e.to_string()),
                });
            }
        };
        let cut_off = body.is_none().then_some(cap.min(IN_FLIGHT_CAP));
        let attempt = Attempt::Http {
            http,
            answer: body.as_deref().and_then(Answer::parse),
            content_type,
            size: body.as_ref().map_or(taken, Vec::len),
            cut_off,
            retry_after,
        };
        self.budget.give_back(taken);
        attempt
    }

    /// Reads a body of at most `cap` bytes, within the in-flight budget:
    /// `None` when it is larger (what was read is dropped, the connection
    /// with it). Returns the bytes taken from the budget, to give back once
    /// the answer is read.
    fn read_capped(
        &self,
        mut resp: reqwest::blocking::Response,
        cap: usize,
    ) -> std::io::Result<(Option<Vec<u8>>, usize)> {
        use std::io::Read;
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Ok((None, 0));
        }
        let mut body = Vec::new();
        // On the stack: a buffer taken from the heap for every answer made
        // each worker's heap grow and shrink back, a request at a time.
        let mut chunk = [0u8; 16 << 10];
        let mut taken = 0usize;
        loop {
            let n = match resp.read(&mut chunk) {
                Ok(n) => n,
                Err(e) => {
                    self.budget.give_back(taken);
                    return Err(e);
                }
            };
            if n == 0 {
                return Ok((Some(body), taken));
            }
            if body.len() + n > cap || !self.budget.take(n) {
                return Ok((None, taken));
            }
            taken += n;
            body.extend_from_slice(&chunk[..n]);
        }
    }
}

impl Client {
    /// A transport failure, naming the proxy when one was in the way.
    fn failure(&self, e: &reqwest::Error) -> Failure {
        let f = failure(e);
        match (&self.proxy, f) {
            (Some(p), Failure::Connect(t)) => {
                Failure::Connect(format!("{t} (through the proxy {p})"))
            }
            (Some(p), Failure::Broken(t)) => {
                Failure::Broken(format!("{t} (through the proxy {p})"))
            }
            (_, f) => f,
        }
    }
}

/// The proxy for `server`, as curl picks it: `https_proxy` or
/// `HTTPS_PROXY` for https, `http_proxy` (lower case only: a web server's
/// CGI can set `HTTP_PROXY` from a request header) for http, none for a
/// host `NO_PROXY`/`no_proxy` names (by name, domain, `*` or an address
/// range such as `10.0.0.0/8`), and never for loopback. A proxy given
/// without a scheme (`user:pass@host:port`) is `http://`, as curl reads it.
pub fn proxy_for(server: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let url = reqwest::Url::parse(server).ok()?;
    let host = url
        .host_str()?
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    let ip = host.parse::<std::net::IpAddr>().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return None;
    }
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let no_proxy = get("no_proxy")
        .or_else(|| get("NO_PROXY"))
        .unwrap_or_default();
    for entry in no_proxy.split(',').map(|e| e.trim().to_ascii_lowercase()) {
        if let (Some(ip), Ok(net)) = (ip, entry.parse::<ipnet::IpNet>()) {
            if net.contains(&ip) {
                return None;
            }
            continue;
        }
        let entry = entry.trim_start_matches("*.").trim_start_matches('.');
        if entry == "*"
            || (!entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}"))))
        {
            return None;
        }
    }
    let proxy = match url.scheme() {
        "https" => get("https_proxy").or_else(|| get("HTTPS_PROXY")),
        _ => get("http_proxy"),
    }?;
    let proxy = proxy.trim();
    Some(if proxy.contains("://") {
        proxy.to_string()
    } else {
        format!("http://{proxy}")
    })
}

/// A proxy URL for messages: its password left out (the user name may
/// show, as curl shows it).
pub fn shown_proxy(p: &str) -> String {
    match reqwest::Url::parse(p) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_password(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        _ => "(a proxy that is not a URL)".to_string(),
    }
}

/// The password of a proxy URL (decoded), to mask wherever it might be
/// echoed; the scrubber masks its encoded spellings too.
pub fn proxy_password(p: &str) -> Option<String> {
    let u = reqwest::Url::parse(p).ok()?;
    let pw = percent_encoding::percent_decode_str(u.password()?).decode_utf8_lossy();
    Some(pw.into_owned())
}

/// Reads `Retry-After`: seconds, or an HTTP date. Capped at
/// [`MAX_RETRY_AFTER`] before it becomes a duration, so no value can
/// overflow one.
pub fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    let secs = match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => s,
        Ok(_) => return None,
        Err(_) => {
            let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            let ms = (when.timestamp_millis() - chrono::Utc::now().timestamp_millis()).max(0);
            ms as f64 / 1000.0
        }
    };
    Some(Duration::from_secs_f64(
        secs.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// A header value fit for a message: control characters replaced, cut to
/// `max` characters.
fn printable(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The full chain of an error, for classification and messages.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// The TLS error behind a reqwest error, if that is what it was.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut src: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(t);
        }
        src = s.source();
    }
    None
}

fn failure(e: &reqwest::Error) -> Failure {
    use rustls::AlertDescription as A;
    let text = chain(e);
    match tls_error(e) {
        Some(rustls::Error::AlertReceived(
            A::CertificateRequired | A::BadCertificate | A::HandshakeFailure,
        )) if !text.contains("--pin-sha256") => {
            return Failure::Certificate(format!(
                "the server asked for a client certificate (TLS client authentication), which pam360-bulk does not present ({text})"
            ));
        }
        Some(
            rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::General(_),
        ) => return Failure::Certificate(text),
        _ => {}
    }
    // Some layers carry the TLS error only as text.
    let lower = text.to_lowercase();
    if lower.contains("invalid peer certificate")
        || lower.contains("certificate verify failed")
        || lower.contains("--pin-sha256")
    {
        return Failure::Certificate(text);
    }
    if e.is_timeout() {
        Failure::Timeout
    } else if e.is_connect() {
        Failure::Connect(text)
    } else {
        Failure::Broken(text)
    }
}

/// A rustls configuration that trusts one certificate by fingerprint. The
/// handshake signature is still verified, so only the holder of that
/// certificate's key can answer.
fn pinned_config(fingerprint: [u8; 32]) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinVerifier {
        fingerprint,
        provider: provider.clone(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

#[derive(Debug)]
struct PinVerifier {
    fingerprint: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if seen == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server certificate's SHA-256 fingerprint {} does not match --pin-sha256",
                hex::encode(seen)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Reads `--pin-sha256`: 64 hex digits, colons allowed.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(digits).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_flight_never_hold_more_than_the_cap_together() {
        let b = AnswerBudget::default();
        assert!(b.take(READ_ANSWER_CAP));
        assert!(b.take(READ_ANSWER_CAP));
        // A third full page would pass 128 MiB: it is cut off, not waited for.
        assert!(!b.take(1));
        b.give_back(READ_ANSWER_CAP);
        assert!(b.take(READ_ANSWER_CAP - 1));
        assert!(!b.take(2));
    }
}
