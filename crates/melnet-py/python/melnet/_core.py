"""librosa's core functions: load, stft, istft and the dB conversions."""

import numpy as np

from . import _args, _melnet


def load(path, *, sr=22050, mono=True):
    """Decode an audio file (WAV, FLAC, Ogg Vorbis, MP3) to mono float32 at `sr` Hz (`None`
    keeps the file's rate). Returns `(y, sr)`, as `librosa.load`."""
    if not mono:
        raise ValueError("mono=False is not supported: melnet decodes to mono")
    if sr is not None:
        sr = _args.positive_int(sr, "sr")
    return _melnet.load(str(path), sr)


def stft(y, *, n_fft=2048, hop_length=None, win_length=None, window="hann", center=True,
         pad_mode="constant"):
    """Complex STFT (..., 1 + n_fft // 2, frames), complex64, as `librosa.stft`."""
    y, lead = _args.signals(y)
    n_fft, hop_length, win_length = _args.frame_lengths(n_fft, hop_length, win_length)
    out = _melnet.stft(y, _args.framing(n_fft=n_fft, hop_length=hop_length,
                                        win_length=win_length, window=window, center=center,
                                        pad_mode=pad_mode))
    return out.reshape(lead + out.shape[1:])


def istft(stft_matrix, *, hop_length=None, win_length=None, n_fft=None, window="hann",
          center=True, length=None):
    """Signal (..., n) from a complex STFT (..., 1 + n_fft // 2, frames), as `librosa.istft`."""
    S, lead = _args.spectrograms(stft_matrix, np.complex64, "stft_matrix")
    n_fft = 2 * (S.shape[1] - 1) if n_fft is None else n_fft
    n_fft, hop_length, win_length = _args.frame_lengths(n_fft, hop_length, win_length)
    if length is not None:
        length = _args.positive_int(length, "length")
    out = _melnet.istft(S, _args.framing(n_fft=n_fft, hop_length=hop_length,
                                         win_length=win_length, window=window, center=center),
                        length)
    return out.reshape(lead + out.shape[1:])


def _reference(S, ref):
    """librosa's `ref`: a number, or a callable (such as `np.max`) applied to `S`."""
    value = ref(S) if callable(ref) else ref
    return float(value)


def power_to_db(S, *, ref=1.0, amin=1e-10, top_db=80.0):
    """`10·log10(S / ref)` floored at `amin` and at `max − top_db`, as `librosa.power_to_db`."""
    S = np.asarray(S, dtype=np.float32)
    return _melnet.to_db(S, _reference(S, ref), float(amin),
                         None if top_db is None else float(top_db), False)


def amplitude_to_db(S, *, ref=1.0, amin=1e-5, top_db=80.0):
    """`20·log10(|S| / ref)`, as `librosa.amplitude_to_db`."""
    S = np.abs(np.asarray(S)).astype(np.float32)
    return _melnet.to_db(S, _reference(S, ref), float(amin),
                         None if top_db is None else float(top_db), True)


def db_to_power(S_db, *, ref=1.0):
    """`ref · 10^(S_db / 10)`, as `librosa.db_to_power`."""
    return _melnet.from_db(np.asarray(S_db, dtype=np.float32), float(ref), False)


def db_to_amplitude(S_db, *, ref=1.0):
    """`ref · 10^(S_db / 20)`, as `librosa.db_to_amplitude`."""
    return _melnet.from_db(np.asarray(S_db, dtype=np.float32), float(ref), True)


def _phase(S, method, *, n_iter, hop_length, win_length, n_fft, window, center, length,
           momentum, init, random_state):
    """Phase retrieval on magnitudes S (..., 1 + n_fft // 2, frames) by melspec."""
    S, lead = _args.spectrograms(S, np.float32)
    n_fft = 2 * (S.shape[1] - 1) if n_fft is None else n_fft
    n_fft, hop_length, win_length = _args.frame_lengths(n_fft, hop_length, win_length)
    if length is not None:
        length = _args.positive_int(length, "length")
    n_iter = int(n_iter)
    if n_iter < 0:
        raise ValueError(f"n_iter={n_iter} must be non-negative")
    if init not in ("random", None):
        raise ValueError(f"init={init!r} must be 'random' or None")
    if random_state is None:
        seed = 0
    elif isinstance(random_state, (int, np.integer)):
        seed = int(random_state)
    else:
        raise TypeError("random_state must be None or an integer seed")
    framing = _args.framing(n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                            window=window, center=center)
    out = _melnet.reconstruct(S, framing, method, n_iter, float(momentum),
                              "random" if init == "random" else "zero", seed, length)
    return out.reshape(lead + out.shape[1:])


def griffinlim(S, *, n_iter=32, hop_length=None, win_length=None, n_fft=None, window="hann",
               center=True, length=None, momentum=0.99, init="random", random_state=None):
    """Signal (..., n) from a magnitude spectrogram (..., 1 + n_fft // 2, frames) by (fast)
    Griffin–Lim, as `librosa.griffinlim` (`momentum=0` is plain Griffin–Lim; `init=None`
    starts from zero phase; `random_state` is an integer seed)."""
    method = "fgla" if momentum else "gla"
    return _phase(S, method, n_iter=n_iter, hop_length=hop_length, win_length=win_length,
                  n_fft=n_fft, window=window, center=center, length=length,
                  momentum=momentum, init=init, random_state=random_state)


def pghi(S, *, n_iter=0, hop_length=None, win_length=None, n_fft=None, window="hann",
         center=True, length=None, momentum=0.99):
    """Signal (..., n) from a magnitude spectrogram by phase-gradient heap integration (Průša
    et al. 2017), followed by `n_iter` fast Griffin–Lim iterations."""
    method = "pghi+fgla" if n_iter else "pghi"
    return _phase(S, method, n_iter=n_iter, hop_length=hop_length, win_length=win_length,
                  n_fft=n_fft, window=window, center=center, length=length,
                  momentum=momentum, init="random", random_state=None)


def lws(S, *, n_iter=0, hop_length=None, win_length=None, n_fft=None, window="hann",
        center=True, length=None, momentum=0.99):
    """Signal (..., n) from a magnitude spectrogram by local weighted sums (Le Roux et al.
    2010, 100 batch iterations), followed by `n_iter` fast Griffin–Lim iterations."""
    method = "lws+fgla" if n_iter else "lws"
    return _phase(S, method, n_iter=n_iter, hop_length=hop_length, win_length=win_length,
                  n_fft=n_fft, window=window, center=center, length=length,
                  momentum=momentum, init="random", random_state=None)
