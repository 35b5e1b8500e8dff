"""DX7 synthesizer voices rendered by melnet's engine (the `dx7` crate), in process.

A voice is its 155 unpacked parameters (uint8, operator 6 first, as DX7 voice dumps store
them); `params()` names them. `load_bank(path)` reads a bank file (32-voice bulk SysEx, single
voice dumps, raw packed voices) into a `(voices, 155)` array; `render(voices, ...)` plays one
note of each, in parallel without the GIL. `normalise` maps parameters to [0, 1], as the
`labels.csv` and `params.npy` of `melnet synth render` hold them.
"""

import json

import numpy as np

from . import _melnet

_PARAMS = json.loads(_melnet.dx7_params_json())


def params():
    """The 155 voice parameters in unpacked order: dicts with `name`, `max` and `learnable`
    (every parameter but transpose and the 10 name characters: 144)."""
    return [dict(p) for p in _PARAMS]


def load_bank(path):
    """The voices of a bank file as a `(voices, 155)` uint8 array. Voices with a field out of
    range are left out with a warning; a file that is not a bank raises `ValueError`, an
    unreadable one `OSError`."""
    voices, skipped = _melnet.dx7_load_bank(str(path))
    if skipped:
        import warnings
        warnings.warn(f"{path}: {len(skipped)} voices skipped, first: {skipped[0]}", stacklevel=2)
    return voices


def render(voices, *, note=60, velocity=100, note_seconds=4.0, seconds=5.0, sr=22050):
    """One note of each voice: `voices` is `(155,)` or `(n, 155)` unpacked parameters; returns
    float32 `(samples,)` or `(n, samples)`, `round(seconds * sr)` samples, the key released after
    `note_seconds`. A single full-level operator peaks at 1.0 (the scale of dexed-py's output;
    the DX7's own level is 1/8 of it). Raises `ValueError` for a parameter out of range (naming
    the voice and the field) or a bad setting."""
    v = np.asarray(voices)
    if v.shape[-1:] != (155,) or v.ndim not in (1, 2):
        raise ValueError(f"voices must have shape (155,) or (n, 155), got {v.shape}")
    if not np.issubdtype(v.dtype, np.integer) or v.min(initial=0) < 0 or v.max(initial=0) > 255:
        raise ValueError("voice parameters must be integers 0..255 (each within its range)")
    for name, value in (("note", note), ("velocity", velocity)):
        if not 0 <= int(value) <= 127:
            raise ValueError(f"invalid {name} = {value}: must be a MIDI value 0..=127")
    out = _melnet.dx7_render(np.ascontiguousarray(v.reshape(-1, 155), dtype=np.uint8),
                             int(note), int(velocity), float(note_seconds), float(seconds),
                             float(sr))
    return out[0] if v.ndim == 1 else out


def normalise(voices):
    """Parameters divided by their maxima: float32 in [0, 1], the same shape."""
    maxima = np.array([p["max"] for p in _PARAMS], dtype=np.float32)
    return (np.asarray(voices, dtype=np.float32) / maxima).astype(np.float32)
