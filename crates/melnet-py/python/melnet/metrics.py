"""Quality metrics of a reconstruction, on STFT magnitudes (bins, frames)."""

import numpy as np

from . import _melnet


def _pair(S, S_hat):
    S, S_hat = np.asarray(S, dtype=np.float32), np.asarray(S_hat, dtype=np.float32)
    if S.ndim != 2 or S_hat.ndim != 2:
        raise ValueError(f"magnitudes must be (bins, frames), got {S.shape} and {S_hat.shape}")
    return S, S_hat


def spectral_convergence(S, S_hat):
    """`20·log10(‖S − Ŝ‖ / ‖S‖)` in dB (lower is better) over the common frames."""
    return _melnet.spectral_distance(*_pair(S, S_hat), False)


def log_spectral_distance(S, S_hat):
    """Mean over frames of the RMS difference of the dB power spectra (floored at 1e-10 of
    the peak), in dB."""
    return _melnet.spectral_distance(*_pair(S, S_hat), True)
