"""Streams and files shared by every command: `-` is stdin/stdout, outputs are written atomically.

An output is first written to a hidden temporary file beside the target and renamed over it
only when the writer finished without error, so make and `set -o pipefail` never see half a
file. Inputs are read as UTF-8 lines; a bad byte is reported with the file and line number.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from speechlang.errors import DataError, FormatError

STDIO = (None, "-", "")
GZIP_MAGIC = b"\x1f\x8b"
# what a gzip stream raises on truncated or corrupt data (zlib.error is not an OSError)
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def display_name(path: str | os.PathLike | None) -> str:
    """The name used in messages: the path, or `<stdin>`."""
    return "<stdin>" if path in STDIO else str(path)


def _os_error(path, action: str, err: OSError) -> DataError:
    reason = err.strerror or str(err)
    return DataError(f"cannot {action} {path}: {reason}")


def open_input(path: str | os.PathLike | None, *, allow_gzip: bool = True) -> IO[bytes]:
    """Open a binary input stream; `None` or `-` is stdin. A gzip file is decompressed."""
    if path in STDIO:
        return sys.stdin.buffer
    p = Path(path)
    if p.is_dir():
        raise DataError(f"{p} is a directory, expected a file")
    try:
        f = open(p, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as e:
        raise _os_error(p, "read", e) from None
    if allow_gzip and f.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def iter_lines(
    path: str | os.PathLike | None,
    *,
    encoding_errors: str = "strict",
    allow_gzip: bool = True,
) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file (or stdin) without their line ends.

    Raises FormatError naming `file:line` on invalid UTF-8 unless `encoding_errors` is
    `replace` or `ignore`, and on a gzip stream when `allow_gzip` is false.
    """
    if encoding_errors not in ("strict", "replace", "ignore"):
        raise ValueError(f"encoding_errors must be strict, replace or ignore, not {encoding_errors}")
    name = display_name(path)
    f = open_input(path, allow_gzip=allow_gzip)
    try:
        if not allow_gzip and isinstance(f, io.BufferedReader) and f.peek(2)[:2] == GZIP_MAGIC:
            raise FormatError(
                f"{name}:1: looks like a gzip file; decompress it first (zcat {name} | ...)"
            )
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8", errors=encoding_errors)
            except UnicodeDecodeError as e:
                raise FormatError(
                    f"{name}:{lineno}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at column "
                    f"{e.start + 1}); fix the file or pass --encoding-errors replace"
                ) from None
            yield line.rstrip("\r\n")
    except GZIP_ERRORS as e:
        raise FormatError(f"{name}: truncated or corrupt gzip data ({e})") from None
    except OSError as e:
        raise _os_error(name, "read", e) from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def check_writable(path: str | os.PathLike | None) -> None:
    """Fail early, before long work, when `path` cannot be created (missing or read-only dir)."""
    if path in STDIO:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise DataError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise DataError(f"cannot write {path}: directory {parent} is not writable")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike | None, mode: str = "w") -> Iterator[IO]:
    """Write `path` atomically (temporary file, then rename); `None` or `-` is stdout.

    mode is "w" (UTF-8 text) or "wb". On any exception the temporary file is removed and the
    previous content of `path`, if any, is left untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    if path in STDIO:
        stream = sys.stdout if mode == "w" else sys.stdout.buffer
        yield stream
        stream.flush()
        return
    check_writable(path)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.resolve().parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        kwargs = {"encoding": "utf-8", "newline": "\n"} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise _os_error(target, "write", e) from None
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory atomically: yield a temporary sibling, rename it to `path` on success.

    An existing `path` is replaced only once the new one is complete.
    """
    target = Path(path)
    check_writable(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.resolve().parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_npy(path: str | os.PathLike, *, mmap_mode: str | None = None):
    """One array from a .npy file (no pickled objects), memory-mapped with `mmap_mode="r"`.

    Raises DataError when the file cannot be opened and FormatError when it is truncated or
    corrupt (numpy raises many exception types for a bad header or short data).
    """
    import numpy as np

    try:
        arr = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        raise _os_error(path, "read", e) from None
    except Exception as e:
        raise FormatError(f"{path}: not a readable NPY array (truncated or corrupt?): {e}") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise FormatError(f"{path}: expected an NPY array, found an NPZ archive")
    return arr


def load_npz(path: str | os.PathLike) -> dict:
    """Every array of an .npz archive (no pickled objects) as {name: array}, read eagerly.

    Raises DataError when the file cannot be opened and FormatError when it is not a complete
    archive (a bad zip directory, CRC or compressed stream, or a corrupt member).
    """
    import numpy as np

    try:
        z = np.load(path, allow_pickle=False)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        raise _os_error(path, "read", e) from None
    except Exception as e:
        raise FormatError(f"{path}: not a readable NPZ archive (truncated or corrupt?): {e}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise FormatError(f"{path}: expected an NPZ archive, found a single NPY array")
    try:
        with z:
            return {k: z[k] for k in z.files}
    except Exception as e:
        raise FormatError(f"{path}: not a readable NPZ archive (truncated or corrupt?): {e}") from None
