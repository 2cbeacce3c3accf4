//! A test's working set: a temp dir, certificates and a running server.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::certs::TestCerts;
use crate::client::{ClientRequest, Target};
use crate::server::TestServer;

/// A temp dir, a CA and server certificate, and a [`TestServer`] on 127.0.0.1.
pub struct Fixture {
    // Field order is drop order: the server stops before its certificates go.
    pub server: TestServer,
    pub certs: TestCerts,
    dir: TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("egress-test-").tempdir().expect("create temp dir");
        let certs = TestCerts::new();
        let server = TestServer::start(&certs);
        Fixture { server, certs, dir }
    }

    /// The temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `dir/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `dir/name` and returns its path.
    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// `https://localhost:PORT` of the server, with the CA.
    pub fn target(&self) -> Target {
        Target::new("localhost", self.server.port(), self.certs.ca_path())
    }

    /// Writes the body to a file and returns the request for `path`.
    pub fn request(&self, name: &str, path: &str, body: &[u8]) -> ClientRequest {
        ClientRequest { path: path.into(), body_file: self.write(name, body) }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}
