//! The minimum of every window of `w` consecutive k-gram hashes, for a block at once, and the
//! windows whose minimum differs from the window before.
//!
//! Winnowing keeps each window's minimum. Where only the kept hashes matter (looking a text
//! up in an index, not registering it), they are found without following the minimum from
//! one window to the next, which takes a data-dependent branch per k-gram: the minima of
//! spans of 1, 2, 4, ... hashes are built by doubling (the minimum of `2s` hashes is the
//! smaller of two minima of `s`), and a window of `w` is covered by overlapping spans.
//! Portably each doubling is a pass over memory, which the compiler turns into vector code.
//! With AVX-512 (which has an unsigned 64-bit minimum) the spans of 8 are built in registers
//! in one pass, and a second covers each window with spans of 8 starting 8 apart, compares
//! it with the window before and compresses the indices and minima of the changes to the
//! front of a vector.

/// Entries past their count that the vector path may write to `picked` and `minima`.
pub(super) const SLACK: usize = 16;

/// Room [`changes`] needs in `spare` for `hashes` hashes.
pub(super) const fn spare_for(hashes: usize) -> usize {
    2 * hashes + 32
}

/// For every window of `w` in `hashes` (which holds at least one) whose minimum differs from
/// the one before it (the one before the first is `previous`; with none the first window
/// counts), writes its index to `picked` and its minimum to `minima`; returns how many, and
/// the minimum of the last window. `picked` and `minima` have room for one entry per window
/// and [`SLACK`]; `spare` for [`spare_for`] `hashes.len()`.
pub(super) fn changes(
    hashes: &[u64],
    w: usize,
    previous: Option<u64>,
    picked: &mut [u32],
    minima: &mut [u64],
    spare: &mut [u64],
) -> (usize, u64) {
    let n = hashes.len();
    assert!(w >= 1 && n >= w && spare.len() >= spare_for(n));
    let windows = n + 1 - w;
    assert!(picked.len() >= windows + SLACK && minima.len() >= windows + SLACK);
    #[cfg(target_arch = "x86_64")]
    if w >= 8
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the processor has the target features; the bounds are asserted above.
        return unsafe { changes_avx512(hashes, w, previous, picked, minima, spare) };
    }
    changes_portable(hashes, w, previous, picked, minima, spare)
}

/// [`changes`] with the window minima in a buffer first.
fn changes_portable(
    hashes: &[u64],
    w: usize,
    previous: Option<u64>,
    picked: &mut [u32],
    minima: &mut [u64],
    spare: &mut [u64],
) -> (usize, u64) {
    let n = hashes.len();
    let (window_min, rest) = spare.split_at_mut(n);
    let windows = window_minima(hashes, window_min, &mut rest[..n], w);
    // Without a branch on the data (a change comes every few windows, at random).
    let mut before = previous.unwrap_or(!window_min[0]);
    let mut count = 0;
    for (index, &min) in window_min[..windows].iter().enumerate() {
        (picked[count], minima[count]) = (index as u32, min);
        count += usize::from(min != before);
        before = min;
    }
    (count, before)
}

/// Writes to `out[i]` the minimum of `hashes[i..i + w]` for every `i` that has a whole
/// window, using `spare` as the other buffer of the passes (both as long as `hashes`).
/// Returns how many windows there are (0 when fewer than `w` hashes).
///
/// The passes are written so that each inner loop reads one buffer and writes another (no
/// aliasing, so they vectorise). The first reads `hashes`; the buffers alternate so that the
/// last writes `out`.
fn window_minima(hashes: &[u64], out: &mut [u64], spare: &mut [u64], w: usize) -> usize {
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

/// [`changes`] for `w >= 8`, eight windows at a time.
///
/// # Safety
/// The processor must have the enabled target features, and the slices the room
/// [`changes`] asserts.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,popcnt")]
unsafe fn changes_avx512(
    hashes: &[u64],
    w: usize,
    previous: Option<u64>,
    picked: &mut [u32],
    minima: &mut [u64],
    spare: &mut [u64],
) -> (usize, u64) {
    use std::arch::x86_64::*;
    let n = hashes.len();
    let windows = n + 1 - w;
    let none = _mm512_set1_epi64(-1);
    // Hashes `at..at + 8`, the missing ones past the end as the largest hash (a minimum of
    // a whole window never takes them in).
    let load = |at: usize| {
        if at + 8 <= n {
            // SAFETY: `at + 8 <= n`; unaligned.
            unsafe { _mm512_loadu_si512(hashes.as_ptr().add(at).cast()) }
        } else if at < n {
            // SAFETY: the mask reads lanes below `n - at` only.
            unsafe { _mm512_mask_loadu_epi64(none, (1u8 << (n - at)) - 1, hashes.as_ptr().add(at).cast()) }
        } else {
            none
        }
    };
    // Spans of 8, `spans[i] = min(hashes[i..i + 8])` for `i + 8 <= n`, in `spare[24..]`:
    // each step loads the hashes of vector `t` and finishes spans of 2 of vector `t - 1`, of
    // 4 of `t - 2` and of 8 of `t - 3` (each needs the next vector of the one before); the
    // first three steps store nothing of use, in `spare[..24]`.
    let steps = (n - 7).div_ceil(8) + 3;
    // Bounds of the stores below, and of the loads of the second pass (below `24 + n`).
    let spare = &mut spare[..(8 * steps).max(24 + n)];
    let (mut hashes_1, mut twos_2, mut fours_3) = (none, none, none);
    let mut step = |t: usize, hashes_0: __m512i| {
        let twos_1 = _mm512_min_epu64(hashes_1, _mm512_alignr_epi64::<1>(hashes_0, hashes_1));
        let fours_2 = _mm512_min_epu64(twos_2, _mm512_alignr_epi64::<2>(twos_1, twos_2));
        let eights_3 = _mm512_min_epu64(fours_3, _mm512_alignr_epi64::<4>(fours_2, fours_3));
        // SAFETY: `8 t + 8 <= 8 steps <= spare.len()`.
        unsafe { _mm512_storeu_si512(spare.as_mut_ptr().add(8 * t).cast(), eights_3) };
        (hashes_1, twos_2, fours_3) = (hashes_0, twos_1, fours_2);
    };
    // The whole vectors of hashes without `load`'s branches, then the ends.
    let whole_vectors = n / 8;
    for t in 0..whole_vectors {
        // SAFETY: `8 t + 8 <= n`; unaligned.
        step(t, unsafe { _mm512_loadu_si512(hashes.as_ptr().add(8 * t).cast()) });
    }
    for t in whole_vectors..steps {
        step(t, load(8 * t));
    }
    let spans = &spare[24..];
    // A window of `w` is the spans of 8 at 0, 8, ..., `last_whole` and at `w - 8`. The first
    // two and the last two are taken without a loop (for `w < 32` that is all of them; a span
    // taken twice does no harm): a loop of a round or two cost more than the minima.
    let last_whole = 8 * (w / 8 - 1);
    let window_min = |at: usize| {
        // SAFETY (all loads of spans): `at + offset + 8 <= windows - 1 + w = n`, within
        // `spans`.
        let span = |offset: usize| unsafe { _mm512_loadu_si512(spans.as_ptr().add(at + offset).cast()) };
        let mut min = _mm512_min_epu64(
            _mm512_min_epu64(span(0), span(last_whole.min(8))),
            _mm512_min_epu64(span(last_whole), span(w - 8)),
        );
        for offset in (16..last_whole).step_by(8) {
            min = _mm512_min_epu64(min, span(offset));
        }
        min
    };
    let mut index = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    let mut before = _mm512_set1_epi64(previous.unwrap_or(0) as i64);
    // With no window before, the first one is new.
    let mut first = u8::from(previous.is_none());
    let mut count = 0;
    for at in (0..windows).step_by(8) {
        let min = window_min(at);
        let lanes = (windows - at).min(8);
        let changed =
            _mm512_cmpneq_epu64_mask(min, _mm512_alignr_epi64::<7>(min, before)) & (0xff >> (8 - lanes)) | first;
        // SAFETY: `count <= at`, and `picked` and `minima` have `SLACK` entries past the last
        // window; unaligned.
        unsafe {
            _mm256_storeu_si256(picked.as_mut_ptr().add(count).cast(), _mm256_maskz_compress_epi32(changed, index));
            _mm512_storeu_si512(minima.as_mut_ptr().add(count).cast(), _mm512_maskz_compress_epi64(changed, min));
        }
        count += changed.count_ones() as usize;
        index = _mm256_add_epi32(index, _mm256_set1_epi32(8));
        before = min;
        first = 0;
    }
    // The last window's minimum, from the last vector.
    let mut last = [0u64; 8];
    // SAFETY: `last` is eight words.
    unsafe { _mm512_storeu_si512(last.as_mut_ptr().cast(), before) };
    (count, last[(windows - 1) % 8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_equal_the_definition() {
        let mut state = 5u64;
        for n in [1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 63, 64, 65, 71, 72, 73, 200, 1111] {
            for distinct in [u64::MAX, 16, 2] {
                // Few distinct values make ties and runs of equal minima.
                let hashes: Vec<u64> = (0..n)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        if distinct == u64::MAX { state } else { (state >> 40) % distinct }
                    })
                    .collect();
                for w in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 40, 63, 64] {
                    if w > n {
                        continue;
                    }
                    let expected: Vec<u64> =
                        hashes.windows(w).map(|window| *window.iter().min().expect("w >= 1")).collect();
                    for previous in [None, Some(expected[0]), Some(1 << 62)] {
                        let expected_changes: Vec<(u32, u64)> =
                            (0..expected.len())
                                .filter(|&i| {
                                    if i == 0 { previous != Some(expected[0]) } else { expected[i] != expected[i - 1] }
                                })
                                .map(|i| (i as u32, expected[i]))
                                .collect();
                        let windows = expected.len();
                        let mut spare = vec![0; spare_for(n)];
                        let (mut picked, mut minima) = (vec![0; windows + SLACK], vec![0; windows + SLACK]);
                        let (count, last) = changes(&hashes, w, previous, &mut picked, &mut minima, &mut spare);
                        let found: Vec<(u32, u64)> =
                            picked[..count].iter().copied().zip(minima[..count].to_vec()).collect();
                        assert_eq!(found, expected_changes, "n {n} w {w} {previous:?}");
                        assert_eq!(last, expected[windows - 1], "n {n} w {w}");
                        let (count, last) =
                            changes_portable(&hashes, w, previous, &mut picked, &mut minima, &mut spare);
                        let found: Vec<(u32, u64)> =
                            picked[..count].iter().copied().zip(minima[..count].to_vec()).collect();
                        assert_eq!(found, expected_changes, "portable n {n} w {w} {previous:?}");
                        assert_eq!(last, expected[windows - 1], "portable n {n} w {w}");
                    }
                }
            }
        }
    }
}
