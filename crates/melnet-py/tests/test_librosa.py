"""melnet against librosa 0.11 on random and real signals, batch shapes, memory layouts and
errors. Tolerances as the Rust golden tests: relative 1e-5 of the peak for spectrograms."""

import os
import pathlib

import librosa
import numpy as np
import pytest

import melnet

ROOT = pathlib.Path(__file__).resolve().parents[3]
SPEECH = ROOT / "data" / "speech" / "numbers.wav"
MUSIC = ROOT / "data" / "music" / "guit_em9.flac"


def close(a, b, rel=1e-5):
    """Equal to `rel` of b's peak magnitude."""
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = np.max(np.abs(b)) or 1.0
    err = np.max(np.abs(a.astype(np.complex128) - b)) / scale
    assert err <= rel, f"max error {err:.2e} of the peak"


def noise(n, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, n).astype(np.float32)


@pytest.fixture(scope="module")
def speech():
    y, sr = librosa.load(SPEECH, sr=16000)
    return y, sr


PARAMS = [
    dict(sr=22050, n_fft=2048, hop_length=None, n_mels=128),
    dict(sr=16000, n_fft=1024, hop_length=256, n_mels=80, fmax=8000.0),
    dict(sr=16000, n_fft=512, hop_length=160, win_length=400, n_mels=40, htk=True, norm=None),
    dict(sr=22050, n_fft=1024, hop_length=256, n_mels=64, center=False, power=1.0),
    dict(sr=22050, n_fft=1024, hop_length=300, n_mels=64, pad_mode="reflect", fmin=50.0),
]


@pytest.mark.parametrize("p", PARAMS)
def test_melspectrogram_matches_librosa(p, speech):
    for y in (noise(20000), speech[0]):
        close(melnet.feature.melspectrogram(y=y, **p), librosa.feature.melspectrogram(y=y, **p))


def test_melspectrogram_from_a_power_spectrogram(speech):
    y, sr = speech
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=256)) ** 2
    close(melnet.feature.melspectrogram(S=S, sr=sr, n_mels=80),
          librosa.feature.melspectrogram(S=S, sr=sr, n_mels=80))


@pytest.mark.parametrize("p", [dict(n_fft=2048), dict(n_fft=512, hop_length=100, win_length=300),
                               dict(n_fft=1024, center=False), dict(n_fft=256, pad_mode="reflect")])
def test_stft_and_istft_match_librosa(p, speech):
    y = speech[0]
    X = melnet.stft(y, **p)
    assert X.dtype == np.complex64
    ref = librosa.stft(y, **p)
    close(X, ref)
    inv = {k: v for k, v in p.items() if k != "pad_mode"}
    ours = melnet.istft(ref, length=len(y), **inv)
    theirs = librosa.istft(ref, length=len(y), **inv)
    if not p.get("center", True):
        # Without centring, the first and last window lengths are divided by a window sum that
        # falls to ~1e-7, which turns float32 rounding into 1e-4 differences: compare inside.
        n = p["n_fft"]
        ours, theirs = ours[n:-n], theirs[n:-n]
    close(ours, theirs)


def test_batches_keep_leading_axes_and_equal_single_items():
    y = np.stack([np.stack([noise(8000, s), noise(8000, s + 10)]) for s in range(3)])
    M = melnet.feature.melspectrogram(y=y, sr=16000, n_fft=512, n_mels=40)
    assert M.shape[:3] == (3, 2, 40) and M.dtype == np.float32
    np.testing.assert_array_equal(
        M[1, 0], melnet.feature.melspectrogram(y=y[1, 0], sr=16000, n_fft=512, n_mels=40))
    X = melnet.stft(y, n_fft=512)
    assert X.shape[:3] == (3, 2, 257)
    back = melnet.istft(X, n_fft=512, length=8000)
    assert back.shape == (3, 2, 8000)
    close(back, y.astype(np.float32), rel=1e-4)


def test_float64_fortran_and_strided_inputs_give_the_same_result():
    y = noise(12000)
    ref = melnet.feature.melspectrogram(y=y, sr=16000, n_mels=40)
    y64 = y.astype(np.float64)
    np.testing.assert_array_equal(melnet.feature.melspectrogram(y=y64, sr=16000, n_mels=40), ref)
    strided = np.repeat(y, 2)[::2]
    np.testing.assert_array_equal(melnet.feature.melspectrogram(y=strided, sr=16000, n_mels=40),
                                  ref)
    batch = np.asfortranarray(np.stack([y, y]))
    out = melnet.feature.melspectrogram(y=batch, sr=16000, n_mels=40)
    np.testing.assert_array_equal(out[1], ref)


@pytest.mark.parametrize("p", [dict(sr=22050, n_fft=2048), dict(sr=16000, n_fft=512, n_mels=40,
                                                                 fmax=7000.0, htk=True, norm=None)])
def test_mel_filters_match_librosa(p):
    close(melnet.filters.mel(**p), librosa.filters.mel(**p), rel=1e-6)


def test_db_conversions_match_librosa(speech):
    S = librosa.feature.melspectrogram(y=speech[0], sr=16000)
    for ref in (1.0, np.max):
        for top_db in (80.0, None):
            close(melnet.power_to_db(S, ref=ref, top_db=top_db),
                  librosa.power_to_db(S, ref=ref, top_db=top_db), rel=1e-5)
    A = np.sqrt(S)
    close(melnet.amplitude_to_db(A, ref=np.max), librosa.amplitude_to_db(A, ref=np.max),
          rel=1e-5)
    D = librosa.power_to_db(S)
    close(melnet.db_to_power(D, ref=2.0), librosa.db_to_power(D, ref=2.0), rel=1e-5)
    close(melnet.db_to_amplitude(D), librosa.db_to_amplitude(D), rel=1e-5)


def test_load_matches_librosa():
    for path in (SPEECH, MUSIC):
        y, sr = melnet.load(path, sr=None)
        ref, ref_sr = librosa.load(path, sr=None)
        assert sr == ref_sr
        close(y, ref, rel=1e-4)
    y, sr = melnet.load(SPEECH, sr=22050)
    assert sr == 22050 and y.dtype == np.float32
    assert abs(len(y) - len(librosa.load(SPEECH, sr=22050)[0])) <= 1


def test_mel_to_audio_beats_librosa_on_speech(speech):
    y, sr = speech
    p = dict(sr=sr, n_fft=1024, hop_length=256, n_mels=80, fmax=8000.0)
    M = librosa.feature.melspectrogram(y=y, **p)
    inv = {k: v for k, v in p.items() if k != "n_mels"}
    ours = melnet.feature.inverse.mel_to_audio(M, length=len(y), **inv)
    theirs = librosa.feature.inverse.mel_to_audio(M, length=len(y), n_iter=32, **inv)
    assert ours.shape == y.shape and ours.dtype == np.float32

    def sc(out):
        a = np.abs(librosa.stft(y, n_fft=1024, hop_length=256))
        b = np.abs(librosa.stft(out, n_fft=1024, hop_length=256))
        return 20 * np.log10(np.linalg.norm(a - b) / np.linalg.norm(a))
    assert sc(ours) < sc(theirs) - 2.0, (sc(ours), sc(theirs))
    batch = melnet.feature.inverse.mel_to_audio(np.stack([M, M]), length=len(y), **inv)
    np.testing.assert_array_equal(batch[1], ours)


@pytest.mark.parametrize("call, error, needle", [
    (lambda: melnet.feature.melspectrogram(y=np.arange(100)), TypeError, "floating-point"),
    (lambda: melnet.feature.melspectrogram(y=np.array([0.0, np.nan] * 1000)), ValueError,
     "not finite"),
    (lambda: melnet.feature.melspectrogram(y=noise(4000), n_fft=0), ValueError, "n_fft"),
    (lambda: melnet.feature.melspectrogram(y=noise(4000), hop_length=-1), ValueError,
     "hop_length"),
    (lambda: melnet.feature.melspectrogram(y=noise(4000), window="kaiser"), ValueError, "window"),
    (lambda: melnet.feature.melspectrogram(y=noise(4000), window=np.ones(2048)), TypeError,
     "window"),
    (lambda: melnet.feature.melspectrogram(y=noise(4000), pad_mode="edge"), ValueError,
     "pad_mode"),
    (lambda: melnet.feature.melspectrogram(y=noise(4000), norm=2), ValueError, "norm"),
    (lambda: melnet.feature.melspectrogram(y=noise(4000), fmax=30000.0), ValueError, "fmax"),
    (lambda: melnet.feature.melspectrogram(y=noise(100), center=False), ValueError, "shorter"),
    (lambda: melnet.feature.melspectrogram(y=np.zeros(0, np.float32)), ValueError, "empty"),
    (lambda: melnet.feature.melspectrogram(), ValueError, "Input signal"),
    (lambda: melnet.stft(noise(4000), n_fft=512, win_length=1024), ValueError, "win_length"),
    (lambda: melnet.istft(np.zeros((100, 10), np.complex64), n_fft=512), ValueError, "bins"),
    (lambda: melnet.power_to_db(np.ones(4), amin=0.0), ValueError, "amin"),
    (lambda: melnet.feature.inverse.mel_to_audio(-np.ones((128, 10))), ValueError, "negative"),
    (lambda: melnet.feature.inverse.mel_to_audio(np.ones((128, 10)), phase="magic"), ValueError,
     "phase"),
    (lambda: melnet.load("/nonexistent/file.wav"), OSError, "file.wav"),
    (lambda: melnet.load(__file__), OSError, "decode"),
    (lambda: melnet.load(SPEECH, mono=False), ValueError, "mono"),
])
def test_bad_arguments_raise_python_errors_not_panics(call, error, needle):
    with pytest.raises(error) as info:
        call()
    assert needle in str(info.value)
    assert type(info.value).__name__ != "PanicException"


def test_the_readme_example_runs():
    readme = (ROOT / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    cwd = pathlib.Path.cwd()
    os.chdir(ROOT)
    try:
        scope = {}
        exec(example, scope)
    finally:
        os.chdir(cwd)
    assert scope["M"].shape[0] == 80 and scope["audio"].dtype == np.float32
