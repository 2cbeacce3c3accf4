//! Ending a blocked connection at once. A blocked write fails in the agent, but a client that
//! already sent the request's headers (httpx writes headers and body apart) would then wait
//! for a response until its timeout. Shutting the agent's socket down makes its next read
//! fail immediately, and tells the server the request is over.
//!
//! The socket is found by its ports in /proc/PID/net/tcp{,6} (the kernel side records the
//! connection's local and remote port), taken from the agent with `pidfd_getfd` and shut
//! down; the agent's own descriptor stays open, so it sees an ordinary connection reset.
use std::{fs, io, os::fd::FromRawFd as _};

/// Shuts down the TCP connection of process `tgid` from `local_port` to `remote_port`.
/// Returns whether such a socket was found.
pub fn shut_down(tgid: u32, local_port: u16, remote_port: u16) -> io::Result<bool> {
    let Some(inode) = socket_inode(tgid, local_port, remote_port) else {
        return Ok(false);
    };
    let Some(fd) = fd_of_inode(tgid, inode)? else {
        return Ok(false);
    };
    // SAFETY: raw syscalls with plain integer arguments; the returned fds are owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, tgid as libc::c_long, 0 as libc::c_long) };
    if pidfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd is a fresh descriptor we own.
    let pidfd = unsafe { std::os::fd::OwnedFd::from_raw_fd(pidfd as i32) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&pidfd);
    // SAFETY: as above.
    let socket =
        unsafe { libc::syscall(libc::SYS_pidfd_getfd, raw as libc::c_long, fd as libc::c_long, 0 as libc::c_long) };
    if socket < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a duplicate of the agent's socket that we own and close on drop.
    let socket = unsafe { std::os::fd::OwnedFd::from_raw_fd(socket as i32) };
    // SAFETY: shutdown(2) on a socket descriptor we own.
    if unsafe { libc::shutdown(std::os::fd::AsRawFd::as_raw_fd(&socket), libc::SHUT_RDWR) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// The inode of the process's TCP socket with these ports, from its network namespace's
/// socket tables.
fn socket_inode(tgid: u32, local_port: u16, remote_port: u16) -> Option<u64> {
    ["tcp", "tcp6"].iter().find_map(|table| {
        let text = fs::read_to_string(format!("/proc/{tgid}/net/{table}")).ok()?;
        text.lines().skip(1).find_map(|line| matching_inode(line, local_port, remote_port))
    })
}

/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`, addresses as `HEXIP:HEXPORT`.
fn matching_inode(line: &str, local_port: u16, remote_port: u16) -> Option<u64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let port = |field: &str| field.rsplit_once(':').and_then(|(_, port)| u16::from_str_radix(port, 16).ok());
    let local = port(fields.get(1)?)?;
    let remote = port(fields.get(2)?)?;
    (local == local_port && remote == remote_port).then(|| fields.get(9)?.parse().ok()).flatten()
}

/// The descriptor number under which the process holds the socket with this inode.
fn fd_of_inode(tgid: u32, inode: u64) -> io::Result<Option<i32>> {
    let wanted = format!("socket:[{inode}]");
    for entry in fs::read_dir(format!("/proc/{tgid}/fd"))?.flatten() {
        if fs::read_link(entry.path()).is_ok_and(|target| target.as_os_str() == wanted.as_str()) {
            return Ok(entry.file_name().to_str().and_then(|name| name.parse().ok()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    #[test]
    fn reads_ports_and_inode_from_a_socket_table_line() {
        let line = "   3: 0100007F:C350 0100007F:20FB 01 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 20 4 30 10 -1";
        assert_eq!(matching_inode(line, 0xC350, 0x20FB), Some(123456));
        assert_eq!(matching_inode(line, 0xC350, 0x20FC), None);
    }

    #[test]
    fn shuts_down_a_connection_of_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let server_port = listener.local_addr().expect("address").port();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", server_port)).expect("connect");
        let (mut accepted, _) = listener.accept().expect("accept");
        let local_port = client.local_addr().expect("address").port();
        match shut_down(std::process::id(), local_port, server_port) {
            Ok(found) => assert!(found, "the socket is found by its ports"),
            // pidfd_getfd needs ptrace rights over the target, which unprivileged test
            // sandboxes may withhold even for the process itself.
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                eprintln!("SKIP: pidfd_getfd refused: {error}");
                return;
            }
            Err(error) => panic!("shut_down failed: {error}"),
        }
        let mut buffer = [0u8; 1];
        assert_eq!(accepted.read(&mut buffer).expect("the peer sees the end"), 0);
        assert!(client.write_all(b"x").is_err(), "writes fail after the shutdown");
    }
}
