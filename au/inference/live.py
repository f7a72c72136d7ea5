"""The live window of ``au.predict input=0``: annotated frames, the frame rate, q/Esc to stop.

The window is one function (``show``: an RGB image in, ``False`` when the user asked to stop), so
a test drives the same code path on a video file with a stand-in for the screen.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import cv2
import numpy as np

from au.errors import NoWindowError

log = logging.getLogger(__name__)

#: Keys that stop a live run (q, Q, Esc).
STOP_KEYS = frozenset({ord("q"), ord("Q"), 27})


def opencv_window(title: str = "au.predict (q or Esc stops)") -> Callable[[np.ndarray], bool]:
    """Show RGB frames in an OpenCV window; returns ``False`` on q/Esc or a closed window.

    Raises:
        NoWindowError: If OpenCV has no GUI here (opencv-python-headless).
    """
    try:
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
    except cv2.error:
        raise NoWindowError(
            "show=true: this OpenCV has no window support (opencv-python-headless); install "
            "opencv-python to see the camera, or run with show=false"
        ) from None

    def show(image: np.ndarray) -> bool:
        cv2.imshow(title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        visible = cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) >= 1
        if key in STOP_KEYS or not visible:
            cv2.destroyWindow(title)
            return False
        return True

    return show


class LiveView:
    """Puts the frame rate on annotated frames and hands them to ``show``.

    Args:
        show: Displays an RGB frame; returns ``False`` to stop the run.
        window: Frames the rate is averaged over.
    """

    def __init__(self, show: Callable[[np.ndarray], bool], window: int = 30):
        self.show = show
        self.stamps: deque[float] = deque(maxlen=window)
        self.stopped = False

    @property
    def frames_per_second(self) -> float:
        """Frames per second over the last ``window`` frames shown."""
        if len(self.stamps) < 2 or self.stamps[-1] <= self.stamps[0]:
            return 0.0
        return (len(self.stamps) - 1) / (self.stamps[-1] - self.stamps[0])

    def __call__(self, annotated: np.ndarray) -> bool:
        """Show one frame with its rate; ``False`` once the user asked to stop."""
        self.stamps.append(time.perf_counter())
        text = f"{self.frames_per_second:.1f} fps"
        scale = max(0.5, annotated.shape[0] / 640)
        origin = (8, 8 + round(22 * scale))
        cv2.putText(annotated, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4)
        cv2.putText(annotated, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 0), 1)
        self.stopped = self.stopped or not self.show(annotated)
        return not self.stopped
