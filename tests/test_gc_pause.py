"""The collector pause around conversions: off inside, restored after, also after errors."""

from __future__ import annotations

import gc

import pytest

from cvkit.core.gc_pause import paused_gc


def test_collector_is_off_inside_and_restored_after_an_error():
    assert gc.isenabled()
    with pytest.raises(ValueError), paused_gc():
        assert not gc.isenabled()
        raise ValueError("boom")
    assert gc.isenabled()


def test_nested_pause_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
