"""EVT 3.0 decoding checked against words encoded by hand from Prophesee's specification.

16-bit little-endian words, type in the top 4 bits: 0x0 EVT_ADDR_Y (y in bits 0-10), 0x2 EVT_ADDR_X
(x in bits 0-10, polarity bit 11), 0x3 VECT_BASE_X (x, polarity bit 11), 0x4 VECT_12 / 0x5 VECT_8 (valid
mask of the next 12 / 8 pixels from the base x, which then advances by 12 / 8), 0x6 EVT_TIME_LOW and
0x8 EVT_TIME_HIGH (12 bits each; t = high << 12 | low; TIME_HIGH wraps at 2^24 us; the sensor emits
TIME_HIGH as time advances, so consecutive values appear in a real stream).
Expected events are worked out from those rules, not from any decoder (expelliarmus gets wraps wrong).
"""

import numpy as np

from edgevision.events import make_events
from edgevision.events.formats import read_events

HEADER = b"% evt 3.0\n% format EVT3;width=640;height=480\n% geometry 640x480\n% end\n"


def w(kind: int, payload: int) -> int:
    return (kind << 12) | payload


def addr_x(x: int, p: int) -> int:
    return w(0x2, x | (p << 11))


WORDS = [
    w(0x8, 1), w(0x6, 5), w(0x0, 10), addr_x(3, 1),  # t = 4096 + 5
    w(0x3, 100 | (0 << 11)), w(0x4, 0b101), w(0x5, 0b1),  # x = 100, 102 (VECT_12), 112 (VECT_8), OFF
    w(0x6, 7), addr_x(5, 0),  # t = 4103
    *[w(0x8, h) for h in range(2, 0x1000)],  # the sensor emits every TIME_HIGH value as time passes
    w(0x6, 0xFFF), w(0x0, 20), addr_x(1, 1),  # t = 2^24 - 1
    w(0x8, 0x000), w(0x6, 0x001), addr_x(2, 0),  # TIME_HIGH wrapped: t = 2^24 + 1
    w(0x8, 0x002), w(0x6, 0xFF0), addr_x(7, 1),  # t = 2^24 + 2 * 4096 + 0xFF0
    w(0x8, 0x003), w(0x6, 0x005), addr_x(8, 1),  # new TIME_HIGH, small TIME_LOW: no extra 4096
]  # fmt: skip

EXPECTED = make_events(
    t=[4101, 4101, 4101, 4101, 4103, 2**24 - 1, 2**24 + 1, 2**24 + 2 * 4096 + 0xFF0, 2**24 + 3 * 4096 + 5],
    x=[3, 100, 102, 112, 5, 1, 2, 7, 8],
    y=[10, 10, 10, 10, 10, 20, 20, 20, 20],
    p=[1, 0, 0, 0, 0, 1, 0, 1, 1],
)


def test_evt3_hand_encoded_words(tmp_path):
    path = tmp_path / "spec.raw"
    path.write_bytes(HEADER + np.array(WORDS, "<u2").tobytes())
    events, sensor = read_events(path)
    assert sensor == (640, 480)
    np.testing.assert_array_equal(events, EXPECTED)
