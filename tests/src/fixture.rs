//! A test's working set: a temp dir, certificates and a running server.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::certs::TestCerts;
use crate::client::{ClientRequest, Target};
use crate::server::{ServerOptions, TestServer};

/// A temp dir, a CA and server certificate, and a [`TestServer`] on 127.0.0.1.
pub struct Fixture {
    // Field order is drop order: the server stops before its certificates go.
    pub server: TestServer,
    pub certs: TestCerts,
    dir: TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_server(ServerOptions::new())
    }

    /// Like [`Fixture::new`], with the server started from `options` (its routes).
    pub fn with_server(options: ServerOptions) -> Self {
        let dir = tempfile::Builder::new().prefix("egress-test-").tempdir().expect("create temp dir");
        let certs = TestCerts::new();
        let server = TestServer::start_with(&certs, options);
        Fixture { server, certs, dir }
    }

    /// Another server with the same certificates (drop it before the fixture).
    pub fn start_server(&self, options: ServerOptions) -> TestServer {
        TestServer::start_with(&self.certs, options)
    }

    /// `https://localhost:PORT` of `server` (started with this fixture's certificates).
    pub fn target_of(&self, server: &TestServer) -> Target {
        Target::new("localhost", server.port(), self.certs.ca_path())
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
