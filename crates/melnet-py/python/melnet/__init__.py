"""melnet: librosa's spectrogram, dB and inversion functions, computed by melspec (Rust).

Names, keyword-only arguments and defaults follow librosa; outputs are float32 (complex64 for
STFTs); any leading batch axes are kept and their items computed in parallel, without the GIL.
MelNet models train with `train(data, model, ...)` and open with `Model(path)` (`.sample`, `.nll`,
`.say`); `say(text)` speaks with the shipped English model.
"""

from . import data, feature, filters, metrics, synth
from .model import Model, Nll, Sample, Speech, Trained, say, train
from ._core import (
    amplitude_to_db,
    db_to_amplitude,
    db_to_power,
    griffinlim,
    istft,
    load,
    lws,
    pghi,
    power_to_db,
    stft,
)

__all__ = [
    "Model",
    "Nll",
    "Sample",
    "Speech",
    "Trained",
    "say",
    "train",
    "amplitude_to_db",
    "data",
    "griffinlim",
    "lws",
    "metrics",
    "pghi",
    "db_to_amplitude",
    "db_to_power",
    "feature",
    "filters",
    "istft",
    "load",
    "power_to_db",
    "stft",
    "synth",
]
