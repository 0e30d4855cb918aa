import uuid

from schemas.ids import uuid7


def test_uuid7_carries_the_given_millisecond_and_a_valid_variant() -> None:
    now_ns = 1_764_460_800_123_456_789
    ids = [uuid7(now_ns) for _ in range(4000)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(str(u) == i for u, i in zip(parsed, ids, strict=True))
    assert {u.int >> 80 for u in parsed} == {now_ns // 1_000_000}
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    # All four variant digits and all 74 random bits vary: no bit is stuck.
    assert {i[19] for i in ids} == set("89ab")
    ored = anded = parsed[0].int
    for u in parsed:
        ored, anded = ored | u.int, anded & u.int
    random_bits = ((1 << 12) - 1) << 64 | ((1 << 62) - 1)
    assert (ored & random_bits) == random_bits and (anded & random_bits) == 0
    assert len(set(ids)) == len(ids)
