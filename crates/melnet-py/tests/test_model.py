"""melnet.Model and melnet.say on the repository's shipped English model (models/tts-en)."""

import os
import pathlib

import numpy as np
import pytest

import melnet

SHIPPED = pathlib.Path(__file__).resolve().parents[3] / "models" / "tts-en"
MODEL = pathlib.Path(os.environ.get("MELNET_SAY_MODEL", SHIPPED))


@pytest.fixture(scope="module")
def model():
    return melnet.Model(MODEL)


def test_the_shipped_model_says_a_text_as_each_speaker(model):
    assert model.sr == 16000 and model.speakers == ["awb", "kal16", "rms", "slt"]
    text = "the cat sat on the mat"
    for speaker in model.speakers:
        s = model.say(text, speaker=speaker, max_seconds=4.0)
        assert s.sr == 16000 and s.audio.dtype == np.float32 and s.audio.ndim == 1
        assert np.isfinite(s.audio).all() and 0.5 < np.abs(s.audio).max() <= 1.0
        n_mels, frames = s.mel.shape
        assert n_mels == model.config["n_mels"] and 2 <= frames <= 4.0 * 16000 / 256 + 1
        # The audio covers the spectrogram's frames (hop 256, centred frames).
        assert abs(len(s.audio) - (frames - 1) * 256) <= 256
        assert s.mel.min() >= -80.0 and s.mel.max() <= 0.0
        # One attention row per character, each column a window over the text (weights ≥ 0).
        assert s.attention.shape[0] == len(text) and (s.attention >= 0).all()


def test_the_seed_decides_the_draws(model):
    a = model.say("a quiet day", seed=1, max_seconds=2.0)
    b = model.say("a quiet day", seed=1, max_seconds=2.0)
    c = model.say("a quiet day", seed=2, max_seconds=2.0)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.mel.shape != c.mel.shape or not np.array_equal(a.mel, c.mel)


def test_say_with_the_default_model_is_model_say(monkeypatch):
    monkeypatch.setenv("MELNET_SAY_MODEL", str(MODEL))
    a = melnet.say("Hello there", speaker="rms", seed=3, max_seconds=2.0)
    b = melnet.Model(MODEL).say("hello there", speaker="rms", seed=3, max_seconds=2.0)
    np.testing.assert_array_equal(a.audio, b.audio)


@pytest.mark.parametrize("text, speaker, message", [
    ("caf\u00e9", None, "'\u00e9'"),
    ("hello", "bob", "bob"),
    ("   ", None, "nothing to say"),
])
def test_bad_text_or_speaker_is_a_value_error_naming_it(model, text, speaker, message):
    with pytest.raises(ValueError, match=message):
        model.say(text, speaker=speaker)


def test_bad_lengths_and_biases_are_value_errors(model):
    for kwargs in [dict(max_seconds=0), dict(max_seconds=float("nan")), dict(bias=-1.0),
                   dict(temperature=-1.0)]:
        with pytest.raises(ValueError):
            model.say("hello", **kwargs)


def test_a_missing_model_is_an_os_error(tmp_path):
    with pytest.raises(OSError, match="model"):
        melnet.Model(tmp_path / "nothing")
