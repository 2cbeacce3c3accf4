//! The hash of every k-gram of a block of normalised bytes: buzhash, where the k-gram `x[j..j + k]`
//! hashes to the xor of `table[x[j + i]].rotate_left(k - 1 - i)` over `i` in `0..k`.
//!
//! The portable path rolls the hash on a byte at a time: one rotate and two table loads per byte,
//! in two independent chains. With AVX-512 eight k-grams are hashed at once from prefix xors: with
//! `U[m] = table[x[m]].rotate_right(m)` and `P[j]` the xor of `U[..j]`, the k-gram at `j`
//! hashes to `(P[j + k] ^ P[j]).rotate_left(k - 1 + j)`, and the prefix of eight terms takes three
//! shift-and-xor steps in a register. A table lookup there is two 16-entry permutes: each word of
//! the table is the xor of a random word for its byte's low nibble and one for its high nibble.

use super::splitmix64;

/// Buzhash of one `k` and table.
#[derive(Clone)]
pub(super) struct Buzhash {
    k: usize,
    /// `table[b] == nibbles[0][b & 15] ^ nibbles[1][b >> 4]`.
    table: [u64; 256],
    /// `table` rotated left by `k`: what a byte leaving the k-gram takes back out.
    leaving: [u64; 256],
    nibbles: [[u64; 16]; 2],
}

impl Buzhash {
    /// The seed picks the 32 random words the table is made of.
    pub(super) fn new(k: usize, seed: u64) -> Self {
        let mut state = seed;
        let mut nibbles = [[0u64; 16]; 2];
        for word in nibbles.as_flattened_mut() {
            *word = splitmix64(&mut state);
        }
        let table = std::array::from_fn(|b| nibbles[0][b & 15] ^ nibbles[1][b >> 4]);
        let leaving = table.map(|word: u64| word.rotate_left(k as u32));
        Self { k, table, leaving, nibbles }
    }

    /// The table word of a normalised byte.
    #[cfg(test)]
    pub(super) fn word(&self, byte: u8) -> u64 {
        self.table[byte as usize]
    }

    /// Writes the hash of every k-gram of `bytes`, in order, to `grams` (room for one per byte)
    /// and returns how many there are; `prefix` is room for the vector path (`bytes.len() + 8`).
    pub(super) fn hash_all(&self, bytes: &[u8], prefix: &mut [u64], grams: &mut [u64]) -> usize {
        if bytes.len() < self.k {
            return 0;
        }
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F.
            unsafe { self.hash_all_avx512(bytes, prefix, grams) };
            return bytes.len() + 1 - self.k;
        }
        self.hash_all_portable(bytes, grams)
    }

    /// [`Buzhash::hash_all`] a byte at a time.
    fn hash_all_portable(&self, bytes: &[u8], grams: &mut [u64]) -> usize {
        let (n, k) = (bytes.len(), self.k);
        if n < k {
            return 0;
        }
        grams[0] = self.gram_hash(&bytes[..k]);
        self.roll_hashes(grams[0], &bytes[k..], &bytes[..n - k], &mut grams[1..]);
        n + 1 - k
    }

    /// The hash of one k-gram, outright: the terms of the rolling hash are independent of
    /// each other.
    fn gram_hash(&self, gram: &[u8]) -> u64 {
        let k = gram.len() as u32;
        gram.iter().enumerate().fold(0, |hash, (i, &b)| hash ^ self.table[b as usize].rotate_left(k - 1 - i as u32))
    }

    /// Rolls `hash` on over the normalised bytes `incoming`, taking back out `outgoing`, the
    /// bytes `k` before each; writes the hash of each k-gram to `grams` (room for one per
    /// incoming byte).
    ///
    /// Rolling is a chain: each hash needs the one before. A long run is cut in two halves
    /// rolled side by side, the second starting from its first k-gram's hash computed
    /// outright, so that the processor works on two independent chains at once. A function
    /// of its own so that the hashes stay in registers.
    #[inline(never)]
    fn roll_hashes(&self, hash: u64, incoming: &[u8], outgoing: &[u8], grams: &mut [u64]) {
        let n = incoming.len();
        if n < 4 * self.k {
            return self.roll_chain(hash, incoming, outgoing, grams);
        }
        // Even, so that both halves go two bytes a step; `outgoing[half..half + k]` is the
        // k-gram that ends just before the second half.
        let half = (n / 2) & !1;
        let (table, leaving) = (&self.table, &self.leaving);
        let change = |incoming: u8, outgoing: u8| table[incoming as usize] ^ leaving[outgoing as usize];
        let middle = self.gram_hash(&outgoing[half..half + self.k]);
        let (mut first, mut second) = (hash, middle);
        let (first_grams, second_grams) = grams[..n].split_at_mut(half);
        let (in_a, _) = incoming[..half].as_chunks::<2>();
        let (out_a, _) = outgoing[..half].as_chunks::<2>();
        let (in_b, _) = incoming[half..2 * half].as_chunks::<2>();
        let (out_b, _) = outgoing[half..2 * half].as_chunks::<2>();
        let (grams_a, _) = first_grams.as_chunks_mut::<2>();
        let (grams_b, _) = second_grams[..half].as_chunks_mut::<2>();
        let step = |hash: &mut u64, [in0, in1]: [u8; 2], [out0, out1]: [u8; 2], pair: &mut [u64; 2]| {
            let (a, b) = (change(in0, out0), change(in1, out1));
            pair[0] = hash.rotate_left(1) ^ a;
            *hash = hash.rotate_left(2) ^ (a.rotate_left(1) ^ b);
            pair[1] = *hash;
        };
        for (((((&ia, &oa), ga), &ib), &ob), gb) in
            in_a.iter().zip(out_a).zip(grams_a).zip(in_b).zip(out_b).zip(grams_b.iter_mut())
        {
            step(&mut first, ia, oa, ga);
            step(&mut second, ib, ob, gb);
        }
        debug_assert_eq!(first, middle, "the first half ends where the second began");
        self.roll_chain(second, &incoming[2 * half..], &outgoing[2 * half..], &mut second_grams[half..]);
    }

    /// [`Buzhash::roll_hashes`] as one chain, two bytes a step, both hashes computed from the
    /// one before them (rotation distributes over xor): one rotate and one xor per two bytes
    /// on the chain.
    fn roll_chain(&self, mut hash: u64, incoming: &[u8], outgoing: &[u8], grams: &mut [u64]) {
        let (table, leaving) = (&self.table, &self.leaving);
        let change = |incoming: u8, outgoing: u8| table[incoming as usize] ^ leaving[outgoing as usize];
        let (incoming_pairs, incoming_rest) = incoming.as_chunks::<2>();
        let (outgoing_pairs, outgoing_rest) = outgoing.as_chunks::<2>();
        let paired = 2 * incoming_pairs.len();
        let (gram_pairs, _) = grams[..paired].as_chunks_mut::<2>();
        for ((&[in0, in1], &[out0, out1]), pair) in incoming_pairs.iter().zip(outgoing_pairs).zip(gram_pairs) {
            let (first, second) = (change(in0, out0), change(in1, out1));
            pair[0] = hash.rotate_left(1) ^ first;
            hash = hash.rotate_left(2) ^ (first.rotate_left(1) ^ second);
            pair[1] = hash;
        }
        if let (Some(&last_in), Some(&last_out)) = (incoming_rest.first(), outgoing_rest.first()) {
            grams[paired] = hash.rotate_left(1) ^ change(last_in, last_out);
        }
    }

    /// [`Buzhash::hash_all`] eight bytes at a time, for `bytes` of at least `k` bytes: a
    /// pass that writes the prefixes `P` (the only chain is one xor per eight bytes, the carry
    /// from one vector to the next), then one that xors them `k` apart.
    ///
    /// # Safety
    /// The processor must have AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn hash_all_avx512(&self, bytes: &[u8], prefix: &mut [u64], grams: &mut [u64]) {
        use std::arch::x86_64::*;
        let (n, k) = (bytes.len(), self.k);
        let count = n + 1 - k;
        // The vectors below read and write `prefix[..8 * n.div_ceil(8) + 1]` and read
        // `prefix[..8 * count.div_ceil(8) + k]`, both within `n + 8`; they write
        // `grams[..count]`.
        let (prefix, grams) = (&mut prefix[..n + 8], &mut grams[..count]);
        let [low, high] = &self.nibbles;
        // SAFETY: each nibble table is 16 words, two vectors; all loads here are unaligned.
        let (low0, low1, high0, high1) = unsafe {
            (
                _mm512_loadu_si512(low.as_ptr().cast()),
                _mm512_loadu_si512(low.as_ptr().add(8).cast()),
                _mm512_loadu_si512(high.as_ptr().cast()),
                _mm512_loadu_si512(high.as_ptr().add(8).cast()),
            )
        };
        let zero = _mm512_setzero_si512();
        let eight = _mm512_set1_epi64(8);
        // Lane `i` of vector `v` holds position `8 v + i`: rotated right by it.
        let mut rotation = _mm512_set_epi64(-7, -6, -5, -4, -3, -2, -1, 0);
        let mut carry = zero;
        let mut prefixes = |index: __m512i, at: usize| {
            let word = _mm512_xor_si512(
                _mm512_permutex2var_epi64(low0, index, low1),
                _mm512_permutex2var_epi64(high0, _mm512_srli_epi64::<4>(index), high1),
            );
            let term = _mm512_rolv_epi64(word, rotation);
            rotation = _mm512_sub_epi64(rotation, eight);
            // The terms' inclusive prefix xor: each lane takes the one 1, 2, 4 lanes before it.
            let mut scan = _mm512_xor_si512(term, _mm512_alignr_epi64::<7>(term, zero));
            scan = _mm512_xor_si512(scan, _mm512_alignr_epi64::<6>(scan, zero));
            scan = _mm512_xor_si512(scan, _mm512_alignr_epi64::<4>(scan, zero));
            // Exclusive, after the vectors before: carry ^ scan ^ term.
            let exclusive = _mm512_ternarylogic_epi64::<0x96>(carry, scan, term);
            // SAFETY: `at + 8 <= 8 * n.div_ceil(8) <= n + 7`, within `prefix`.
            unsafe { _mm512_storeu_si512(prefix.as_mut_ptr().add(at).cast(), exclusive) };
            carry = _mm512_xor_si512(carry, _mm512_permutexvar_epi64(_mm512_set1_epi64(7), scan));
        };
        let (chunks, rest) = bytes.as_chunks::<8>();
        for (v, chunk) in chunks.iter().enumerate() {
            let index = _mm512_cvtepu8_epi64(_mm_cvtsi64_si128(i64::from_le_bytes(*chunk)));
            prefixes(index, 8 * v);
        }
        if !rest.is_empty() {
            // Past the end, byte 0: only the prefixes past `n` take it in. Gathered by hand: a
            // copy of a few bytes would be a call.
            let chunk = rest.iter().rev().fold(0, |chunk, &b| chunk << 8 | i64::from(b));
            prefixes(_mm512_cvtepu8_epi64(_mm_cvtsi64_si128(chunk)), 8 * chunks.len());
        }
        // `P[n]` when `n` is a multiple of eight: the xor of all the terms.
        prefix[8 * n.div_ceil(8)] = _mm_cvtsi128_si64(_mm512_castsi512_si128(carry)) as u64;

        // Lane `i` of the k-grams at `j`: rotated left by `k - 1 + j + i`.
        let mut rotation = _mm512_add_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64(k as i64 - 1));
        for j in (0..count).step_by(8) {
            // SAFETY: `j + k + 8 <= 8 * count.div_ceil(8) + k <= n + 8` (bounds above); the store
            // writes the lanes below `count` only.
            unsafe {
                let ahead = _mm512_loadu_si512(prefix.as_ptr().add(j + k).cast());
                let here = _mm512_loadu_si512(prefix.as_ptr().add(j).cast());
                let hashes = _mm512_rolv_epi64(_mm512_xor_si512(ahead, here), rotation);
                let lanes = (count - j).min(8);
                _mm512_mask_storeu_epi64(
                    grams.as_mut_ptr().add(j).cast(),
                    (1u16 << lanes).wrapping_sub(1) as u8,
                    hashes,
                );
            }
            rotation = _mm512_add_epi64(rotation, eight);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash of every k-gram, by the definition.
    fn reference(hash: &Buzhash, bytes: &[u8]) -> Vec<u64> {
        let k = hash.k;
        if bytes.len() < k {
            return Vec::new();
        }
        (0..=bytes.len() - k)
            .map(|j| (0..k).fold(0, |h, i| h ^ hash.word(bytes[j + i]).rotate_left((k - 1 - i) as u32)))
            .collect()
    }

    #[test]
    fn every_path_equals_the_definition() {
        let mut state = 3u64;
        let mut texts: Vec<Vec<u8>> = vec![Vec::new(), (0..=255).collect(), vec![b'a'; 300], (0..=255).rev().collect()];
        for n in [1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 39, 40, 41, 62, 63, 64, 65, 100, 257, 1000, 2100] {
            texts.push((0..n).map(|_| splitmix64(&mut state) as u8).collect());
            texts.push(
                (0..n)
                    .map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789"[(splitmix64(&mut state) % 36) as usize])
                    .collect(),
            );
        }
        for k in [1, 2, 3, 7, 8, 9, 16, 24, 40, 63] {
            let hash = Buzhash::new(k, 99 + k as u64);
            for text in &texts {
                let expected = reference(&hash, text);
                let mut prefix = vec![0; text.len() + 8];
                let mut grams = vec![0; text.len() + 1];
                assert_eq!(hash.hash_all(text, &mut prefix, &mut grams), expected.len(), "k {k} n {}", text.len());
                assert_eq!(&grams[..expected.len()], expected.as_slice(), "k {k} n {}", text.len());
                grams.fill(0);
                assert_eq!(hash.hash_all_portable(text, &mut grams), expected.len(), "portable k {k} n {}", text.len());
                assert_eq!(&grams[..expected.len()], expected.as_slice(), "portable k {k} n {}", text.len());
            }
        }
    }

    #[test]
    fn the_table_is_its_nibbles_words() {
        let hash = Buzhash::new(40, 5);
        for b in 0..=255u8 {
            assert_eq!(hash.word(b), hash.nibbles[0][usize::from(b & 15)] ^ hash.nibbles[1][usize::from(b >> 4)]);
        }
        let distinct: std::collections::BTreeSet<u64> = (0..=255).map(|b| hash.word(b)).collect();
        assert_eq!(distinct.len(), 256);
    }
}
