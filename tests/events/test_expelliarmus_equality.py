"""Whole EVT 2.0 / DAT reads (expelliarmus) equal faery's chunked decode event for event, or say faery ran.

faery's events come from ``iter_events`` (chunked reads stay on faery); expelliarmus's from ``read_events``,
whose ``report["decoder"]`` says which decoder ran. Covered: the real recordings (exact counts and per-field
checksums), files our writers produce at the edges (empty, one event, max x/y, times past 2^32 and 2^34 us,
a ``% t0`` header), hand-made words on which the two decoders differ (faery must then decode, and say so),
and mutated files of the fuzz corpus (same events or the same refusal).
"""

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgevision.errors import EventFormatError
from edgevision.events import make_events
from edgevision.events.formats import iter_events, read_events, write_events
from edgevision.events.fuzz import MUTATIONS, mutate

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real-files"
H2 = b"% evt 2.0\n% format EVT2;width=640;height=480\n% geometry 640x480\n% end\n"
HD = b"% Version 2\n% Width 640\n% Height 480\n\x0c\x08"


def faery_chunks(path, **kw):
    chunks = iter_events(path, **kw)
    parts = list(chunks)
    assert chunks.decoder == "faery"
    return np.concatenate(parts) if parts else np.empty(0, read_events.__globals__["EVENT_DTYPE"])


def both(path, **kw):
    report = {}
    ours, sensor = read_events(path, report=report, **kw)
    return ours, faery_chunks(path, **kw), sensor, report["decoder"]


def digest(events):
    return {f: hashlib.sha256(np.ascontiguousarray(events[f]).tobytes()).hexdigest()[:16] for f in "txyp"}


@pytest.mark.parametrize("name,count,first,last,sensor,sums", [
    ("faery_evt2.raw", 521_252, None, None, (640, 480), None),
    ("dat_sample.dat", 4_407, 0, 99_937, None, None),
])  # fmt: skip
def test_real_recordings_equal(name, count, first, last, sensor, sums):
    path = REAL / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    ours, faery, got_sensor, decoder = both(path)
    assert decoder == "expelliarmus"
    assert ours.shape[0] == count
    np.testing.assert_array_equal(ours, faery)
    assert digest(ours) == digest(faery)
    assert (np.diff(ours["t"]) >= 0).all()
    if sensor is not None:
        assert got_sensor == sensor
    if first is not None:
        assert (int(ours["t"][0]), int(ours["t"][-1])) == (first, last)
    if name.endswith(".dat"):  # the decoded reference beside it
        ref = np.load(REAL / "dat_sample.npy")
        for f in "txyp":
            np.testing.assert_array_equal(ours[f].astype(np.int64), ref[f].astype(np.int64))


REAL_SUMS = {  # sha256 (first 16 hex digits) of each field's bytes, t int64, x/y uint16, p uint8
    "faery_evt2.raw": (521_252, 913_716_224, 913_812_095, {"t": "ecac3caf317a6737", "x": "dde6627c570eeaf1",
                                                           "y": "4af0861c7c00428b", "p": "04394c7572ccb8f5"}),
    "dat_sample.dat": (4_407, 0, 99_937, {"t": "41ec25007480cf8b", "x": "8f92d1890e91a1e5", "y": "fccad88f11f069a8",
                                          "p": "0705345784b3521f"}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REAL_SUMS))
def test_real_recordings_checksums(name):
    path = REAL / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    ours, _ = read_events(path)
    assert (ours.shape[0], int(ours["t"][0]), int(ours["t"][-1]), digest(ours)) == REAL_SUMS[name]


WRITER_CASES = {
    "empty": make_events(t=[], x=[], y=[], p=[]),
    "one": make_events(t=[5], x=[1], y=[2], p=[1]),
    "max_xy": make_events(t=[0, 1, 2, 2], x=[2047, 0, 2047, 5], y=[2047, 2047, 0, 5], p=[0, 1, 1, 0]),
    "past_2_32": make_events(t=[2**32 - 10, 2**32 + 5, 2**33], x=[1, 2, 3], y=[1, 2, 3], p=[0, 1, 0]),
    "t0_header": make_events(t=[2**40, 2**40 + 5, 2**40 + 70_000], x=[1, 2, 3], y=[1, 2, 3], p=[0, 1, 0]),
    "past_2_34": make_events(t=[0, 2**34 + 5, 2**35 + 7], x=[1, 2, 3], y=[1, 2, 3], p=[0, 1, 0]),
    "dense": make_events(t=np.arange(20_000) // 3, x=np.arange(20_000) % 2048, y=np.arange(20_000) % 7,
                         p=np.arange(20_000) % 2),
}  # fmt: skip


@pytest.mark.parametrize("fmt,ext", [("evt2", ".raw"), ("dat", ".dat")])
@pytest.mark.parametrize("case", sorted(WRITER_CASES))
def test_our_files_equal(tmp_path, fmt, ext, case):
    events = WRITER_CASES[case]
    try:
        path = write_events(tmp_path / f"{case}{ext}", events, (2048, 2048), format=fmt)
    except EventFormatError:
        assert fmt == "dat" and case.startswith("past")  # DAT refuses spans of 2^32 us and more
        return
    ours, faery, sensor, decoder = both(path)
    np.testing.assert_array_equal(ours, events)
    np.testing.assert_array_equal(faery, events)
    assert sensor == (2048, 2048)
    # TIME_HIGH wraps at 2^34 us: faery counts the wrap, expelliarmus cannot, so faery decodes and says so
    assert decoder == ("faery (TIME_HIGH goes back (faery counts a 2^34 us wrap))" if case == "past_2_34"
                       else "expelliarmus")  # fmt: skip


def cd(t, x, y, p):
    return ((1 if p else 0) << 28) | ((t & 63) << 22) | (x << 11) | y


def th(v):
    return (8 << 28) | v


def dat(t, x, y, p):
    return [t, x | (y << 14) | (p << 28)]


WORDS = {  # name: (bytes, expected decoder)
    "evt2_before_time_high": (H2 + np.array([cd(5, 1, 1, 1), th(2), cd(3, 2, 2, 0)], "<u4").tobytes(), "expelliarmus"),
    "evt2_others_continued": (H2 + np.array([th(1), cd(3, 2, 2, 0), 0xE << 28, 0xF << 28 | 7, cd(4, 3, 3, 1)], "<u4")
                              .tobytes(), "expelliarmus"),
    "evt2_reserved_type": (H2 + np.array([th(1), cd(3, 2, 2, 0), 2 << 28 | 5, cd(4, 3, 3, 1)], "<u4").tobytes(),
                           "faery (reserved word types 0x2)"),
    "evt2_trigger": (H2 + np.array([th(1), cd(9, 2, 2, 0), 0xA << 28 | 40 << 22, cd(4, 3, 3, 1)], "<u4").tobytes(),
                     "faery (EXT_TRIGGER words (faery's clock follows them))"),
    "evt2_time_high_back_no_event": (H2 + np.array([th(5), cd(3, 2, 2, 0), th(3), th(6), cd(1, 1, 1, 1)], "<u4")
                                     .tobytes(), "faery (TIME_HIGH goes back (faery counts a 2^34 us wrap))"),
    "evt2_time_low_back": (H2 + np.array([th(5), cd(3, 2, 2, 0), cd(1, 3, 3, 1)], "<u4").tobytes(),
                           "faery (event times go back (faery clamps them to the running maximum))"),
    "evt2_t0_plus": (H2.replace(b"% end\n", b"% t0 +77\n% T0 x\n% end\n")
                     + np.array([th(1), cd(3, 2, 2, 0)], "<u4").tobytes(), "expelliarmus"),
    "evt2_header_not_utf8": (H2.replace(b"% end", b"% \xff\xfe") + np.array([th(1), cd(3, 2, 2, 0)], "<u4").tobytes(),
                             "faery (a header line that is not UTF-8 (the two decoders disagree on where the data "
                             "starts))"),
    "dat_ok": (HD + np.array(dat(5, 1, 2, 1) + dat(9, 3, 4, 0), "<u4").tobytes(), "expelliarmus"),
    "dat_t0": (HD.replace(b"% Height 480\n", b"% Height 480\n% T0 1000\n") + np.array(dat(5, 1, 2, 1), "<u4").tobytes(),
               "expelliarmus"),
    "dat_version_1": (HD.replace(b"Version 2", b"Version 1") + np.array(dat(5, 1, 2, 1), "<u4").tobytes(),
                      "faery (DAT 1 (expelliarmus reads DAT 2 only))"),
    "dat_back": (HD + np.array(dat(5, 1, 2, 1) + dat(3, 3, 4, 0), "<u4").tobytes(),
                 "faery (timestamps go back (faery clamps small steps and counts 2^32 us wraps))"),
    "dat_max_xy": (HD.replace(b"640", b"16384").replace(b"480", b"16384")
                   + np.array(dat(5, 16383, 0, 1) + dat(5, 0, 16383, 0), "<u4").tobytes(), "expelliarmus"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(WORDS))
def test_hand_made_words(tmp_path, name, capfd):
    data, expected = WORDS[name]
    path = tmp_path / (name + (".dat" if name.startswith("dat") else ".raw"))
    path.write_bytes(data)
    ours, faery, _, decoder = both(path)
    np.testing.assert_array_equal(ours, faery)
    assert decoder == expected
    assert capfd.readouterr().err == ""  # expelliarmus's C warnings are captured, not printed


@pytest.mark.parametrize("fmt,ext", [("evt2", ".raw"), ("dat", ".dat")])
def test_mutated_files_same_outcome(tmp_path, fmt, ext):
    """The fuzz corpus's mutations: both paths give the same events, or both refuse the file (400 per format;
    EV_MUT=4000 in the environment runs more)."""
    rng = np.random.default_rng(7)
    n = 300
    t = np.sort(rng.integers(1_000, 201_000, n))
    valid = make_events(t, rng.integers(0, 64, n), rng.integers(0, 48, n), rng.integers(0, 2, n))
    original = write_events(tmp_path / f"valid{ext}", valid, (64, 48), format=fmt).read_bytes()
    decoders = {}
    for i in range(int(__import__("os").environ.get("EV_MUT", 400))):
        kind = MUTATIONS[i % len(MUTATIONS)]
        path = tmp_path / f"m{i}{ext}"
        path.write_bytes(mutate(original, rng, kind))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                report = {}
                ours = read_events(path, report=report)[0]
            except EventFormatError:
                ours, report = None, {"decoder": "refused"}
            try:
                faery = faery_chunks(path)
            except EventFormatError:
                faery = None
        assert (ours is None) == (faery is None), (i, kind, report)
        if ours is not None:
            np.testing.assert_array_equal(ours, faery, err_msg=f"mutation {i} ({kind})")
        decoders[report["decoder"].split(" (")[0]] = decoders.get(report["decoder"].split(" (")[0], 0) + 1
    assert decoders.get("expelliarmus", 0) > 50, decoders


def test_without_expelliarmus_faery_decodes_and_says_so(tmp_path, monkeypatch):
    events = WRITER_CASES["dense"]
    path = write_events(tmp_path / "a.raw", events, (2048, 2048), format="evt2")
    monkeypatch.setitem(__import__("sys").modules, "expelliarmus", None)
    report = {}
    np.testing.assert_array_equal(read_events(path, report=report)[0], events)
    assert report["decoder"] == "faery (expelliarmus is not installed)"


def test_other_formats_report_their_decoder(tmp_path):
    events = WRITER_CASES["dense"]
    for fmt, ext, decoder in (("evt3", ".raw", "faery"), ("aedat4", ".aedat4", "faery"), ("npy", ".npy", None)):
        report = {}
        path = write_events(tmp_path / f"a{ext}", events, (2048, 2048), format=fmt)
        np.testing.assert_array_equal(read_events(path, report=report)[0], events)
        assert report["decoder"] == decoder, fmt


def test_events_info_names_its_decoder(tmp_path):
    from edgevision.events.info import event_file_info

    path = write_events(tmp_path / "a.raw", WRITER_CASES["dense"], (2048, 2048), format="evt2")
    info = event_file_info(path)
    assert info["decoder"] == "faery" and info["count"] == WRITER_CASES["dense"].shape[0]  # chunked: faery
    assert event_file_info(write_events(tmp_path / "a.npy", WRITER_CASES["one"], (8, 8)))["decoder"] is None


@pytest.mark.parametrize("name,data", [
    ("dat_polarity_2.dat", HD + np.array(dat(5, 1, 2, 1) + dat(9, 3, 4, 2), "<u4").tobytes()),
    ("evt2_t0_past_int64.raw", H2.replace(b"% end\n", b"% t0 9223372036854775800\n% end\n")
     + np.array([th(1), cd(3, 2, 2, 0)], "<u4").tobytes()),
])  # fmt: skip
def test_refusals_read_the_same(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(EventFormatError) as ours:
        read_events(path)
    with pytest.raises(EventFormatError) as faery:
        faery_chunks(path)
    assert str(ours.value) == str(faery.value) and "\n" not in str(ours.value)
