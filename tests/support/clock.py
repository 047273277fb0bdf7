"""A clock tests move by hand, for code that takes ``clock=time.monotonic``."""


class ManualClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
