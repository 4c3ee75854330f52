"""The fold of a row for ``distreg cv``: a stable hash of where it is, the same on every engine.

A row's *key* is a 64-bit integer made from its file's identity and its position in the file;
its fold of K is ``key mod K``. Nothing else goes in: not the engine, the split, the
partition, the order of the tasks or Python's (salted) ``hash()``, so every engine puts every
row in the same fold, and a run tomorrow puts it where it is today.

File identity
    The file's base name (``data.csv``, ``part-00003``), UTF-8, hashed by 64-bit FNV-1a.
    The same file uploaded to HDFS (``hdfs://nn/user/me/tmp/.../data.csv``) or read from
    ``/home/me/data.csv`` has the same identity; a renamed file gets other folds. Two part
    files with one base name in different directories share it (their rows stay in
    well-mixed folds: positions differ from row to row).
Position
    Text (CSV, LibSVM): the byte offset of the row's line in the (decompressed) file, the
    key Hadoop's own ``TextInputFormat`` gives a line. A line number would need the lines
    before it, which a task that starts mid-file cannot know; the offset it knows exactly.
    Parquet: ``row_group * 2^32 + row`` (the row's index within its row group).

The mix is splitmix64's finaliser (Steele, Lea and Flood 2014), an invertible integer
hash whose low bits depend on every input bit::

    key = mix(fnv1a64(base name) XOR mix(position + 0x9E3779B97F4A7C15))

with ``mix(z)``: ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
z *= 0x94D049BB133111EB; z ^= z >> 31`` (all modulo 2^64).
"""

import os

import numpy as np

from distreg.paths import file_key

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


def file_identity(name):
    """The base name of a file however an engine names it (local path, file: or hdfs:// URI)."""
    return os.path.basename(file_key(name))


def fnv1a64(text):
    """64-bit FNV-1a of ``text``'s UTF-8 bytes (an int)."""
    h = _FNV_OFFSET
    for byte in text.encode('utf-8'):
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def mix(z):
    """splitmix64's finaliser of a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64).copy()
    with np.errstate(over='ignore'):
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return z


def row_keys(file, positions):
    """The keys of rows at ``positions`` (int array) of ``file``."""
    pos = np.asarray(positions, dtype=np.int64).astype(np.uint64)
    with np.errstate(over='ignore'):
        inner = mix(pos + _GOLDEN)
    return mix(np.uint64(fnv1a64(file_identity(file))) ^ inner)


def parquet_positions(row_group, rows):
    """Positions of ``rows`` (indices in the row group) of row group ``row_group``."""
    return (np.int64(row_group) << np.int64(32)) + np.asarray(rows, dtype=np.int64)


def folds_of(keys, k):
    """Fold (0..k-1) of each row key."""
    return (np.asarray(keys, dtype=np.uint64) % np.uint64(k)).astype(np.int64)
