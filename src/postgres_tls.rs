//! TLS to PostgreSQL as the database URL asks for it (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, which sqlx
//! reads and hands to rustls): a check of the certificate files before connecting, and connection failures said
//! plainly.
//!
//! sqlx reads those files only while it connects, and reports a missing one as a bare "No such file or directory"
//! that names neither the file nor the URL; a server certificate it refuses comes wrapped twice in "error
//! communicating with database". Here the first names the file and the URL parameter, and the second says once
//! that the server's certificate was refused and why.

use anyhow::{anyhow, Context, Result};

/// The URL parameters (sqlx's spellings) that name a certificate or key file, or hold one inline as PEM.
const FILE_PARAMETERS: [&str; 7] =
    ["sslrootcert", "ssl-root-cert", "ssl-ca", "sslcert", "ssl-cert", "sslkey", "ssl-key"];

/// Fails when a certificate or key file named in the PostgreSQL URL `url` cannot be opened. A URL that does not
/// parse passes: connecting reports that.
pub fn check_files(url: &str) -> Result<()> {
    let Ok(url) = url::Url::parse(url) else {
        return Ok(());
    };
    for (parameter, value) in url.query_pairs() {
        let inline_pem = value.trim_start().starts_with("-----BEGIN");
        if FILE_PARAMETERS.contains(&&*parameter) && !inline_pem {
            std::fs::File::open(&*value)
                .with_context(|| format!("cannot read {value}, the {parameter} of the PostgreSQL URL"))?;
        }
    }
    Ok(())
}

/// A failure to connect to PostgreSQL, as the operator should read it.
pub fn connect_error(error: sqlx::Error) -> anyhow::Error {
    if let sqlx::Error::Io(io) = &error {
        match io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(tls @ rustls::Error::InvalidCertificate(_)) => {
                return anyhow!(
                    "connect to PostgreSQL: the server's TLS certificate was refused ({tls}); the URL's sslmode says \
                     what is checked, its sslrootcert which CA to trust"
                )
            }
            Some(tls) => return anyhow!("connect to PostgreSQL: TLS failed: {tls}"),
            None => {}
        }
    }
    anyhow::Error::new(error).context("connect to PostgreSQL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_certificate_file_is_named_with_its_parameter() {
        let error = check_files("postgres://db.example/tally?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .expect_err("a missing file");
        let message = format!("{error:#}");
        assert!(message.contains("/nonexistent/ca.pem") && message.contains("sslrootcert"), "{message}");
    }

    #[test]
    fn urls_without_files_inline_certificates_and_readable_files_pass() {
        assert!(check_files("postgres://postgres@127.0.0.1:5432/tally").is_ok());
        assert!(check_files("postgres://db.example/tally?sslmode=require").is_ok());
        assert!(check_files("postgres://db.example/tally?sslrootcert=-----BEGIN%20CERTIFICATE-----").is_ok());
        let readable = std::env::current_exe().expect("the test binary");
        assert!(check_files(&format!("postgres://db.example/tally?sslrootcert={}", readable.display())).is_ok());
    }
}
