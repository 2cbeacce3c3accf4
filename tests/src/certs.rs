//! A test CA and a server certificate made with rcgen.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tempfile::TempDir;

/// Names the server certificate is valid for. `127.0.0.9` is there for the
/// deny-destinations test (a second loopback address the server also listens on).
pub const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1", "127.0.0.9"];

/// A CA (its PEM in `ca.pem` in a temp dir) and a server certificate signed by it.
pub struct TestCerts {
    dir: TempDir,
    ca_pem: PathBuf,
    server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
}

impl TestCerts {
    /// Makes a fresh CA and a server certificate for [`SERVER_NAMES`].
    pub fn new() -> Self {
        let dir =
            tempfile::Builder::new().prefix("egress-test-certs-").tempdir().expect("create temp dir for certificates");

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.distinguished_name.push(DnType::CommonName, "egress test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().expect("generate CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let names: Vec<String> = SERVER_NAMES.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("generate server key");
        let cert = params.signed_by(&key, &issuer).expect("sign server cert");

        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&ca_pem, ca_cert.pem()).expect("write ca.pem");
        std::fs::write(dir.path().join("server.pem"), cert.pem()).expect("write server.pem");
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).expect("write server.key");

        TestCerts { dir, ca_pem, server_cert: cert.der().clone(), server_key: key.serialize_der() }
    }

    /// Path of the CA certificate (PEM) that clients trust.
    pub fn ca_path(&self) -> &Path {
        &self.ca_pem
    }

    /// The temp dir holding `ca.pem`, `server.pem`, `server.key`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A rustls server config (ring provider, ALPN `http/1.1` only).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.server_cert.clone()], key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl Default for TestCerts {
    fn default() -> Self {
        Self::new()
    }
}
