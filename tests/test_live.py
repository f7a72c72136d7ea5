"""The live window (au.inference.live): the frame rate from known times, q/Esc and a closed
window stop, with stand-ins for the clock and OpenCV's window calls (no GUI here)."""

import cv2
import numpy as np
import pytest

from au.errors import NoWindowError
from au.inference import live
from au.inference.live import STOP_KEYS, LiveView, opencv_window

YELLOW = (255, 255, 0)


@pytest.fixture
def clock(monkeypatch):
    """Makes ``time.perf_counter`` in the live view return the given stamps, one per call."""
    stamps = []
    monkeypatch.setattr(live.time, "perf_counter", lambda: stamps.pop(0))
    return stamps


@pytest.fixture
def drawn(monkeypatch):
    """The text, origin, scale, colour and thickness of each ``cv2.putText`` call."""
    calls, put_text = [], cv2.putText

    def recording(image, text, origin, font, scale, colour, thickness):
        calls.append((text, origin, scale, colour, thickness))
        return put_text(image, text, origin, font, scale, colour, thickness)

    monkeypatch.setattr(live.cv2, "putText", recording)
    return calls


def test_the_rate_is_frames_over_the_seconds_of_the_last_window(clock, drawn):
    clock.extend([10.0, 10.1, 10.2, 10.4, 10.8, 10.8, 10.8])
    view = LiveView(lambda image: True, window=3)
    rates = []
    for _ in range(7):
        assert view(np.zeros((240, 320, 3), np.uint8)) is True
        rates.append(view.frames_per_second)
    # stamps in the window: [10.0] -> no rate; [10.0, 10.1] -> 1 / 0.1; [10.0 .. 10.2] -> 2 / 0.2;
    # [10.1, 10.2, 10.4] -> 2 / 0.3; [10.2, 10.4, 10.8] -> 2 / 0.6; [10.4, 10.8, 10.8] -> 2 / 0.4;
    # [10.8] x 3 -> no time passed, no rate
    assert rates == pytest.approx([0.0, 10.0, 10.0, 20 / 3, 10 / 3, 5.0, 0.0])
    texts = [call[0] for call in drawn]
    assert texts[::2] == texts[1::2]  # a dark outline, then the text over it
    expected = ["0.0", "10.0", "10.0", "6.7", "3.3", "5.0", "0.0"]
    assert texts[::2] == [f"{rate} fps" for rate in expected]


@pytest.mark.parametrize(("height", "scale", "origin"), [(240, 0.5, (8, 19)), (1280, 2.0, (8, 52))])
def test_the_rate_is_drawn_top_left_in_place_scaled_by_the_frame_height(
    clock, drawn, height, scale, origin
):
    clock.append(1.0)
    shown = []
    frame = np.zeros((height, 200, 3), np.uint8)
    LiveView(shown.append)(frame)  # list.append returns None: the run stops
    assert shown[0] is frame  # annotated in place, then shown
    assert [call[1:] for call in drawn] == [
        (origin, scale, (0, 0, 0), 4),
        (origin, scale, YELLOW, 1),
    ]
    (width, above), below = cv2.getTextSize("0.0 fps", cv2.FONT_HERSHEY_SIMPLEX, scale, 4)
    rows, cols = np.nonzero(frame.any(axis=2))  # the pixels drawn on the black frame
    assert np.all(frame[rows, cols] == YELLOW, axis=1).any()
    assert origin[1] - above - 2 <= rows.min() and rows.max() <= origin[1] + below + 2
    assert origin[0] - 2 <= cols.min() and cols.max() <= origin[0] + width + 2


def test_once_asked_to_stop_no_frame_is_shown_again(clock):
    clock.extend([0.0, 0.04, 0.08, 0.12, 0.16])
    answers, shown = [True, False, True], []

    def screen(image):
        shown.append(image)
        return answers[len(shown) - 1]

    view = LiveView(screen)
    assert [view(np.zeros((64, 64, 3), np.uint8)) for _ in range(5)] == [True] + [False] * 4
    assert len(shown) == 2 and view.stopped


class StandInWindow:
    """OpenCV's window calls, recorded; ``waitKey`` and visibility answer what a test sets."""

    def __init__(self, monkeypatch, key: int = -1, visible: float = 1.0):
        self.key, self.visible = key, visible
        self.calls, self.images = [], []
        monkeypatch.setattr(
            live.cv2, "namedWindow", lambda title, flags: self.record("open", title)
        )
        monkeypatch.setattr(live.cv2, "imshow", self.imshow)
        monkeypatch.setattr(live.cv2, "waitKey", lambda delay: self.key)
        monkeypatch.setattr(live.cv2, "getWindowProperty", lambda title, prop: self.visible)
        monkeypatch.setattr(live.cv2, "destroyWindow", lambda title: self.record("close", title))

    def record(self, what: str, title: str) -> None:
        self.calls.append((what, title))

    def imshow(self, title: str, image: np.ndarray) -> None:
        self.record("show", title)
        self.images.append(image.copy())


def test_stop_keys_are_q_upper_q_and_escape():
    assert sorted(STOP_KEYS) == [27, 81, 113]


@pytest.mark.parametrize(
    ("key", "visible", "goes_on"),
    [
        (-1, 1.0, True),  # no key pressed (waitKey gives -1, 255 in the low byte)
        (ord("x"), 1.0, True),
        (ord("q"), 1.0, False),
        (ord("Q"), 1.0, False),
        (27, 1.0, False),  # Esc
        (0x100000 | ord("q"), 1.0, False),  # q with modifier bits above the low byte
        (-1, 0.0, False),  # the user closed the window
    ],
)
def test_the_window_shows_bgr_and_stops_on_q_esc_or_close(monkeypatch, key, visible, goes_on):
    window = StandInWindow(monkeypatch, key, visible)
    show = opencv_window("cam")
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red in RGB
    assert show(rgb) is goes_on
    assert window.images[0][..., 2].max() == 200 and window.images[0][..., :2].max() == 0
    closed = [] if goes_on else [("close", "cam")]
    assert window.calls == [("open", "cam"), ("show", "cam"), *closed]


def test_opencv_without_gui_is_a_no_window_error(monkeypatch):
    def headless(title, flags):
        raise cv2.error("The function is not implemented")

    monkeypatch.setattr(live.cv2, "namedWindow", headless)
    with pytest.raises(NoWindowError, match=r"^show=true: this OpenCV has no window support"):
        opencv_window()
