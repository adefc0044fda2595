//! HTTPS served by Writ itself (DESIGN section 14, `tls.cert_file` / `WRIT_TLS_CERT_FILE` and
//! `tls.key_file` / `WRIT_TLS_KEY_FILE`): rustls on the aws-lc-rs provider, the certificate chain
//! and key read from PEM files, re-read on demand ([`ReloadableTls::reload`], which the binary
//! calls on SIGHUP) so a renewed certificate is served to new connections without a restart.
//!
//! Why a listener of its own ([`TlsListener`]) rather than a TLS server crate: `axum::serve`
//! accepts any [`axum::serve::Listener`], so the handshake happens before axum sees the stream
//! and everything else — connect info, graceful shutdown, the router — stays as on plain HTTP.
//! Handshakes run in tasks of their own, bounded by [`HANDSHAKE_TIMEOUT`], so a slow or silent
//! client never holds up the accept loop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// The longest a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for axum to take them.
const ACCEPT_QUEUE: usize = 128;

/// The largest certificate or key file read (a chain of a few certificates is a few KiB).
const MAX_PEM_BYTES: u64 = 1024 * 1024;

fn read_pem(path: &Path, setting: &str) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{setting} {}: cannot be read: {e}", path.display()))?
        .len();
    if size > MAX_PEM_BYTES {
        return Err(format!(
            "{setting} {}: larger than {MAX_PEM_BYTES} bytes: not a PEM certificate or key",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{setting} {}: cannot be read: {e}", path.display()))
}

/// Reads the certificate chain (leaf first) and private key (PKCS#8, PKCS#1 or SEC1) from PEM
/// files and builds the server configuration; every error names the file and what is wrong,
/// including a key that does not belong to the certificate.
pub fn load_config(cert_file: &Path, key_file: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let cert_pem = read_pem(cert_file, "tls.cert_file")?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls.cert_file {}: not valid PEM: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls.cert_file {}: no CERTIFICATE in the file (PEM expected)",
            cert_file.display()
        ));
    }
    let key_pem = read_pem(key_file, "tls.key_file")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "tls.key_file {}: no PEM private key (PKCS#8, RSA or EC) found: {e}",
            key_file.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "tls.cert_file {} and tls.key_file {}: not a usable pair: {e}",
                cert_file.display(),
                key_file.display()
            )
        })?;
    // Only HTTP/1.1 is served (axum's `http1` feature).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS configuration in use, and the files it is re-read from.
#[derive(Clone)]
pub struct ReloadableTls {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: Arc<RwLock<Arc<rustls::ServerConfig>>>,
}

impl std::fmt::Debug for ReloadableTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableTls")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl ReloadableTls {
    /// Reads both files; an error names the file (start-up fails with it).
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, String> {
        let config = load_config(cert_file, key_file)?;
        Ok(Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            current: Arc::new(RwLock::new(config)),
        })
    }

    /// Re-reads both files for the connections accepted from now on. On an error the
    /// configuration in use is kept (a half-written renewal must not take the server down), and
    /// the error is returned for the caller to log.
    pub fn reload(&self) -> Result<(), String> {
        let config = load_config(&self.cert_file, &self.key_file)?;
        // A poisoned lock only means a writer panicked mid-assignment of an `Arc`: the value is
        // whole either way.
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        *current = config;
        Ok(())
    }

    fn acceptor(&self) -> TlsAcceptor {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        TlsAcceptor::from(current.clone())
    }
}

/// A TCP listener whose connections come out of their TLS handshake: `axum::serve` takes it
/// like a `TcpListener` (wrap it with `ListenerExt::tap_io` for `ConnectInfo<SocketAddr>`).
pub struct TlsListener {
    connections: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` (the accept loop ends when this listener is dropped, as after
    /// a graceful shutdown).
    pub fn new(tcp: TcpListener, tls: ReloadableTls) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (sender, connections) = mpsc::channel(ACCEPT_QUEUE);
        tokio::spawn(accept_loop(tcp, tls, sender));
        Ok(Self { connections, local })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    tls: ReloadableTls,
    sender: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            () = sender.closed() => return,
            accepted = tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of file descriptors and the like: wait, as axum's own loop does.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Each connection uses the configuration current when it arrived.
        let acceptor = tls.acceptor();
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = sender.send((stream, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            // The accept loop only ends once this listener is gone; never reached, but a
            // listener must not return without a connection.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    #[test]
    fn a_pair_loads_and_every_error_names_its_file() {
        let (cert, key) = (testdata("tls-a.crt"), testdata("tls-a.key"));
        assert!(load_config(&cert, &key).is_ok());
        let missing = testdata("missing.pem");
        let error = load_config(&missing, &key).unwrap_err();
        assert!(
            error.contains("tls.cert_file") && error.contains("missing.pem"),
            "{error}"
        );
        let error = load_config(&cert, &missing).unwrap_err();
        assert!(
            error.contains("tls.key_file") && error.contains("missing.pem"),
            "{error}"
        );
        // A key where the certificate should be, and the reverse.
        let error = load_config(&key, &key).unwrap_err();
        assert!(
            error.contains("no CERTIFICATE") && error.contains("tls-a.key"),
            "{error}"
        );
        let error = load_config(&cert, &cert).unwrap_err();
        assert!(
            error.contains("tls.key_file") && error.contains("tls-a.crt"),
            "{error}"
        );
        // Another certificate's key.
        let error = load_config(&cert, &testdata("tls-b.key")).unwrap_err();
        assert!(error.contains("not a usable pair"), "{error}");
    }

    #[test]
    fn a_failed_reload_keeps_the_configuration_in_use() {
        let dir = std::env::temp_dir().join(format!("writ-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        std::fs::copy(testdata("tls-a.crt"), &cert).unwrap();
        std::fs::copy(testdata("tls-a.key"), &key).unwrap();
        let tls = ReloadableTls::load(&cert, &key).unwrap();
        let before = tls.acceptor().config().clone();
        // A half-done renewal: the new certificate beside the old key.
        std::fs::copy(testdata("tls-b.crt"), &cert).unwrap();
        let error = tls.reload().unwrap_err();
        assert!(error.contains("not a usable pair"), "{error}");
        assert!(Arc::ptr_eq(&before, tls.acceptor().config()));
        // The renewal completed: the new pair is used.
        std::fs::copy(testdata("tls-b.key"), &key).unwrap();
        tls.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, tls.acceptor().config()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
