"""librosa.feature: mel spectrograms."""

import numpy as np

from .. import _args, _melnet
from . import inverse


def melspectrogram(*, y=None, sr=22050, S=None, n_fft=2048, hop_length=None, win_length=None,
                   window="hann", center=True, pad_mode="constant", power=2.0, n_mels=128,
                   fmin=0.0, fmax=None, htk=False, norm="slaney"):
    """Mel spectrogram (..., n_mels, frames), float32, as `librosa.feature.melspectrogram`:
    from a signal `y` (..., n), or from a power spectrogram `S` (..., 1 + n_fft // 2, frames)."""
    n_mels = _args.positive_int(n_mels, "n_mels")
    if S is not None:
        S, lead = _args.spectrograms(S, np.float32)
        n_fft = 2 * (S.shape[1] - 1)
        out = _melnet.mel_apply(S, _args.filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                                                    fmax=fmax, htk=htk, norm=norm))
        return out.reshape(lead + out.shape[1:])
    if y is None:
        raise ValueError("Input signal must be provided (y or S)")
    y, lead = _args.signals(y)
    n_fft, hop_length, win_length = _args.frame_lengths(n_fft, hop_length, win_length)
    out = _melnet.melspectrogram(
        y,
        _args.framing(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
                      center=center, pad_mode=pad_mode),
        _args.filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                         norm=norm),
        float(power))
    return out.reshape(lead + out.shape[1:])


__all__ = ["inverse", "melspectrogram"]
