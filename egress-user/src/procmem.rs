//! Reading the plaintext buffer of a stopped process: `process_vm_readv`, exact length.
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

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_memory_exactly() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let copy = super::read(std::process::id(), data.as_ptr() as u64, data.len()).expect("readable");
        assert_eq!(copy, data);
    }

    #[test]
    fn an_unmapped_address_is_an_error() {
        assert!(super::read(std::process::id(), 8, 16).is_err());
    }
}
