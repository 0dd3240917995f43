//! HTTPS served by `tally serve` itself (`--tls-cert FILE --tls-key FILE`), for deployments with no proxy in front
//! to end TLS.
//!
//! The certificate and key are read once at start-up, before anything else starts, so a missing, unreadable or
//! invalid file is a plain error and nothing is left running. TLS is rustls on ring (the crypto provider PostgreSQL's
//! connections use too, chosen here explicitly rather than from whichever rustls features the dependencies enable),
//! TLS 1.2 and 1.3, and ALPN offers HTTP/2 then HTTP/1.1. Serving is `axum-server`'s, which runs the same hyper
//! connections `axum::serve` does; on Ctrl-C or SIGTERM it stops accepting and lets open connections finish, as the
//! plain HTTP server does.

use anyhow::{bail, Context, Result};
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

/// The server's TLS configuration from a PEM certificate chain (the server's certificate first, then any
/// intermediates) and its PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load(cert_file: &Path, key_file: &Path) -> Result<RustlsConfig> {
    let certs = read_certificates(cert_file)?;
    let key = read_private_key(key_file)?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("set up TLS")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!("the TLS key {} does not go with the certificate {}", key_file.display(), cert_file.display())
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

fn read_certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(file).with_context(|| format!("read the TLS certificate {}", file.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("the TLS certificate {} is not valid PEM", file.display()))?;
    if certs.is_empty() {
        bail!("the TLS certificate {} holds no certificate (-----BEGIN CERTIFICATE-----)", file.display());
    }
    Ok(certs)
}

fn read_private_key(file: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(file).with_context(|| format!("read the TLS key {}", file.display()))?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            bail!("the TLS key {} holds no private key (-----BEGIN PRIVATE KEY-----)", file.display())
        }
        Err(error) => Err(error).with_context(|| format!("the TLS key {} is not valid PEM", file.display())),
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then stops accepting and waits for the open
/// connections to finish (what `axum::serve(...).with_graceful_shutdown` does for plain HTTP).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    config: RustlsConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener.into_std()?, config)?
        .handle(handle.clone())
        .serve(app.into_make_service());
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => return served,
        () = shutdown => handle.graceful_shutdown(None),
    }
    server.await
}
