//! The plaintext buffer of a stopped process: read it exactly (`process_vm_readv`) and mask
//! bytes of it in place (`process_vm_writev`).
use std::io;

/// Copies `len` bytes at `addr` of process `pid`. Fails rather than return fewer bytes.
pub fn read(pid: u32, addr: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; len];
    let mut done = 0usize;
    while done < len {
        let local = libc::iovec { iov_base: buffer[done..].as_mut_ptr().cast(), iov_len: len - done };
        let remote = libc::iovec { iov_base: (addr + done as u64) as *mut libc::c_void, iov_len: len - done };
        // SAFETY: the local iovec points into `buffer`, which outlives the call.
        let copied = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
        if copied < 0 {
            return Err(io::Error::last_os_error());
        }
        if copied == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("short read of process {pid} memory")));
        }
        done += copied as usize;
    }
    Ok(buffer)
}

/// Overwrites `bytes.len()` bytes at `addr` of process `pid`. Fails rather than write part of
/// them (a read-only mapping, such as a string literal in the agent, fails with EFAULT).
pub fn write(pid: u32, addr: u64, bytes: &[u8]) -> io::Result<()> {
    let local = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: bytes.len() };
    // SAFETY: the local iovec points into `bytes`, which outlives the call; the kernel only
    // reads from it.
    let written = unsafe { libc::process_vm_writev(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if written < 0 {
        return Err(io::Error::last_os_error());
    }
    if written as usize != bytes.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, format!("short write of process {pid} memory")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_memory_exactly() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let copy = super::read(std::process::id(), data.as_ptr() as u64, data.len()).expect("readable");
        assert_eq!(copy, data);
    }

    #[test]
    fn writes_own_memory_in_place() {
        let mut data = b"card 4111111111111111 end".to_vec();
        let start = data.as_ptr() as u64 + 5;
        super::write(std::process::id(), start, &[b'*'; 16]).expect("writable");
        assert_eq!(std::hint::black_box(&data[..]), b"card **************** end");
        data.clear();
    }

    #[test]
    fn read_only_memory_refuses_the_write() {
        static CONSTANT: &[u8] = b"read-only literal";
        assert!(super::write(std::process::id(), CONSTANT.as_ptr() as u64, b"X").is_err());
    }

    #[test]
    fn an_unmapped_address_is_an_error() {
        assert!(super::read(std::process::id(), 8, 16).is_err());
    }
}
