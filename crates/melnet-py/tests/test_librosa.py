"""melnet against librosa 0.11 on random and real signals, batch shapes, memory layouts and
errors. Tolerances as the Rust golden tests: relative 1e-5 of the peak for spectrograms."""

import json
import os
import pathlib
import pickle
import subprocess

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


def sc_db(y, out, n_fft=1024, hop=256):
    a = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    b = np.abs(librosa.stft(out[: len(y)], n_fft=n_fft, hop_length=hop))
    return 20 * np.log10(np.linalg.norm(a - b) / np.linalg.norm(a))


def test_phase_retrieval_beats_librosa_griffinlim(speech):
    y = speech[0]
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=256))
    theirs = sc_db(y, librosa.griffinlim(S, n_iter=32, hop_length=256, length=len(y),
                                         random_state=0))
    fgla = melnet.griffinlim(S, n_iter=32, hop_length=256, length=len(y), random_state=0)
    assert fgla.shape == y.shape
    assert sc_db(y, fgla) < theirs
    gla = melnet.griffinlim(S, n_iter=32, hop_length=256, length=len(y), momentum=0.0)
    assert sc_db(y, fgla) < sc_db(y, gla)  # momentum helps
    assert sc_db(y, melnet.pghi(S, hop_length=256, n_iter=32, length=len(y))) < -24
    assert sc_db(y, melnet.lws(S, hop_length=256, length=len(y))) < -24
    seeded = melnet.griffinlim(S, n_iter=4, hop_length=256, random_state=3)
    np.testing.assert_array_equal(
        seeded, melnet.griffinlim(S, n_iter=4, hop_length=256, random_state=3))


def test_mel_to_stft_fits_the_mel_spectrogram_better_than_librosa(speech):
    y, sr = speech
    M = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=256, n_mels=80)
    W = librosa.filters.mel(sr=sr, n_fft=1024, n_mels=80)
    ours = melnet.feature.inverse.mel_to_stft(M, sr=sr, n_fft=1024)
    theirs = librosa.feature.inverse.mel_to_stft(M, sr=sr, n_fft=1024)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    fit = lambda S: np.linalg.norm(W @ S ** 2 - M) / np.linalg.norm(M)  # noqa: E731
    assert fit(ours) < fit(theirs), (fit(ours), fit(theirs))


def test_metrics_follow_their_definitions(speech):
    y = speech[0]
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=256)).astype(np.float32)
    noisy = S * np.float32(1.1)
    expected = 20 * np.log10(np.linalg.norm(S - noisy) / np.linalg.norm(S))
    assert abs(melnet.metrics.spectral_convergence(S, noisy) - expected) < 1e-3
    # A uniform gain of 1.1 in magnitude is 20·log10(1.1) dB in every bin above the floor.
    assert abs(melnet.metrics.log_spectral_distance(S, noisy) - 20 * np.log10(1.1)) < 0.05


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    binary = ROOT / "target" / "release" / "melnet"
    if not binary.exists():
        pytest.fail(f"{binary} missing: scripts/test builds it with cargo test first")
    subprocess.run([str(binary), "prepare", str(ROOT / "data" / "speech"), "-o", str(out),
                    "--preset", "speech", "--db", "--valid-fraction", "0.25", "-q"], check=True)
    return out


def test_mel_dataset_reads_windows_and_statistics(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    ds = melnet.data.MelDataset(dataset, frames=64, normalization="none")
    n_mels = manifest["n_mels"]
    items = [i for i in manifest["items"] if i["split"] == "train"]
    assert len(ds) == sum((i["frames"][1] - i["frames"][0]) // 64 for i in items)
    frames = np.load(dataset / "frames.npy")
    first = items[0]["frames"][0]
    np.testing.assert_array_equal(ds[0], frames[first:first + 64].T)
    assert ds[0].shape == (n_mels, 64) and ds[0].dtype == np.float32
    np.testing.assert_array_equal(ds[-1], ds[len(ds) - 1])
    assert ds.stats == manifest["stats"]
    std = melnet.data.MelDataset(dataset, frames=64)
    mean, sd = manifest["stats"]["all"]["mean"], manifest["stats"]["all"]["std"]
    np.testing.assert_allclose(std[0], (ds[0] - mean) / sd, rtol=1e-5, atol=1e-5)
    assert len(melnet.data.MelDataset(dataset, frames=64, split="valid", hop=16)) > 0
    clone = pickle.loads(pickle.dumps(std))
    np.testing.assert_array_equal(clone[3], std[3])
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(ValueError, match="split"):
        melnet.data.MelDataset(dataset, frames=64, split="test")
    with pytest.raises(ValueError, match="normalization"):
        melnet.data.MelDataset(dataset, frames=64, normalization="zscore")
    with pytest.raises(ValueError, match="frames"):
        melnet.data.MelDataset(dataset, frames=100000)
    with pytest.raises(OSError):
        melnet.data.MelDataset(dataset / "missing", frames=64)


def test_mel_dataset_in_a_torch_dataloader(dataset):
    torch = pytest.importorskip("torch")
    ds = melnet.data.MelDataset(dataset, frames=32)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)
    batch = next(iter(loader))
    assert tuple(batch.shape) == (4, ds[0].shape[0], 32)


def test_mel_dataset_with_category_labels(dataset, tmp_path):
    binary = ROOT / "target" / "release" / "melnet"
    speech = ROOT / "data" / "speech"
    files = sorted(p.name for p in speech.iterdir() if p.suffix in (".wav", ".flac"))
    table = tmp_path / "labels.csv"
    # One class per file's first letter: a category column.
    table.write_text("file,initial\n" + "".join(f"{f},{f[0]}\n" for f in files))
    out = tmp_path / "ds"
    subprocess.run([str(binary), "prepare", str(speech), "-o", str(out), "--preset", "speech",
                    "--db", "--valid-fraction", "0.25", "--labels", str(table), "-q"], check=True)
    ds = melnet.data.MelDataset(out, frames=64, labels=True)
    classes = sorted({f[0] for f in files})
    assert ds.labels == {"kind": "category", "classes": classes,
                         "table_hash": ds.labels["table_hash"]}
    manifest = json.loads((out / "manifest.json").read_text())
    labels = np.load(out / "labels.npy")
    assert labels.shape == (len(manifest["items"]), 1)
    for i, item in enumerate(manifest["items"]):
        assert classes[int(labels[i, 0])] == item["path"][0]
    window, label = ds[0]
    first = next(i for i in manifest["items"] if i["split"] == "train")
    assert window.shape == (manifest["n_mels"], 64)
    assert classes[label] == first["path"][0]
    np.testing.assert_array_equal(window, melnet.data.MelDataset(out, frames=64)[0])
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[0][1] == label
    with pytest.raises(ValueError, match="no labels"):
        melnet.data.MelDataset(dataset, frames=64, labels=True)


def test_synth_renders_banks_as_the_cli_does(tmp_path):
    import soundfile as sf
    binary = ROOT / "target" / "release" / "melnet"
    bank = tmp_path / "example.syx"
    subprocess.run([str(binary), "synth", "example-bank", "-o", str(bank)], check=True,
                   capture_output=True)
    voices = melnet.synth.load_bank(bank)
    assert voices.shape == (32, 155) and voices.dtype == np.uint8
    params = melnet.synth.params()
    assert len(params) == 155 and sum(p["learnable"] for p in params) == 144
    assert params[134]["name"] == "algorithm" and list(voices[:, 134]) == list(range(32))
    norm = melnet.synth.normalise(voices)
    assert norm.dtype == np.float32 and 0 <= norm.min() and norm.max() <= 1
    kwargs = dict(sr=8000, seconds=0.5, note_seconds=0.3)
    batch = melnet.synth.render(voices[:4], **kwargs)
    assert batch.shape == (4, 4000) and batch.dtype == np.float32
    np.testing.assert_array_equal(melnet.synth.render(voices[2], **kwargs), batch[2])
    # The CLI's float output at the engine's scale is the same samples.
    out = tmp_path / "render"
    subprocess.run([str(binary), "synth", "render", str(bank), "-o", str(out), "--sr", "8000",
                    "--seconds", "0.5", "--note-seconds", "0.3", "--float", "--gain", "1", "-q"],
                   check=True, capture_output=True)
    y, sr = sf.read(out / "audio" / "00003.wav", dtype="float32")
    np.testing.assert_array_equal(y, batch[3])
    labels = np.loadtxt(out / "labels.csv", delimiter=",", skiprows=1, usecols=range(1, 145))
    learnable = [i for i, p in enumerate(params) if p["learnable"]]
    np.testing.assert_allclose(labels[:32], norm[:, learnable], atol=1e-6)
    bad = voices[0].copy()
    bad[16] = 100  # operator 6 output level
    with pytest.raises(ValueError, match="op6_output_level = 100"):
        melnet.synth.render(bad, **kwargs)
    with pytest.raises(ValueError, match="shape"):
        melnet.synth.render(voices[:, :100], **kwargs)
    with pytest.raises(ValueError, match="sr"):
        melnet.synth.render(voices[0], sr=0)
    with pytest.raises(OSError):
        melnet.synth.load_bank(tmp_path / "missing.syx")
    (tmp_path / "notes.txt").write_text("not a bank")
    with pytest.raises(ValueError, match="not DX7 voice data"):
        melnet.synth.load_bank(tmp_path / "notes.txt")
