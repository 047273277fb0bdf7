import pytest

from dalleserver.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("500ms", 0.5),
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("1m30s", 90),
        ("90", 90),
        ("1.5", 1.5),
        ("1.5h", 5400),
        ("0", 0),
        ("250us", 0.00025),
        ("100ns", 1e-7),
        (" 2m ", 120),
    ],
)
def test_go_and_bare_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "5 m", "-5s", "5x", "m5", "1h-3m", "s", "1..2s"])
def test_invalid_durations_raise(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_round_trips():
    for seconds in (0.25, 1, 59, 90, 3600, 5400, 3661):
        assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
