//! Certificates for tests of TLS: a throw-away certificate authority and a server certificate it
//! signed for `localhost` and `127.0.0.1`, written as PEM files into a temporary directory.
//!
//! Clients trust the CA through its file ([`TestCa::ca_file`]), exactly as a self-hosted
//! server's users would; nothing is installed in the system's store.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use super::FixtureError;

/// A test CA and one server certificate it signed, with their PEM files.
#[derive(Debug)]
pub struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    /// A new CA and a server certificate for `localhost` and `127.0.0.1`.
    pub fn new() -> Result<Self, FixtureError> {
        let failed = |error: rcgen::Error| FixtureError::Setup {
            step: "making test certificates",
            detail: error.to_string(),
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Open Assistant test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(failed)?)
            .map_err(failed)?;

        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(failed)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_key = KeyPair::generate().map_err(failed)?;
        let server_cert = server_params.signed_by(&server_key, &ca).map_err(failed)?;

        let dir =
            tempfile::tempdir().map_err(FixtureError::setup("a directory for certificates"))?;
        let test_ca = TestCa { dir };
        for (path, text) in [
            (test_ca.ca_file(), ca.pem()),
            (test_ca.cert_file(), server_cert.pem()),
            (test_ca.key_file(), server_key.serialize_pem()),
        ] {
            std::fs::write(path, text).map_err(FixtureError::setup("writing test certificates"))?;
        }
        Ok(test_ca)
    }

    /// The CA's certificate (PEM): what a client is told to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// The server's certificate (PEM).
    pub fn cert_file(&self) -> PathBuf {
        self.path("server.pem")
    }

    /// The server's private key (PEM, PKCS#8).
    pub fn key_file(&self) -> PathBuf {
        self.path("server.key")
    }

    /// The directory holding the three files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
