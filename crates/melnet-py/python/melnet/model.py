"""Trained MelNet models (made by `melnet train`), and text to speech with a text model.

    import melnet
    speech = melnet.say("the cat sat on the mat", speaker="slt")   # the shipped English model
    speech.audio, speech.sr                                         # float32 (samples,), Hz

`Model(path)` opens a model directory once (all tiers loaded); its `say` is what `melnet say`
does on the command line, and `melnet.say` uses the repository's `models/tts-en` (or
`$MELNET_SAY_MODEL`). Unknown characters or speakers raise `ValueError` naming them.
"""

import json
import math
import os
from collections import namedtuple

from . import _melnet

Speech = namedtuple("Speech", "audio sr mel attention ended")
Speech.__doc__ = """A said text: `audio` float32 `(samples,)` at `sr` Hz (peak 0.99); `mel` the
spectrogram `(n_mels, frames)` in the dataset's scale (dB for a dB model); `attention` the text
attention window `(characters, tier-1 frames)`; `ended` whether the model finished the text
within `max_seconds`."""


class Model:
    """A model directory made by `melnet train` with every tier's latest checkpoint loaded.

    Attributes: `config` (model.json as a dict), `sr` (Hz), `speakers` (its labels, or `[]`),
    `alphabet` (the characters a text model knows, or `None`). Raises `OSError` for a missing
    or unreadable model."""

    def __init__(self, path):
        self._model = _melnet.Model(os.fspath(path))
        self.path = os.fspath(path)
        self.config = json.loads(self._model.config_json())
        self.sr = self.config["params"]["sr"]
        self.speakers = list(self.config.get("labels") or [])
        text = self.config.get("text")
        self.alphabet = text["alphabet"] if text else None

    def __repr__(self):
        return f"melnet.Model({self.path!r})"

    def say(self, text, *, speaker=None, seed=0, max_seconds=20.0, temperature=0.0):
        """Say `text` (upper case is lowered) as `speaker` (default: the first of
        `self.speakers`); returns a `Speech`. The draws and the inversion's initial phase
        follow `seed`; `temperature` ≥ 0 biases the draws towards likelier values;
        `max_seconds` caps the length (speech ends earlier when the text has been said)."""
        if not (isinstance(max_seconds, (int, float)) and 0 < max_seconds < 86400):
            raise ValueError(f"max_seconds={max_seconds!r}: must be positive and under a day")
        hop = self.config["params"]["hop_length"]
        max_frames = math.ceil(max_seconds * self.sr / hop)
        audio, mel, attention, ended = self._model.say(
            str(text), speaker, max_frames, float(temperature), int(seed))
        return Speech(audio, self.sr, mel, attention, ended)


_default = {}


def default_model():
    """The model `melnet.say` uses: `$MELNET_SAY_MODEL`, else the repository's `models/tts-en`
    (loaded once)."""
    path = os.environ.get("MELNET_SAY_MODEL") or _melnet.default_model_dir()
    if path not in _default:
        _default[path] = Model(path)
    return _default[path]


def say(text, *, speaker=None, model=None, seed=0, max_seconds=20.0, temperature=0.0):
    """Say `text` with `model` (a `Model` or a model directory; default: `default_model()`),
    as `melnet say` does; returns a `Speech` (`.audio`, `.sr`, `.mel`, `.attention`,
    `.ended`)."""
    if model is None:
        model = default_model()
    elif not isinstance(model, Model):
        model = Model(model)
    return model.say(text, speaker=speaker, seed=seed, max_seconds=max_seconds,
                     temperature=temperature)
