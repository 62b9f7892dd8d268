"""The one place that reads and writes Kaldi ark/scp archives.

Everything else in the project goes through this module, so the backend (kaldiio today,
an MIT-licensed equivalent later) can be swapped in one file.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import kaldiio
import numpy as np

from lipsound2.fileio.atomic import temp_name


class ArkWriter:
    """Write ``key -> array`` pairs to ``<ark>`` and ``<scp>`` atomically.

    Both files are written under temporary names and renamed only by :meth:`close` after
    every entry is flushed, so a killed job leaves no ark/scp pair that a later stage reads.
    The scp points at the final ark name. Arrays of any dtype and rank are stored; float
    2-D matrices as Kaldi matrices, int32 1-D vectors (speech units) as Kaldi int vectors, others
    in NumPy format inside the ark.
    """

    def __init__(self, ark: str | os.PathLike, scp: str | os.PathLike) -> None:
        self.ark = Path(ark).absolute()
        self.scp = Path(scp)
        self.ark.parent.mkdir(parents=True, exist_ok=True)
        self.scp.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_ark = temp_name(self.ark)
        self._tmp_scp = temp_name(self.scp)
        self._ark_f = open(self._tmp_ark, "wb")  # noqa: SIM115 (closed by close/abort)
        self._rows: list[tuple[str, int]] = []
        self._closed = False

    def __setitem__(self, key: str, array: np.ndarray) -> None:
        array = np.asarray(array)
        offset = self._ark_f.tell() + len(key.encode("utf-8")) + 1
        if (array.ndim == 2 and array.dtype in (np.float32, np.float64)) or (
            array.ndim == 1 and array.dtype == np.int32
        ):
            kaldiio.save_ark(self._ark_f, {key: array})
        else:
            kaldiio.save_ark(self._ark_f, {key: array}, write_function="numpy")
        self._rows.append((key, offset))

    def close(self) -> None:
        """Flush, then rename both files into place (the ark first, the scp last)."""
        if self._closed:
            return
        self._ark_f.close()
        with open(self._tmp_scp, "w", encoding="utf-8") as f:
            for key, offset in self._rows:
                f.write(f"{key} {self.ark}:{offset}\n")
        os.replace(self._tmp_ark, self.ark)
        os.replace(self._tmp_scp, self.scp)
        self._closed = True

    def abort(self) -> None:
        """Drop everything written so far."""
        if not self._closed:
            self._ark_f.close()
            for tmp in (self._tmp_ark, self._tmp_scp):
                if tmp.exists():
                    tmp.unlink()
            self._closed = True

    def __enter__(self) -> ArkWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def load_array(spec: str) -> np.ndarray:
    """Load one array from an scp value such as ``/path/feats.ark:123``."""
    return np.asarray(kaldiio.load_mat(spec))


def array_length(spec: str) -> int:
    """``len()`` of the array an scp value (``file.ark:offset``) points to, read from the
    entry's header where it is a NumPy array, a binary Kaldi matrix or int vector, so the data
    is not read; other entries (pipes, slices, compressed matrices) are loaded."""
    path, _, offset = spec.strip().rpartition(":")
    if path and offset.isdigit():
        with open(path, "rb") as f:
            f.seek(int(offset))
            flag = f.read(5)
            # kaldiio's numpy entry: NPY, a length field, then an .npy file
            if len(flag) == 5 and flag[:3] == b"NPY":
                f.seek(int(offset) + 4 + flag[3])
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    return int(np.lib.format.read_array_header_1_0(f)[0][0])
                if version == (2, 0):
                    return int(np.lib.format.read_array_header_2_0(f)[0][0])
            elif flag[:3] == b"\0B\4":  # binary Kaldi int vector: then its int32 length
                f.seek(int(offset) + 3)
                return struct.unpack("<i", f.read(4))[0]
            elif flag in (b"\0BFM ", b"\0BDM "):  # binary Kaldi matrix: \4 then int32 rows
                marker, rows = struct.unpack("<bi", f.read(5))
                if marker == 4:
                    return rows
    return len(load_array(spec))


def read_scp(scp: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array an scp file points to (small sets, tests)."""
    from lipsound2.fileio.table import read_table

    return {key: load_array(spec) for key, spec in read_table(scp).items()}
