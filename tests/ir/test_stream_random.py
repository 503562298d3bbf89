import numpy as np
import pytest

from edgevision.ir.random import random_network, random_tokens
from edgevision.ir.stream import EOF_FLAG, pack_output, pack_tokens, unpack_output, unpack_tokens, words_per_token


@pytest.mark.parametrize("channels", [1, 4, 8, 9, 20])
def test_token_stream_roundtrip(channels):
    rng = np.random.default_rng(channels)
    coords, feats = random_tokens(rng, 60, 80, channels, 0.05)
    feats = rng.integers(-128, 128, feats.shape).astype(np.int8)
    words = pack_tokens(coords, feats)
    assert words.size == len(coords) * words_per_token(channels) + 1 and words[-1] == EOF_FLAG
    c2, f2 = unpack_tokens(words, channels)
    np.testing.assert_array_equal(c2, coords)
    np.testing.assert_array_equal(f2, feats)


def test_header_word_layout_and_empty_frame():
    words = pack_tokens(np.array([[3, 5]], np.int32), np.array([[-1, 2]], np.int8))
    assert int(words[0]) == 5 | (3 << 16)
    assert int(words[1]) & 0xFF == 0xFF and (int(words[1]) >> 8) & 0xFF == 2
    empty = pack_tokens(np.zeros((0, 2), np.int32), np.zeros((0, 3), np.int8))
    assert empty.tolist() == [int(EOF_FLAG)]
    with pytest.raises(ValueError):
        unpack_tokens(words[:-1], 2)


@pytest.mark.parametrize("dtype", [np.int8, np.int32])
def test_output_roundtrip(dtype):
    vec = np.arange(-5, 14).astype(dtype)
    np.testing.assert_array_equal(unpack_output(pack_output(vec), vec.size, dtype), vec)


def test_random_network_is_valid_and_deterministic():
    a = random_network(np.random.default_rng(1), fc_out=5)
    b = random_network(np.random.default_rng(1), fc_out=5)
    assert [l.op for l in a.layers][:3] == ["conv3x3_subm", "conv2x2_s2", "conv1x1"]
    np.testing.assert_array_equal(a.layer("fc").tensors["weight"], b.layer("fc").tensors["weight"])


def test_empty_window_unpacks_to_no_tokens():
    coords, feats = unpack_tokens(pack_tokens(np.zeros((0, 2), np.int32), np.zeros((0, 5), np.int8)), 5)
    assert coords.shape == (0, 2) and feats.shape == (0, 5) and feats.dtype == np.int8
