"""numba kernels for n-gram counting: hashing padded n-grams, radix sort, merging sorted runs.

Kernels take contiguous arrays and scalars only (no I/O, no logging, no RNG); the validating
wrappers are in `speechlang/ngram/count.py`. Rows are n-grams of word ids, one per row,
`(M, N) int32`; counts are `(M,) int64`. "Suffix order" sorts rows by their last word, then the
one before, ..., the first word last (KenLM's `SuffixOrder`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MULT = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def _hash_row(row, n):
    h = np.uint64(0x84222325CBF29CE4)
    for j in range(n):
        h = (h ^ np.uint64(np.uint32(row[j]))) * _MULT
        h ^= h >> np.uint64(31)
    return h


@njit(cache=True)
def hash_count_padded(tokens, ends, order, bos, slots, n_used, max_used, s0, i0):  # pragma: no cover
    """Add the `<s>`-padded `order`-grams ending at every token to an open-addressing table.

    tokens: (T,) int32, sentences concatenated, each ending with `</s>` and without `<s>`;
    ends: (S,) int64 end offsets of the sentences; slots: (C, order + 2) int32, C a power of
    two, each row the n-gram's word ids then its count as (low 31 bits, high bits) (all 0 =
    empty: key and count share a cache line); n_used: filled slots.
    Starts at sentence s0, token i0 and stops before a token when n_used reaches max_used
    (the caller grows the table or spills it, then resumes). Returns (n_used, s, i) where it
    stopped; s == S when every token was counted.
    """
    mask = np.uint64(slots.shape[0] - 1)
    gram = np.empty(order, np.int32)
    for s in range(s0, ends.shape[0]):
        start = ends[s - 1] if s > 0 else 0
        end = ends[s]
        first = i0 if s == s0 and i0 > start else start
        for i in range(first, end):
            if n_used >= max_used:
                return n_used, s, i
            for j in range(order):
                k = i - order + 1 + j
                gram[j] = tokens[k] if k >= start else bos
            slot = _hash_row(gram, order) & mask
            while True:
                if slots[slot, order] == 0 and slots[slot, order + 1] == 0:
                    for j in range(order):
                        slots[slot, j] = gram[j]
                    slots[slot, order] = 1
                    n_used += 1
                    break
                same = True
                for j in range(order):
                    if slots[slot, j] != gram[j]:
                        same = False
                        break
                if same:
                    c = slots[slot, order]
                    if c == 2147483647:
                        slots[slot, order] = 0
                        slots[slot, order + 1] += 1
                    else:
                        slots[slot, order] = c + 1
                    break
                slot = (slot + np.uint64(1)) & mask
    return n_used, ends.shape[0], 0


@njit(cache=True)
def rehash(slots, new_slots):  # pragma: no cover
    """Move every filled row of a count table into the empty larger one (same layout)."""
    order = slots.shape[1] - 2
    mask = np.uint64(new_slots.shape[0] - 1)
    for i in range(slots.shape[0]):
        if slots[i, order] == 0 and slots[i, order + 1] == 0:
            continue
        slot = _hash_row(slots[i], order) & mask
        while new_slots[slot, order] != 0 or new_slots[slot, order + 1] != 0:
            slot = (slot + np.uint64(1)) & mask
        for j in range(order + 2):
            new_slots[slot, j] = slots[i, j]


@njit(cache=True)
def compact(slots, n_used):  # pragma: no cover
    """The filled rows of a count table as dense (rows (n_used, order) int32, counts int64)."""
    order = slots.shape[1] - 2
    rows = np.empty((n_used, order), np.int32)
    out = np.empty(n_used, np.int64)
    k = 0
    for i in range(slots.shape[0]):
        lo, hi = slots[i, order], slots[i, order + 1]
        if lo != 0 or hi != 0:
            for j in range(order):
                rows[k, j] = slots[i, j]
            out[k] = np.int64(hi) * 2147483648 + lo
            k += 1
    return rows, out


@njit(cache=True)
def radix_sort_suffix(rows, counts, max_id):  # pragma: no cover
    """Sort (rows, counts) in suffix order with a stable LSD radix sort (16-bit digits).

    rows: (M, N) int32 ids in [0, max_id]; counts: (M,). Returns the sorted arrays, which
    may be the inputs (overwritten) or one scratch copy.
    """
    m, n = rows.shape
    a = rows
    ca = counts
    b = np.empty_like(a)
    cb = np.empty_like(ca)
    digits = 1 if max_id < 65536 else 2
    hist = np.empty(65537, np.int64)
    for col in range(n):
        for d in range(digits):
            shift = 16 * d
            hist[:] = 0
            for i in range(m):
                hist[((a[i, col] >> shift) & 0xFFFF) + 1] += 1
            if m == 0 or hist[((a[0, col] >> shift) & 0xFFFF) + 1] == m:
                continue  # every row has the same digit: nothing to move
            for k in range(65536):
                hist[k + 1] += hist[k]
            for i in range(m):
                k = (a[i, col] >> shift) & 0xFFFF
                j = hist[k]
                hist[k] = j + 1
                for c in range(n):
                    b[j, c] = a[i, c]
                cb[j] = ca[i]
            a, b = b, a
            ca, cb = cb, ca
    return a, ca


@njit(cache=True, inline="always")
def _cmp_suffix(x, i, y, j, n):
    for c in range(n - 1, -1, -1):
        if x[i, c] != y[j, c]:
            return -1 if x[i, c] < y[j, c] else 1
    return 0


@njit(cache=True)
def merge_two(a, ca, b, cb, out, cout):  # pragma: no cover
    """Merge two suffix-sorted runs, adding the counts of equal rows.

    out, cout: preallocated with len(a) + len(b) rows. Returns the number of rows written.
    """
    n = a.shape[1]
    i = j = k = 0
    na, nb = a.shape[0], b.shape[0]
    while i < na and j < nb:
        c = _cmp_suffix(a, i, b, j, n)
        if c < 0:
            out[k] = a[i]
            cout[k] = ca[i]
            i += 1
        elif c > 0:
            out[k] = b[j]
            cout[k] = cb[j]
            j += 1
        else:
            out[k] = a[i]
            cout[k] = ca[i] + cb[j]
            i += 1
            j += 1
        k += 1
    while i < na:
        out[k] = a[i]
        cout[k] = ca[i]
        i += 1
        k += 1
    while j < nb:
        out[k] = b[j]
        cout[k] = cb[j]
        j += 1
        k += 1
    return k


@njit(cache=True)
def suffix_groups(rows, skip):  # pragma: no cover
    """Group ids of suffix-sorted rows by their columns [skip:] (equal suffixes are adjacent).

    Returns (group, n_groups): group (M,) int64, non-decreasing from 0.
    """
    m, n = rows.shape
    group = np.empty(m, np.int64)
    g = -1
    for i in range(m):
        new = i == 0
        if not new:
            for c in range(n - 1, skip - 1, -1):
                if rows[i, c] != rows[i - 1, c]:
                    new = True
                    break
        if new:
            g += 1
        group[i] = g
    return group, g + 1


@njit(cache=True, inline="always")
def _put_float(buf, pos, x, scale, ndigits):
    """Write x rounded to ndigits decimals (trailing zeros dropped) at buf[pos:]; return the end."""
    neg = x < 0.0
    if neg:
        x = -x
    v = np.int64(x * scale + 0.5)
    if v == 0:
        buf[pos] = 48
        return pos + 1
    if neg:
        buf[pos] = 45
        pos += 1
    ip = v // np.int64(scale)
    fp = v - ip * np.int64(scale)
    # integer part
    start = pos
    if ip == 0:
        buf[pos] = 48
        pos += 1
    else:
        while ip > 0:
            buf[pos] = 48 + ip % 10
            ip //= 10
            pos += 1
        i, j = start, pos - 1
        while i < j:
            buf[i], buf[j] = buf[j], buf[i]
            i += 1
            j -= 1
    if fp > 0:
        buf[pos] = 46
        pos += 1
        digits = ndigits
        while fp % 10 == 0:
            fp //= 10
            digits -= 1
        for k in range(digits - 1, -1, -1):
            buf[pos + k] = 48 + fp % 10
            fp //= 10
        pos += digits
    return pos


@njit(cache=True)
def format_arpa_lines(words, vocab_bytes, vocab_off, prob, backoff, with_backoff, ndigits):  # pragma: no cover
    """ARPA n-gram lines `prob<TAB>w1 ... wn[<TAB>backoff]\\n` as UTF-8 bytes.

    words: (M, n) int32 word ids; vocab_bytes: (B,) uint8, all words concatenated;
    vocab_off: (V + 1,) int64 offsets; prob, backoff: (M,) float64 log10 values, written with
    ndigits decimals. Returns (L,) uint8.
    """
    m, n = words.shape
    size = 0
    for i in range(m):
        for c in range(n):
            w = words[i, c]
            size += vocab_off[w + 1] - vocab_off[w] + 1
        size += 2 * (24 + ndigits) + 2
    buf = np.empty(size, np.uint8)
    scale = 10.0 ** ndigits
    pos = 0
    for i in range(m):
        pos = _put_float(buf, pos, prob[i], scale, ndigits)
        buf[pos] = 9
        pos += 1
        for c in range(n):
            w = words[i, c]
            for k in range(vocab_off[w], vocab_off[w + 1]):
                buf[pos] = vocab_bytes[k]
                pos += 1
            buf[pos] = 32 if c < n - 1 else (9 if with_backoff else 10)
            pos += 1
        if with_backoff:
            pos = _put_float(buf, pos, backoff[i], scale, ndigits)
            buf[pos] = 10
            pos += 1
    return buf[:pos]


@njit(cache=True)
def format_count_lines(words, vocab_bytes, vocab_off, counts):  # pragma: no cover
    """Count lines `w1 ... wn<TAB>count\\n` as UTF-8 bytes; words (M, n) int32, counts (M,) int64."""
    m, n = words.shape
    size = 0
    for i in range(m):
        for c in range(n):
            w = words[i, c]
            size += vocab_off[w + 1] - vocab_off[w] + 1
        size += 21
    buf = np.empty(size, np.uint8)
    pos = 0
    for i in range(m):
        for c in range(n):
            w = words[i, c]
            for k in range(vocab_off[w], vocab_off[w + 1]):
                buf[pos] = vocab_bytes[k]
                pos += 1
            buf[pos] = 32 if c < n - 1 else 9
            pos += 1
        v = counts[i]
        start = pos
        if v == 0:
            buf[pos] = 48
            pos += 1
        while v > 0:
            buf[pos] = 48 + v % 10
            v //= 10
            pos += 1
        a, b = start, pos - 1
        while a < b:
            buf[a], buf[b] = buf[b], buf[a]
            a += 1
            b -= 1
        buf[pos] = 10
        pos += 1
    return buf[:pos]


@njit(cache=True, inline="always")
def _is_space(c):
    return c == 32 or c == 9 or c == 10 or c == 13 or c == 11 or c == 12


@njit(cache=True)
def tokenize_block(buf, pool, pool_off, n_words, vt_id, vt_hash, tokens, ends, eos,
                   pos, n_tok, n_lines, max_words):  # pragma: no cover
    """Split a block of complete lines into word ids, numbering new words as they appear.

    buf: (B,) uint8, lines ending in `\\n`, words separated by ASCII whitespace;
    pool: (P,) uint8 bytes of the known words, pool_off: (W + 1,) int64 their offsets, n_words
    of them; vt_id (C,) int32 (-1 = empty) and vt_hash (C,) uint64: open-addressing table of
    the words, C a power of two; tokens: (>= B + 1,) int32 output, each line's ids then `eos`;
    ends: (>= lines,) int64 output, token end offset of each line.
    Starts at byte `pos` with n_tok tokens and n_lines lines already written. Stops at a line
    start when n_words would pass max_words (status 1: grow the table, resume) and at a line
    holding id 1 or 2 (`<s>`, `</s>`; status 2). Returns (status, pos, n_tok, n_lines, n_words).
    """
    mask = np.uint64(vt_id.shape[0] - 1)
    n = buf.shape[0]
    line_start, tok_line = pos, n_tok
    i = pos
    while i < n:
        c = buf[i]
        if c == 10:
            tokens[n_tok] = eos
            n_tok += 1
            ends[n_lines] = n_tok
            n_lines += 1
            i += 1
            line_start, tok_line = i, n_tok
            continue
        if _is_space(c):
            i += 1
            continue
        j = i
        h = np.uint64(0xCBF29CE484222325)
        while j < n and not _is_space(buf[j]):
            h = (h ^ np.uint64(buf[j])) * np.uint64(0x100000001B3)
            j += 1
        length = j - i
        slot = h & mask
        wid = -1
        while True:
            cand = vt_id[slot]
            if cand < 0:
                break
            if vt_hash[slot] == h and pool_off[cand + 1] - pool_off[cand] == length:
                same = True
                base = pool_off[cand]
                for k in range(length):
                    if pool[base + k] != buf[i + k]:
                        same = False
                        break
                if same:
                    wid = cand
                    break
            slot = (slot + np.uint64(1)) & mask
        if wid < 0:
            if n_words >= max_words:
                return 1, line_start, tok_line, n_lines, n_words
            wid = n_words
            base = pool_off[wid]
            for k in range(length):
                pool[base + k] = buf[i + k]
            pool_off[wid + 1] = base + length
            vt_id[slot] = wid
            vt_hash[slot] = h
            n_words += 1
        if wid == 1 or wid == 2:
            return 2, line_start, tok_line, n_lines, n_words
        tokens[n_tok] = wid
        n_tok += 1
        i = j
    return 0, i, n_tok, n_lines, n_words


@njit(cache=True)
def rehash_words(pool, pool_off, n_words, vt_id, vt_hash):  # pragma: no cover
    """Insert words 0..n_words-1 (bytes in pool) into the empty table (vt_id = -1)."""
    mask = np.uint64(vt_id.shape[0] - 1)
    for w in range(n_words):
        h = np.uint64(0xCBF29CE484222325)
        for k in range(pool_off[w], pool_off[w + 1]):
            h = (h ^ np.uint64(pool[k])) * np.uint64(0x100000001B3)
        slot = h & mask
        while vt_id[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        vt_id[slot] = w
        vt_hash[slot] = h
