"""Test backends: real images, with a gate to hold a render and a counter of renders."""

import threading

from PIL import Image


class GatedBackend:
    """A real backend (draws a picture from the dress colours) that can be held at a gate
    and counts how many pictures it made."""

    name = "gated"

    def __init__(self, open_gate=True, fail=None):
        self.gate = threading.Event()
        if open_gate:
            self.gate.set()
        self.renders = 0
        self.fail = fail
        self.started = threading.Event()
        self._lock = threading.Lock()

    def render(self, dress, progress):
        progress("image_wait")
        self.started.set()
        assert self.gate.wait(20)
        if self.fail:
            raise RuntimeError(self.fail)
        with self._lock:
            self.renders += 1
        color = "#" + (dress.seed[:6])
        image = Image.new("RGB", (256, 256), color)
        image.paste("#ffffff", (64, 64, 192, 192))
        return image
