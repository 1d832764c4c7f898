"""The BLAS that generated C calls for matrix products: the OpenBLAS of ``scipy-openblas32``.

That package is the OpenBLAS build numpy and scipy themselves ship, maintained by the same
people: a shared library (``libscipy_openblas.so``, functions prefixed ``scipy_cblas_``)
and its C header. Generated modules include the header and link the library directly
(``-L<dir> -l:<file> -Wl,-rpath,<dir>``), so a product is one C call into BLAS, with no
Python in between. When the package is missing, :func:`locate` returns None, Dot and Gemm
are not rendered, and they run their numpy ``perform``.

Core type. OpenBLAS picks its kernels for the CPU when the library loads; some builds and
virtual CPUs that report no exact model (a generic "Intel Xeon Processor") get the AVX2
(Haswell) kernels on AVX-512 hardware, which is what numpy's own bundled OpenBLAS does on
such a machine. With ``OPENBLAS_CORETYPE=SkylakeX`` set before our OpenBLAS loads it uses
its AVX-512 kernels, measured about 1.3-1.4x faster for a 256x784x500 sgemm. So this module
sets it, when the CPU has AVX-512 (``avx512f`` in /proc/cpuinfo) and the user has not set
it, on import: before any generated module (and so the library) is loaded. numpy's
OpenBLAS is a different library, already loaded, and is not affected.
"""
from __future__ import annotations

import ctypes
import importlib.util
import functools
import os
from dataclasses import dataclass
from typing import Optional

from ...codegen.c.blas import BlasLink, register_blas

#: The Python package providing the library and header.
PACKAGE = "scipy_openblas32"
#: Its CBLAS function-name prefix (``scipy_cblas_sgemm``).
PREFIX = "scipy_cblas_"
#: OpenBLAS's name for its AVX-512 kernels.
AVX512_CORE = "SkylakeX"


def _cpu_has_avx512() -> bool:
    """Whether /proc/cpuinfo lists the ``avx512f`` flag (False where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return "avx512f" in line.split(":", 1)[-1].split()
    except OSError:
        pass
    return False


def set_core_type() -> Optional[str]:
    """Ask OpenBLAS for its AVX-512 kernels on an AVX-512 CPU unless the user chose a core
    type; returns the core type now requested (None: OpenBLAS detects it)."""
    if _cpu_has_avx512():
        os.environ.setdefault("OPENBLAS_CORETYPE", AVX512_CORE)
    return os.environ.get("OPENBLAS_CORETYPE")


@dataclass(frozen=True)
class BlasLibrary:
    """Where the library and its header are."""
    lib_dir: str
    include_dir: str
    filename: str

    @property
    def path(self) -> str:
        return os.path.join(self.lib_dir, self.filename)

    def link(self) -> BlasLink:
        """What a generated module needs to call this library."""
        flags = (f"-I{self.include_dir}", f"-L{self.lib_dir}", "-Wl,--no-as-needed",
                 f"-l:{self.filename}", f"-Wl,-rpath,{self.lib_dir}")
        return BlasLink(prefix=PREFIX, header="cblas.h", flags=flags)


@functools.lru_cache(maxsize=None)
def locate() -> Optional[BlasLibrary]:
    """The installed library, or None when the package (or its files) is missing."""
    # The package is found, not imported: its __init__ loads importlib.metadata, which costs
    # 15-50 ms in every fresh process; its layout (lib/, include/) is all we need.
    try:
        spec = importlib.util.find_spec("scipy_openblas32")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = list(spec.submodule_search_locations)[0]
    lib_dir, include_dir = os.path.join(root, "lib"), os.path.join(root, "include")
    try:
        names = sorted(n for n in os.listdir(lib_dir) if n.startswith("libscipy_openblas") and ".so" in n)
    except OSError:
        return None
    if not names:
        return None
    lib = BlasLibrary(lib_dir, include_dir, names[0])
    if not (os.path.isfile(lib.path) and os.path.isfile(os.path.join(include_dir, "cblas.h"))):
        return None
    return lib


def link() -> Optional[BlasLink]:
    """The link description of the installed library (None: not installed)."""
    lib = locate()
    return None if lib is None else lib.link()


def core_name() -> Optional[str]:
    """The kernel family OpenBLAS chose (e.g. "SkylakeX"); loads the library if needed."""
    lib = locate()
    if lib is None:
        return None
    fn = ctypes.CDLL(lib.path).scipy_openblas_get_corename
    fn.restype = ctypes.c_char_p
    return fn().decode("ascii", "replace")


set_core_type()
register_blas(lambda: link())   # looked up at each call, so a replaced ``locate`` takes effect
