"""The generator's sentences, viseme classes and the face renderer's mouth."""

from __future__ import annotations

import numpy as np

from lipsound2.corpus.grid import LETTERS, grid_code, grid_words
from lipsound2.synthetic.face import FaceRenderer, FaceStyle, Pose
from lipsound2.synthetic.grammar import free_sentence, grid_sentence
from lipsound2.synthetic.visemes import mouth_track, shape_of, viseme_of


def test_grid_sentences_roundtrip_through_grid_names():
    rng = np.random.default_rng(0)
    for _ in range(200):
        words = grid_sentence(rng)
        assert len(words) == 6 and words[3] in LETTERS
        assert grid_words(grid_code(words)) == words


def test_free_sentences_vary():
    rng = np.random.default_rng(0)
    sentences = {" ".join(free_sentence(rng)) for _ in range(50)}
    assert len(sentences) > 40


def test_same_lips_same_shape_different_lips_different_shape():
    assert shape_of("p") == shape_of("b") == shape_of("m")
    assert shape_of("f") == shape_of("v")
    assert shape_of("uw") == shape_of("uh")
    assert shape_of("p") != shape_of("aa") != shape_of("f")
    assert viseme_of("AA1") == viseme_of("aa")


def test_mouth_closes_on_bilabials_and_opens_on_vowels():
    segs = [("pau", 0.0, 0.2), ("m", 0.2, 0.32), ("aa", 0.32, 0.52), ("p", 0.52, 0.64), ("pau", 0.64, 1.0)]
    track = mouth_track(segs, 25)
    assert track[6].open == 0.0  # frame centre 0.26 s: inside "m"
    assert track[10].open > 0.7  # 0.42 s: inside "aa"
    assert track[14].open == 0.0  # 0.58 s: inside "p"
    assert track[22].open < 0.05  # rest


def test_renderer_mouth_shapes_show_and_same_viseme_renders_identically():
    renderer = FaceRenderer(FaceStyle.random(np.random.default_rng(3)))
    pose = Pose(dx=1.0, angle=1.5)
    closed = renderer.frame(shape_of("p"), pose).astype(int)
    assert np.array_equal(closed, renderer.frame(shape_of("b"), pose))
    opened = renderer.frame(shape_of("aa"), pose).astype(int)
    mx, my = (int(v) for v in renderer.mouth)
    diff = np.abs(closed - opened).sum(axis=2)
    assert diff[my - 20 : my + 25, mx - 30 : mx + 30].mean() > 10  # the mouth changed
    assert diff[:, :100].max() == 0  # nothing else did


def test_speakers_look_different():
    a = FaceRenderer(FaceStyle.random(np.random.default_rng([0, 1, 0]))).frame(shape_of("pau"), Pose())
    b = FaceRenderer(FaceStyle.random(np.random.default_rng([0, 1, 1]))).frame(shape_of("pau"), Pose())
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 10
