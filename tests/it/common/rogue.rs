//! Misbehaving servers for tests: a few lines of std `TcpListener` on a
//! loopback address that answer each request with whatever bytes the test
//! scripts (a redirect, an HTML error page, a bogus `Retry-After`), and keep
//! every request they got. The simulator stays a faithful PAM360; these are
//! the servers it must not be.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `INPUT_DATA` form field, decoded.
    pub fn input_data(&self) -> String {
        form_urlencoded::parse(&self.body)
            .find(|(k, _)| k == "INPUT_DATA")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }
}

/// What the server does with one request.
pub enum Reply {
    /// These bytes, then the connection closes.
    Bytes(Vec<u8>),
    /// Close the connection without a word.
    Hangup,
    /// A 200 JSON answer streamed in pieces (see [`big`]).
    Big {
        head: Vec<u8>,
        fill: u8,
        len: usize,
        tail: Vec<u8>,
    },
    /// Wait this long, then close without a word.
    Stall(Duration),
}

type Script = dyn Fn(usize, &Request) -> Reply + Send + Sync;

/// A scripted server; stops accepting when dropped.
pub struct Rogue {
    pub url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Rogue {
    /// Listens on `ip:0` and answers request number `n` (from 0) with
    /// `script(n, &request)`.
    pub fn start(
        ip: &str,
        script: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static,
    ) -> Rogue {
        let listener = TcpListener::bind((ip, 0)).expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let count = Arc::new(AtomicUsize::new(0));
        {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let (seen, script, count) = (seen.clone(), script.clone(), count.clone());
                    std::thread::spawn(move || serve(conn, &seen, &*script, &count));
                }
            });
        }
        Rogue {
            url: format!("http://{addr}"),
            seen,
            stop,
            addr,
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Rogue {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<Request>>, script: &Script, count: &AtomicUsize) {
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut reader = BufReader::new(conn.try_clone().expect("clone the stream"));
    let mut writer = conn;
    // One request per connection: every answer closes it.
    let Some(req) = read_request(&mut reader) else {
        return;
    };
    seen.lock().unwrap().push(req.clone());
    let n = count.fetch_add(1, Ordering::SeqCst);
    match script(n, &req) {
        Reply::Bytes(bytes) => {
            let _ = writer.write_all(&bytes);
            let _ = writer.flush();
        }
        Reply::Hangup => {}
        Reply::Big {
            head,
            fill,
            len,
            tail,
        } => {
            let total = head.len() + len + tail.len();
            let status = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
            );
            let chunk = vec![fill; 1 << 20];
            let mut left = len;
            let mut ok =
                writer.write_all(status.as_bytes()).is_ok() && writer.write_all(&head).is_ok();
            while ok && left > 0 {
                let n = left.min(chunk.len());
                ok = writer.write_all(&chunk[..n]).is_ok();
                left -= n;
            }
            if ok {
                let _ = writer.write_all(&tail);
            }
            let _ = writer.flush();
        }
        Reply::Stall(d) => std::thread::sleep(d),
    }
    let _ = writer.shutdown(std::net::Shutdown::Both);
}

fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// An HTTP/1.1 answer with `Content-Length` and `Connection: close`.
pub fn http(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut out = format!("HTTP/1.1 {status} Whatever\r\n").into_bytes();
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    Reply::Bytes(out)
}

/// A PAM360 JSON answer with HTTP 200.
pub fn json(value: serde_json::Value) -> Reply {
    http(
        200,
        &[("Content-Type", "application/json;charset=UTF-8")],
        value.to_string().as_bytes(),
    )
}

/// An add-accounts answer naming each account sent with `status`.
pub fn accounts_answer(req: &Request, status: &str) -> Reply {
    let data: serde_json::Value = serde_json::from_str(&req.input_data()).unwrap_or_default();
    let mut details = serde_json::Map::new();
    if let Some(list) = data["operation"]["Details"]["ACCOUNTLIST"].as_array() {
        for a in list {
            if let Some(name) = a["ACCOUNTNAME"].as_str() {
                details.insert(name.to_string(), serde_json::json!({ "STATUS": status }));
            }
        }
    }
    json(serde_json::json!({"operation": {
        "name": "ADD ACCOUNTS",
        "result": {"status": "Success", "message": "done"},
        "Details": details,
    }}))
}

/// A password-request answer raised for approval.
pub fn requested_answer() -> Reply {
    json(serde_json::json!({"operation": {
        "name": "REQUEST PASSWORD",
        "result": {"status": "Success", "message": "Password requested successfully"},
        "Details": {"STATUS": "[Waiting for Approval]"},
    }}))
}

/// A TLS server on 127.0.0.1 that demands a client certificate, as some
/// PAM360 installations behind a strict proxy do. Returns its URL; it
/// serves until the test process ends.
pub fn tls_demanding_a_client_certificate() -> String {
    use std::sync::Arc;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(Arc::new(DemandCert(provider)))
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let mut tcp = conn;
                let mut tls = rustls::ServerConnection::new(config).unwrap();
                while tls.is_handshaking() {
                    if tls.complete_io(&mut tcp).is_err() {
                        break;
                    }
                }
            });
        }
    });
    url
}

/// Requires a client certificate and accepts none.
#[derive(Debug)]
struct DemandCert(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::server::danger::ClientCertVerifier for DemandCert {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Err(rustls::Error::General("no client is trusted".into()))
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no client is trusted".into()))
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no client is trusted".into()))
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TCP forwarder on 127.0.0.1: connection `n` (from 0) goes to
/// `backends[0]` while `n < switch_after`, to `backends[1]` after. It
/// closes a client connection once the backend has been quiet for 200 ms
/// after answering, so every request after that opens a new connection
/// (and a new TLS handshake) through it: a server whose certificate
/// changes between requests.
pub struct Forwarder {
    pub addr: std::net::SocketAddr,
}

impl Forwarder {
    pub fn start(backends: [std::net::SocketAddr; 2], switch_after: usize) -> Forwarder {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(client) = conn else { continue };
                let backend = backends[usize::from(n >= switch_after)];
                std::thread::spawn(move || pipe(client, backend));
            }
        });
        Forwarder { addr }
    }
}

fn pipe(client: TcpStream, backend: std::net::SocketAddr) {
    use std::io::Read;
    let Ok(server) = TcpStream::connect(backend) else {
        return;
    };
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_in, &mut s_out);
    });
    let (mut s_in, mut c_out) = (server, client);
    s_in.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut answered = false;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s_in.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answered = true;
                if c_out.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if answered {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = c_out.shutdown(std::net::Shutdown::Both);
    let _ = s_in.shutdown(std::net::Shutdown::Both);
}

/// An HTTP/1.1 200 answer whose body is `head`, then `len` bytes of
/// `fill`, then `tail`, streamed without building it in memory.
pub fn big(head: &str, fill: u8, len: usize, tail: &str) -> Reply {
    Reply::Big {
        head: head.as_bytes().to_vec(),
        fill,
        len,
        tail: tail.as_bytes().to_vec(),
    }
}
