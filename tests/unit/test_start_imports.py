"""Start-up's import blocks (app.importing): the cyclic garbage collector is paused while they run, and what they
made is frozen afterwards, so the first collection after them does not pass over every module object at once."""

from __future__ import annotations

import gc

from kimchi_plugin.app import importing


def test_the_collector_is_paused_inside_and_what_was_made_is_frozen_after() -> None:
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    try:
        with importing():
            assert not gc.isenabled()
            made = [[index] for index in range(1000)]  # containers: tracked by the collector
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(made)
    finally:
        gc.unfreeze()


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    try:
        with importing():
            pass
        assert not gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
