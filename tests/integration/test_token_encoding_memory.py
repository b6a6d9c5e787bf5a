"""The o200k build and glibc's allocator, checked in a fresh interpreter: whether a block comes from its own mapping or
from the heap depends on the free chunks a process already has, which a long-lived test worker's history decides."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import ctypes, json
    from kimchi_plugin.routing import tokens

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    if tokens._glibc_mallopt() is None or not hasattr(libc, "mallinfo2"):
        print(json.dumps(None))
        raise SystemExit
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    tokens.build_encoding()
    libc.free(libc.malloc(24 << 20))  # glibc left to itself raises its mmap threshold to 24 MB here
    before = libc.mallinfo2().hblkhd
    large = libc.malloc(16 << 20)
    after_large = libc.mallinfo2().hblkhd
    small = libc.malloc(1 << 20)
    after_small = libc.mallinfo2().hblkhd
    print(json.dumps({"large": after_large - before, "small": after_small - after_large}))
    """
)


def test_after_the_build_glibc_maps_blocks_past_the_rank_dict_size_and_no_longer_raises_that() -> None:
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=True)
    mapped = json.loads(run.stdout)
    if mapped is None:
        pytest.skip("glibc >= 2.33 only: elsewhere the allocator is left alone")
    assert mapped["large"] >= 16 << 20  # past the rank dict's ~10 MB: its own mapping
    assert mapped["small"] == 0  # below it: from the heap, as before the build
