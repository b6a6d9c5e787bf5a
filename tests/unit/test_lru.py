from kimchi_plugin.lru import Lru


def test_put_beyond_capacity_evicts_the_least_recently_used() -> None:
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    assert cache.put("c", 3) == "b"
    assert list(cache) == ["a", "c"] and "b" not in cache and len(cache) == 2


def test_get_of_a_missing_key_is_none_and_pop_forgets() -> None:
    cache: Lru[str, int] = Lru(3)
    assert cache.get("x") is None
    cache.put("x", 0)
    assert cache.get("x") == 0 and cache.pop("x") == 0 and "x" not in cache
