"""Process-level settings the server makes once: malloc arenas (memory after a class)."""

import platform

import pytest

from explainers.device import limit_malloc_arenas


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_malloc_arenas_can_be_capped_on_glibc():
    assert limit_malloc_arenas(2) is True

