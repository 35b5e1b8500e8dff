"""librosa.filters: the mel filterbank."""

from . import _args, _melnet


def mel(*, sr, n_fft, n_mels=128, fmin=0.0, fmax=None, htk=False, norm="slaney"):
    """Mel filterbank (n_mels, 1 + n_fft // 2), float32, as `librosa.filters.mel`."""
    return _melnet.mel_filters(_args.filterbank(
        sr=sr, n_fft=_args.positive_int(n_fft, "n_fft"), n_mels=_args.positive_int(n_mels, "n_mels"),
        fmin=fmin, fmax=fmax, htk=htk, norm=norm))
