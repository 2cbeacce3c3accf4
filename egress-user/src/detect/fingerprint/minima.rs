//! The minimum of every window of `w` consecutive k-gram hashes, for a block at once.
//!
//! Winnowing keeps each window's minimum. Where only the kept hashes matter (looking a text
//! up in an index, not registering it), they are found without following the minimum from
//! one window to the next, which takes a data-dependent branch per k-gram: the minima of
//! spans of 1, 2, 4, ... hashes are built by doubling (the minimum of `2s` hashes is the
//! smaller of two minima of `s`), and a window of `w` is covered by two overlapping spans of
//! the largest power of two `p <= w`. Each pass is a plain loop the compiler turns into
//! vector code; with AVX-512 (which has an unsigned 64-bit minimum) eight hashes per
//! instruction.

/// Writes to `out[i]` the minimum of `hashes[i..i + w]` for every `i` that has a whole
/// window, using `spare` as the other buffer of the passes (both as long as `hashes`).
/// Returns how many windows there are (0 when fewer than `w` hashes).
pub(super) fn window_minima(hashes: &[u64], out: &mut [u64], spare: &mut [u64], w: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: the processor has AVX-512F.
        return unsafe { window_minima_avx512(hashes, out, spare, w) };
    }
    window_minima_portable(hashes, out, spare, w)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn window_minima_avx512(hashes: &[u64], out: &mut [u64], spare: &mut [u64], w: usize) -> usize {
    window_minima_portable(hashes, out, spare, w)
}

/// The passes, written so that each inner loop reads one buffer and writes another (no
/// aliasing, so they vectorise). The first reads `hashes`; the buffers alternate so that the
/// last writes `out`.
#[inline(always)]
fn window_minima_portable(hashes: &[u64], out: &mut [u64], spare: &mut [u64], w: usize) -> usize {
    let n = hashes.len();
    assert!(w >= 1 && out.len() >= n && spare.len() >= n);
    if n < w {
        return 0;
    }
    let windows = n + 1 - w;
    // Spans double up to the largest power of two `p <= w`; a last pass covers each window
    // with two spans of `p`, starting at `i` and at `i + w - p`.
    let doublings = w.ilog2() as usize;
    let passes = doublings + 1;
    let (mut target, mut other) =
        if passes % 2 == 1 { (&mut out[..n], &mut spare[..n]) } else { (&mut spare[..n], &mut out[..n]) };
    let mut span = 1;
    for pass in 0..passes {
        let (shift, valid) = if pass < doublings { (span, n + 1 - 2 * span) } else { (w - span, windows) };
        let source: &[u64] = if pass == 0 { hashes } else { other };
        min_pass(&mut target[..valid], &source[..valid + shift], shift);
        std::mem::swap(&mut target, &mut other);
        if pass < doublings {
            span *= 2;
        }
    }
    windows
}

/// `out[i] = min(source[i], source[i + shift])`.
#[inline(always)]
fn min_pass(out: &mut [u64], source: &[u64], shift: usize) {
    for ((slot, &a), &b) in out.iter_mut().zip(source).zip(&source[shift..]) {
        *slot = a.min(b);
    }
}

/// Writes to `out` the index of every minimum that differs from the one before it (the one
/// before `minima[0]` is `previous`) and returns how many. `out` has room for
/// `minima.len() + 16` entries: the vector path stores whole vectors.
pub(super) fn changes(minima: &[u64], previous: u64, out: &mut [u32]) -> usize {
    assert!(out.len() >= minima.len() + 16);
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("popcnt") {
        // SAFETY: the processor has the target features.
        return unsafe { changes_avx512(minima, previous, out) };
    }
    changes_portable(minima, previous, out, 0, 0)
}

/// [`changes`] from `minima[from]` on, after `count` found before it; without a branch on
/// the data (a change comes every few windows, at random).
fn changes_portable(minima: &[u64], previous: u64, out: &mut [u32], from: usize, mut count: usize) -> usize {
    let mut previous = if from == 0 { previous } else { minima[from - 1] };
    for (index, &min) in minima.iter().enumerate().skip(from) {
        out[count] = index as u32;
        count += usize::from(min != previous);
        previous = min;
    }
    count
}

/// [`changes`] sixteen minima at a time: compare each with its predecessor, compress the
/// indices of the differing ones to the front of a vector, store it whole.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
unsafe fn changes_avx512(minima: &[u64], previous: u64, out: &mut [u32]) -> usize {
    use std::arch::x86_64::*;
    // The first one against `previous`, so that every vector below can load its predecessors
    // from the slice.
    let Some(&first) = minima.first() else { return 0 };
    out[0] = 0;
    let mut count = usize::from(first != previous);
    let mut index = 1;
    let lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    while index + 16 <= minima.len() {
        // SAFETY: `index - 1 .. index + 16` is within `minima`; `out` has room for 16 entries
        // after `count <= index` (asserted by the caller); all loads and stores are unaligned.
        let changed = unsafe {
            let at = minima.as_ptr().add(index);
            let low = _mm512_cmpneq_epu64_mask(_mm512_loadu_si512(at.cast()), _mm512_loadu_si512(at.sub(1).cast()));
            let high =
                _mm512_cmpneq_epu64_mask(_mm512_loadu_si512(at.add(8).cast()), _mm512_loadu_si512(at.add(7).cast()));
            u16::from(low) | u16::from(high) << 8
        };
        let indices = _mm512_add_epi32(lanes, _mm512_set1_epi32(index as i32));
        let target = &mut out[count..count + 16];
        // SAFETY: `target` is 16 entries long.
        unsafe { _mm512_storeu_si512(target.as_mut_ptr().cast(), _mm512_maskz_compress_epi32(changed, indices)) };
        count += changed.count_ones() as usize;
        index += 16;
    }
    changes_portable(minima, previous, out, index, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minima_equal_the_definition() {
        let mut state = 5u64;
        for n in [0, 1, 2, 23, 24, 25, 63, 64, 65, 200, 1111] {
            let hashes: Vec<u64> = (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    // Few distinct values, so windows have ties.
                    if n > 100 { state >> 60 } else { state }
                })
                .collect();
            for w in [1, 2, 3, 4, 5, 7, 8, 16, 24, 31, 64] {
                let (mut minima, mut spare) = (vec![0; n], vec![0; n]);
                let windows = window_minima(&hashes, &mut minima, &mut spare, w);
                let expected: Vec<u64> =
                    hashes.windows(w).map(|window| *window.iter().min().expect("w >= 1")).collect();
                assert_eq!(windows, expected.len(), "n {n} w {w}");
                assert_eq!(&minima[..windows], expected.as_slice(), "n {n} w {w}");
                let previous = 1 << 62;
                let mut found = vec![0; windows + 16];
                let count = changes(&minima[..windows], previous, &mut found);
                let expected_changes: Vec<u32> = (0..windows)
                    .filter(|&i| minima[i] != if i == 0 { previous } else { minima[i - 1] })
                    .map(|i| i as u32)
                    .collect();
                assert_eq!(&found[..count], expected_changes.as_slice(), "changes n {n} w {w}");
                assert_eq!(changes_portable(&minima[..windows], previous, &mut found, 0, 0), count);
                assert_eq!(&found[..count], expected_changes.as_slice(), "portable changes n {n} w {w}");
                let mut portable = vec![0; n];
                assert_eq!(window_minima_portable(&hashes, &mut portable, &mut spare, w), windows);
                assert_eq!(&portable[..windows], expected.as_slice(), "portable n {n} w {w}");
            }
        }
    }
}
