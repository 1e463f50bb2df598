from datetime import UTC, date, datetime, timedelta

from simulator.clock import Clock


def test_real_time_by_default():
    clock = Clock()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)


def test_freeze_set_advance_and_resume():
    clock = Clock()
    clock.freeze(datetime(2025, 10, 31, 23, 30))  # naive = Brussels local time
    assert clock.today() == date(2025, 10, 31)
    assert clock.now() == datetime(2025, 10, 31, 22, 30, tzinfo=UTC)
    clock.advance(timedelta(hours=1))
    assert clock.today() == date(2025, 11, 1)
    clock.unfreeze()
    assert not clock.frozen
    assert clock.today() == date(2025, 11, 1)  # resumes from the simulated instant
    clock.set(datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert clock.today() == date(2026, 1, 1)
    clock.reset()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
