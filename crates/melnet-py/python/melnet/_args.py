"""Argument checks and batch reshaping shared by the wrappers (no numerics)."""

import numpy as np


def signals(y, name="y"):
    """`y` of shape (..., n) as a C-contiguous float32 array (items, n), and the leading shape."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        raise TypeError(f"Audio data must be floating-point, not {y.dtype}")
    if y.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if y.shape[-1] == 0:
        raise ValueError(f"{name} is empty: audio buffers need at least one sample")
    if not np.all(np.isfinite(y)):
        raise ValueError("Audio buffer is not finite everywhere")
    lead = y.shape[:-1]
    return np.ascontiguousarray(y.reshape(-1, y.shape[-1]), dtype=np.float32), lead


def spectrograms(S, dtype, name="S"):
    """`S` of shape (..., rows, frames) as a C-contiguous array (items, rows, frames) of
    `dtype`, and the leading shape."""
    S = np.asarray(S)
    if S.ndim < 2:
        raise ValueError(f"{name} must have at least two dimensions, got shape {S.shape}")
    lead = S.shape[:-2]
    return np.ascontiguousarray(S.reshape((-1,) + S.shape[-2:]), dtype=dtype), lead


def positive_int(value, name):
    """A positive integer argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name}={value} must be positive")
    return int(value)


def window_name(window):
    """librosa accepts a window name; melspec knows hann and hamming."""
    if not isinstance(window, str):
        raise TypeError(f"window must be a window name ('hann' or 'hamming'), got {window!r}")
    return window


def frame_lengths(n_fft, hop_length, win_length):
    """librosa's defaults: win_length = n_fft, hop_length = win_length // 4."""
    n_fft = positive_int(n_fft, "n_fft")
    win_length = n_fft if win_length is None else positive_int(win_length, "win_length")
    hop_length = win_length // 4 if hop_length is None else positive_int(hop_length, "hop_length")
    if hop_length <= 0:
        raise ValueError(f"hop_length={hop_length} must be positive")
    return n_fft, hop_length, win_length


def fmax_or_nyquist(fmax, sr):
    return float(sr) / 2 if fmax is None else float(fmax)


def norm_name(norm):
    if norm is None:
        return "none"
    if norm == "slaney":
        return "slaney"
    raise ValueError(f"Unsupported norm={norm!r}: melspec supports 'slaney' or None")


def framing(*, n_fft, hop_length, win_length, window, center, pad_mode="constant"):
    """librosa's STFT arguments as the dict the bindings take (types checked here, values by
    melspec)."""
    return dict(n_fft=int(n_fft), hop_length=int(hop_length), win_length=int(win_length),
                window=window_name(window), center=bool(center), pad_mode=str(pad_mode))


def filterbank(*, sr, n_fft, n_mels, fmin, fmax, htk, norm):
    """librosa's mel filterbank arguments as the dict the bindings take (`fmax` resolved)."""
    return dict(sr=float(sr), n_fft=int(n_fft), n_mels=int(n_mels), fmin=float(fmin),
                fmax=fmax_or_nyquist(fmax, sr), htk=bool(htk), norm=norm_name(norm))
