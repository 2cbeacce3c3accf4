//! Reading a daemon's Prometheus endpoint the way a scraper does: a plain HTTP GET.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

/// `GET /metrics` at `url` (`http://HOST:PORT/metrics`); the body, or a panic saying why not.
pub fn scrape(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http URL: {url}"));
    let (address, path) = rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connecting to {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("reading {url}: {e}"));
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP head from {url}"));
    assert!(head.starts_with("HTTP/1.1 200"), "GET {url}: {head}");
    // hyper sends small bodies whole, but a chunked one is decoded here.
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The value of one series (`name{labels}` exactly as exposed, labels sorted by name).
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn series_values_and_chunked_bodies_are_read() {
        let text = "# HELP x\negress_a_total{action=\"block\",tool=\"t\"} 3\negress_b 0.5\n";
        assert_eq!(super::value(text, r#"egress_a_total{action="block",tool="t"}"#), Some(3.0));
        assert_eq!(super::value(text, "egress_b"), Some(0.5));
        assert_eq!(super::value(text, "egress_a_total"), None);
        assert_eq!(super::dechunk("5\r\nhello\r\n3\r\n wo\r\n0\r\n\r\n"), "hello wo");
    }
}
