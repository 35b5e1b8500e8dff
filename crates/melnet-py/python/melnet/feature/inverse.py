"""librosa.feature.inverse: mel spectrogram → audio."""

import numpy as np

from .. import _args, _melnet


def mel_to_audio(M, *, sr=22050, n_fft=2048, hop_length=None, win_length=None, window="hann",
                 center=True, pad_mode="constant", power=2.0, n_iter=None, length=None,
                 fmin=0.0, fmax=None, htk=False, norm="slaney", phase="pghi+fgla",
                 momentum=0.99, refine=60):
    """Audio (..., n) from a mel spectrogram (..., n_mels, frames) of `|X|^power`, as
    `librosa.feature.inverse.mel_to_audio`, by melspec's chain: non-negative least squares for
    the linear spectrogram, phase retrieval `phase` ('pghi+fgla', 'pghi', 'fgla', 'gla', 'lws',
    'lws+fgla'; `n_iter` Griffin–Lim iterations, by default 8 after PGHI or LWS and 32
    otherwise), then `refine` iterations of signal-domain refinement (0 turns it off)."""
    M, lead = _args.spectrograms(M, np.float32, "M")
    n_fft, hop_length, win_length = _args.frame_lengths(n_fft, hop_length, win_length)
    if n_iter is not None:
        n_iter = int(n_iter)
        if n_iter < 0:
            raise ValueError(f"n_iter={n_iter} must be non-negative")
    if length is not None:
        length = _args.positive_int(length, "length")
    if int(refine) < 0:
        raise ValueError(f"refine={refine} must be non-negative")
    framing = _args.framing(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                            window=window, center=center, pad_mode=pad_mode)
    filterbank = _args.filterbank(sr=_args.positive_int(sr, "sr"), n_fft=n_fft,
                                  n_mels=M.shape[1], fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    out = _melnet.mel_to_audio(M, framing, filterbank, float(power), str(phase), n_iter,
                               float(momentum), int(refine), length)
    return out.reshape(lead + out.shape[1:])


def mel_to_stft(M, *, sr=22050, n_fft=2048, power=2.0, fmin=0.0, fmax=None, htk=False,
                norm="slaney"):
    """STFT magnitude (..., 1 + n_fft // 2, frames) from a mel spectrogram (..., n_mels,
    frames) of `|X|^power`, as `librosa.feature.inverse.mel_to_stft` but solved to convergence
    (non-negative least squares) rather than stopped early."""
    M, lead = _args.spectrograms(M, np.float32, "M")
    filterbank = _args.filterbank(sr=sr, n_fft=_args.positive_int(n_fft, "n_fft"),
                                  n_mels=M.shape[1], fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    out = _melnet.mel_to_stft(M, filterbank, float(power))
    return out.reshape(lead + out.shape[1:])
