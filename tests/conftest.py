"""Shared test configuration.

x64 is enabled once here (STYLE.md); `tests/test_precision.py` re-runs the precision-sensitive
checks in a subprocess with x64 off to prove the library does not depend on the flag.
"""

import os

import jax
import pytest
from hypothesis import settings

jax.config.update("jax_enable_x64", os.environ.get("NTKSPEC_TEST_X64", "1") == "1")

# Deterministic property-based tests: derandomized, no deadline (JAX compiles on first call).
settings.register_profile("ntkspec", derandomize=True, deadline=None, max_examples=40)
settings.load_profile("ntkspec")


@pytest.fixture
def key():
    return jax.random.key(0)
