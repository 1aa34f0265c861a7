"""The model file as a container: a zip of .npy entries, read within stated bounds."""

import io
import json
import os
import re
import secrets
import struct
import zipfile
import zlib
from math import prod

import numpy as np

__all__ = [
    "DAMAGE",
    "META",
    "ArchiveReader",
    "Invalid",
    "MemoryReader",
    "manifest_of",
    "nbytes",
    "parse_manifest",
    "short",
    "write_archive",
]

#: Name of the JSON entry that describes everything else in the archive.
META = "skrnn.json"
#: Largest JSON entry read (and at most the budget below); the weights and the
#: curves live in ``.npy`` entries.
MAX_META_BYTES = 64 * 2**20
#: The arrays of a file may take at most this many times the file's size in
#: memory (or ``MIN_BUDGET``): weights do not compress that well, a zip bomb
#: does. ``write_archive`` stores a file uncompressed rather than exceed it.
MAX_EXPANSION = 50
MIN_BUDGET = 2**20
#: Largest ``.npy`` header read (NumPy writes 128 bytes for these arrays).
MAX_NPY_HEADER = 4096
_MAX_NDIM = 3
_MAX_ITEMSIZE = 2**16
_ENTRY = re.compile(r"^[a-z_]+(/[A-Za-z0-9_.]{1,200}){1,3}\.npy$")

#: What damaged bytes can make ``zipfile``, ``zlib``, ``json`` or NumPy raise;
#: :func:`skrnn.persistence.load` reports each as a ``ValueError``.
DAMAGE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ValueError,
    OverflowError,
    MemoryError,
    RuntimeError,  # encrypted entries, RecursionError, NotImplementedError
)


class Invalid(Exception):
    """A named problem of a model file; the caller turns it into a ValueError."""


def short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dtype(text, entry):
    if not isinstance(text, str) or len(text) > 16:
        raise Invalid(f"array {entry} has an unreadable dtype {short(text)}")
    dtype = np.dtype(text)
    if (
        dtype.kind not in "biufUS"
        or dtype.str != text
        or text[0] not in "<|"
        or dtype.itemsize > _MAX_ITEMSIZE
    ):
        raise Invalid(f"array {entry} has dtype {text!r}; plain numbers or text only")
    return dtype


def _shape(node, entry):
    if (
        not isinstance(node, list)
        or len(node) > _MAX_NDIM
        or not all(type(n) is int and 0 <= n < 2**62 for n in node)
    ):
        raise Invalid(f"array {entry} has an unreadable shape {short(node)}")
    return tuple(node)


def nbytes(dtype, shape):
    """Bytes of an array of ``dtype`` and ``shape`` (Python ints, no overflow)."""
    return dtype.itemsize * prod(shape)


def parse_manifest(node, names, file_size=None):
    """``{entry: (dtype, shape)}`` from the JSON manifest, checked before any read.

    Every archive member but :data:`META` must be listed, once; with
    ``file_size`` the declared arrays must fit the memory budget of a file of
    that size.
    """
    if not isinstance(node, dict):
        raise Invalid("the array manifest is missing")
    manifest = {}
    for entry, spec in node.items():
        if not _ENTRY.match(entry) or not isinstance(spec, dict):
            raise Invalid(f"the manifest lists an unreadable entry {short(entry)}")
        if set(spec) != {"dtype", "shape"}:
            raise Invalid(f"the manifest entry {entry} needs exactly dtype and shape")
        manifest[entry] = (_dtype(spec["dtype"], entry), _shape(spec["shape"], entry))
    if len(names) != len(set(names)):
        raise Invalid("the archive holds two entries of the same name")
    listed = set(manifest) | {META}
    if set(names) != listed:
        extra, missing = set(names) - listed, listed - set(names)
        what = f"unlisted entries {sorted(extra)[:3]}" if extra else ""
        what = what or f"missing entries {sorted(missing)[:3]}"
        raise Invalid(f"the archive does not match its manifest ({what})")
    if file_size is not None:
        total = sum(nbytes(d, s) for d, s in manifest.values())
        budget = max(MIN_BUDGET, MAX_EXPANSION * file_size)
        if total > budget:
            raise Invalid(
                f"its arrays would take {total} bytes, more than {MAX_EXPANSION} "
                f"times the file's {file_size} bytes (a zip bomb?)"
            )
    return manifest


def parse_npy(data, dtype, shape, entry):
    """The array in the ``.npy`` bytes ``data``; it must have this dtype and shape."""
    buf = io.BytesIO(data)
    version = np.lib.format.read_magic(buf)
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise Invalid(f"array {entry} has .npy version {version}")
    got_shape, fortran, got_dtype = readers[version](
        buf, max_header_size=MAX_NPY_HEADER
    )
    if got_dtype != dtype or tuple(got_shape) != shape or fortran:
        raise Invalid(
            f"array {entry} holds {got_dtype} {tuple(got_shape)}; the manifest "
            f"declares {dtype} {shape}"
        )
    offset = buf.tell()
    if len(data) - offset != nbytes(dtype, shape):
        raise Invalid(f"array {entry} has {len(data) - offset} data bytes")
    flat = np.frombuffer(data, dtype=dtype, count=prod(shape), offset=offset)
    return flat.reshape(shape).copy()  # a writeable array: training goes on


class ArchiveReader:
    """Reads a model file's JSON and arrays, each within a size fixed beforehand."""

    def __init__(self, archive, file_size):
        names = archive.namelist()
        if len(names) != len(set(names)):
            raise Invalid("the archive holds two entries of the same name")
        self.archive = archive
        self.file_size = file_size
        self.manifest = None

    def _read(self, info, limit):
        if info.flag_bits & 0x1:
            raise Invalid(f"entry {info.filename} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Invalid(
                f"entry {info.filename} uses compression method {info.compress_type}"
                "; skrnn writes deflate or none"
            )
        if info.file_size > limit:
            raise Invalid(
                f"entry {info.filename} holds {info.file_size} bytes, more than "
                f"the {limit} it may"
            )
        with self.archive.open(info) as f:
            data = f.read(limit + 1)  # the zip stream also stops at file_size
        if len(data) != info.file_size:
            raise Invalid(f"entry {info.filename} is truncated")
        return data

    def meta(self):
        """The parsed :data:`META` entry (NaN and Infinity literals refused)."""
        try:
            info = self.archive.getinfo(META)
        except KeyError as exc:
            raise Invalid(f"no {META} entry") from exc
        budget = max(MIN_BUDGET, MAX_EXPANSION * self.file_size)
        text = self._read(info, min(MAX_META_BYTES, budget))

        def refuse(name):
            raise Invalid(f"{META} holds the literal {name}")

        try:
            return json.loads(text.decode("utf-8"), parse_constant=refuse)
        except (ValueError, RecursionError) as exc:
            raise Invalid(f"{META} is not valid JSON ({short(str(exc), 80)})") from exc

    def set_manifest(self, node):
        names = [info.filename for info in self.archive.infolist()]
        self.manifest = parse_manifest(node, names, self.file_size)

    def array(self, entry):
        """The array ``entry``, read only up to the bytes its manifest line allows."""
        dtype, shape = self.manifest[entry]
        size = nbytes(dtype, shape)
        info = self.archive.getinfo(entry)
        if not size < info.file_size <= size + MAX_NPY_HEADER:
            raise Invalid(
                f"entry {entry} holds {info.file_size} bytes, but a {dtype} array "
                f"of shape {shape} takes {size} plus a header"
            )
        return parse_npy(self._read(info, info.file_size), dtype, shape, entry)


class MemoryReader:
    """The reader interface over arrays in memory (``save`` checks what it writes)."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.manifest = None

    def set_manifest(self, node):
        self.manifest = parse_manifest(node, [META, *self.arrays])

    def array(self, entry):
        return self.arrays[entry]


def manifest_of(arrays):
    """The JSON manifest describing ``arrays`` (entry name to ndarray)."""
    return {
        entry: {"dtype": a.dtype.str, "shape": list(a.shape)}
        for entry, a in arrays.items()
    }


_FLAGS = os.O_WRONLY | getattr(os, "O_BINARY", 0)


def _temp_file(path):
    """A new file beside ``path``, created with the mode the umask allows."""
    flags = _FLAGS | os.O_CREAT | os.O_EXCL
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _write(fd, text, arrays, method):
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", method) as zf:
        zf.writestr(META, text)
        for entry, array in arrays.items():
            with zf.open(entry, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array, allow_pickle=False)


def write_archive(path, text, arrays, compress):
    """Write the archive to a temporary file, then move it to ``path``.

    A compressed file whose arrays would exceed the load-time memory budget
    (weights that are mostly zeros) is written uncompressed instead.
    """
    fd, tmp = _temp_file(path)
    try:
        method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        _write(fd, text, arrays, method)
        total = len(text.encode()) + sum(a.nbytes for a in arrays.values())
        if total > max(MIN_BUDGET, MAX_EXPANSION * os.path.getsize(tmp)):
            fd = os.open(tmp, _FLAGS | os.O_TRUNC)
            _write(fd, text, arrays, zipfile.ZIP_STORED)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
