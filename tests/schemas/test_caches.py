from __future__ import annotations

from schemas.caches import remember


def test_a_cache_never_holds_more_than_its_limit_and_keeps_the_newest() -> None:
    cache: dict[int, str] = {}
    for key in range(10):
        assert remember(cache, key, str(key), limit=4) == str(key)
        assert len(cache) <= 4
    assert cache == {8: "8", 9: "9"}  # started over at 8: what recurs is learnt again


def test_the_value_stored_is_the_one_returned() -> None:
    cache: dict[str, list[int]] = {}
    found = remember(cache, "k", [], limit=1)
    found.append(1)  # callers fill what they remembered (schemas.projection does)
    assert cache == {"k": [1]}
