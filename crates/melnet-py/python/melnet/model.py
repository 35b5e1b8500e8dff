"""MelNet models: training (`train`, as `melnet train`), and trained models (`Model`):
drawing spectrograms and audio, scoring spectrograms, text to speech with a text model.

    import melnet
    speech = melnet.say("the cat sat on the mat", speaker="slt")   # the shipped English model
    speech.audio, speech.sr                                         # float32 (samples,), Hz

    melnet.train("out/dataset", "out/model", tiers=3, minutes=5)   # a dataset from `melnet prepare`
    m = melnet.Model("out/model")
    drawn = m.sample(seconds=4, count=2, seed=1)                   # [Sample(mel, audio)], as `melnet sample`
    m.nll(drawn[0].mel).full                                       # nats per element, as `melnet eval`

`Model(path)` opens a model directory once (all tiers loaded); its `say` is what `melnet say`
does on the command line, and `melnet.say` uses the repository's `models/tts-en` (or
`$MELNET_SAY_MODEL`). Unknown characters, speakers or labels raise `ValueError` naming them.
The work runs without the GIL.
"""

import json
import os
from collections import namedtuple

import numpy as np

from . import _melnet

Speech = namedtuple("Speech", "audio sr mel attention ended")
Speech.__doc__ = """A said text: `audio` float32 `(samples,)` at `sr` Hz (peak 0.99); `mel` the
spectrogram `(n_mels, frames)` in the dataset's scale (dB for a dB model); `attention` the text
attention window over the said frames `(characters, tier-1 frames)`; `ended` whether the model
finished the text within `max_seconds`."""


Sample = namedtuple("Sample", "mel audio")
Sample.__doc__ = """A drawn spectrogram: `mel` `(n_mels, frames)` in the dataset's scale (dB for a dB
model; a prime's frames first) and its `audio` float32 `(samples,)` at the model's rate."""

Nll = namedtuple("Nll", "tiers full per_element")
Nll.__doc__ = """A spectrogram's negative log-likelihood under a model, nats per element: each
tier's mean (`tiers`, tier 1 first), the full resolution's (`full`), and per element
`(n_mels, frames)`."""

Trained = namedtuple("Trained", "tier step valid parameters end")
Trained.__doc__ = """Where `train` left a tier: its step, validation NLL (nats per element),
parameters, and why it ended (`"finished"`, `"time limit"` or `"interrupted"`)."""


def _conditions(label, text):
    return (None if label is None else str(label), None if text is None else str(text))


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

    def say(self, text, *, speaker=None, seed=0, max_seconds=20.0, bias=0.0, temperature=None):
        """Say `text` (upper case is lowered) as `speaker` (default: the first of
        `self.speakers`); returns a `Speech`. The draws and the inversion's initial phase
        follow `seed`; `bias` ≥ 0 draws likelier values (`temperature` is its old name);
        `max_seconds` caps the length (speech ends earlier when the text has been said)."""
        if temperature is not None:
            bias = temperature
        audio, mel, attention, ended = self._model.say(
            str(text), speaker, float(max_seconds), float(bias), int(seed))
        return Speech(audio, self.sr, mel, attention, ended)

    def sample(self, *, seconds=4.0, count=1, label=None, text=None, bias=0.0, seed=0,
               prime=None, prime_seconds=2.0):
        """Draw `count` spectrograms of `seconds` each, as `melnet sample` does with the same
        arguments (the same seed gives the same spectrograms): conditioned on `label` and
        `text` where the model is (a text model stops when its text has been said), and
        continuing the first `prime_seconds` of `prime` (a recording, or a spectrogram `.npy`)
        when given. `bias` ≥ 0 draws likelier values. Returns a list of `Sample(mel, audio)`."""
        if not (isinstance(count, int) and count > 0):
            raise ValueError(f"count={count!r}: must be a positive integer")
        label, text = _conditions(label, text)
        drawn = self._model.sample(
            float(seconds), count, label, text, float(bias), int(seed),
            None if prime is None else os.fspath(prime), float(prime_seconds))
        return [Sample(mel, audio) for mel, audio in drawn]

    def nll(self, S, *, label=None, text=None):
        """The negative log-likelihood of the spectrogram `S` `(n_mels, frames)`, in the
        dataset's scale (as `sample` draws and `melnet eval --input` scores), given `label`
        and `text` where the model is conditioned on them. Returns an `Nll`."""
        S = np.ascontiguousarray(S, dtype=np.float32)
        if S.ndim != 2:
            raise ValueError(f"S has shape {S.shape}: give (n_mels, frames)")
        label, text = _conditions(label, text)
        tiers, full, per_element = self._model.nll(S, label, text)
        return Nll(tiers, full, per_element)


_default = {}


def default_model():
    """The model `melnet.say` uses: `$MELNET_SAY_MODEL`, else the repository's `models/tts-en`
    (loaded once)."""
    path = os.environ.get("MELNET_SAY_MODEL") or _melnet.default_model_dir()
    if path not in _default:
        _default[path] = Model(path)
    return _default[path]


def say(text, *, speaker=None, model=None, seed=0, max_seconds=20.0, bias=0.0,
        temperature=None):
    """Say `text` with `model` (a `Model` or a model directory; default: `default_model()`),
    as `melnet say` does; returns a `Speech` (`.audio`, `.sr`, `.mel`, `.attention`,
    `.ended`)."""
    if model is None:
        model = default_model()
    elif not isinstance(model, Model):
        model = Model(model)
    return model.say(text, speaker=speaker, seed=seed, max_seconds=max_seconds, bias=bias,
                     temperature=temperature)


def train(data, model, *, progress=None, **plan):
    """Train the model in the directory `model` on the dataset `data` (from `melnet prepare`),
    as `melnet train` does, and return a `Trained` per trained tier. A directory without a
    model gets one for the dataset (`tiers`, `frames`, `labels=True` to condition on its
    labels as `--use-labels` does, `transcripts=` a metadata.csv to condition on text). The plan, as keywords named
    after `melnet train`'s flags: `tier` (default: all, in turn), `resume` (`"never"`: a
    trained tier is an error; `"always"`: continue the model; `"if any"`: continue what
    exists, make what does not), `layers`, `width`, `n_mixtures`, `centralized`,
    `feature_layers`, `censored`, `attention_mixtures`, `optimizer`
    (`"rmsprop"` or `"adam"`), `lr`, `momentum`, `batch`, `seed`, the budget `steps`,
    `epochs` or `minutes`, `lr_halve_every_epochs`, `input_noise`, `clip_grad`,
    `valid_every`, `checkpoint_every`. `progress(tier, step, loss, valid)` is called after
    every step; an exception from it (or Ctrl-C) stops the run with a checkpoint and is
    raised. Each tier's `log.csv` holds its curve (the program also draws `loss.png`)."""
    for key in ("transcripts",):
        if plan.get(key) is not None:
            plan[key] = os.fspath(plan[key])
    done = _melnet.train(os.fspath(data), os.fspath(model), progress=progress, **plan)
    return [Trained(*t) for t in done]
