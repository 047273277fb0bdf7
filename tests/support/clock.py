"""A clock tests move by hand, for code that takes ``clock=time.monotonic``."""


class ManualClock:
    """It says ``now`` until a test moves it (``clock.now += 10`` or ``advance``), so
    timing tests need not sleep."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
