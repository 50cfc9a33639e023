import threading
import time

from evalstack.store import new_id
from evalstack.store.ids import _ALPHABET


def _decode_ms(ulid: str) -> int:
    value = 0
    for ch in ulid:
        value = value * 32 + _ALPHABET.index(ch)
    return value >> 80


def test_ids_are_26_crockford_chars_with_the_current_time() -> None:
    before = time.time_ns() // 1_000_000
    ulid = new_id()
    after = time.time_ns() // 1_000_000
    assert len(ulid) == 26
    assert set(ulid) <= set(_ALPHABET)
    assert not set(ulid) & set("ILOU")
    assert before <= _decode_ms(ulid) <= after + 1


def test_ids_increase_strictly_within_a_millisecond() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    # Far more ids than milliseconds elapsed, so many shared a millisecond.
    assert len({_decode_ms(i) for i in ids}) < len(ids)


def test_ids_are_unique_and_ordered_across_threads() -> None:
    results: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        out.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in results for i in out]
    assert len(set(every)) == len(every)
    for out in results:
        assert out == sorted(out)
