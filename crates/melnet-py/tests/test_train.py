"""melnet.train, Model.sample and Model.nll against the `melnet` program on the same model."""

import pathlib
import subprocess

import numpy as np
import pytest

import melnet

ROOT = pathlib.Path(__file__).resolve().parents[3]
BINARY = ROOT / "target" / "release" / "melnet"
SMALL = dict(layers=1, width=8, n_mixtures=2, batch=2, valid_every=1, checkpoint_every=1)


def run(*args):
    if not BINARY.exists():
        pytest.fail(f"{BINARY} missing: scripts/test builds it with cargo test first")
    return subprocess.run([str(BINARY), *map(str, args)], check=True, capture_output=True,
                          text=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    run("prepare", ROOT / "data" / "speech", "-o", out, "--preset", "melnet-small",
        "--n-mels", "16", "--db", "--valid-fraction", "0.25", "-q")
    return out


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    model = tmp_path_factory.mktemp("m") / "model"
    seen = []
    done = melnet.train(dataset, model, tiers=2, frames=16, steps=2, progress=lambda *a:
                        seen.append(a), **SMALL)
    return model, done, seen


def test_train_makes_and_trains_every_tier(trained):
    model, done, seen = trained
    assert [(t.tier, t.step, t.end) for t in done] == [(1, 2, "finished"), (2, 2, "finished")]
    assert all(np.isfinite(t.valid) and t.parameters > 0 for t in done)
    assert [(tier, step) for tier, step, _, _ in seen] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert (model / "model.json").is_file() and (model / "tier-2" / "log.csv").is_file()


def test_train_refuses_what_does_not_fit(dataset, trained, tmp_path):
    model, _, _ = trained
    with pytest.raises(ValueError, match="tier 1 exists"):
        melnet.train(dataset, model, steps=3, **SMALL)
    with pytest.raises(ValueError, match="tiers 1 to 2"):
        melnet.train(dataset, model, tier=3, resume="always", steps=3)
    with pytest.raises(ValueError, match="no model to resume"):
        melnet.train(dataset, tmp_path / "none", resume="always")
    assert not (tmp_path / "none").exists()
    with pytest.raises(ValueError, match="clip_grad"):
        melnet.train(dataset, tmp_path / "bad", clip_grad=-1.0)
    with pytest.raises(ValueError, match="optimizer"):
        melnet.train(dataset, tmp_path / "bad", optimizer="sgd")
    with pytest.raises(ValueError, match="resume"):
        melnet.train(dataset, tmp_path / "bad", resume="sometimes")
    with pytest.raises(ValueError, match="minutes"):
        melnet.train(dataset, tmp_path / "bad", minutes=1e300)
    with pytest.raises(ValueError, match="callable"):
        melnet.train(dataset, tmp_path / "bad", progress=3)
    assert not (tmp_path / "bad").exists()


def test_an_exception_in_progress_stops_the_run_with_a_checkpoint(dataset, tmp_path):
    def stop(tier, step, loss, valid):
        raise KeyError("enough")

    with pytest.raises(KeyError, match="enough"):
        melnet.train(dataset, tmp_path / "m", steps=50, progress=stop, **SMALL)
    state = (tmp_path / "m" / "tier-1" / "current").read_text().strip()
    assert state  # the checkpoint the stop wrote; resuming continues from it
    done = melnet.train(dataset, tmp_path / "m", resume="always", steps=3)
    assert done[0].step == 3


def test_sample_draws_what_the_program_draws(trained, tmp_path):
    model, _, _ = trained
    m = melnet.Model(model)
    drawn = m.sample(seconds=0.5, count=2, seed=7)
    assert len(drawn) == 2
    for s in drawn:
        assert s.mel.shape[0] == 16 and s.mel.dtype == np.float32
        assert s.audio.ndim == 1 and np.isfinite(s.audio).all()
    run("sample", "--model", model, "--seconds", "0.5", "--count", "2", "--seed", "7",
        "-o", tmp_path / "s.wav", "-q")
    for i, s in enumerate(drawn):
        np.testing.assert_array_equal(np.load(tmp_path / f"s-{i + 1}.npy"), s.mel)
    again = m.sample(seconds=0.5, count=2, seed=7)
    np.testing.assert_array_equal(again[1].audio, drawn[1].audio)
    with pytest.raises(ValueError, match="label"):
        m.sample(label="nobody")


def test_nll_scores_as_eval_does(trained, tmp_path):
    model, _, _ = trained
    m = melnet.Model(model)
    mel = m.sample(seconds=0.5, seed=3)[0].mel
    scored = m.nll(mel)
    assert len(scored.tiers) == 2 and scored.per_element.shape == mel.shape
    path = tmp_path / "x.npy"
    np.save(path, mel)
    out = run("eval", "--model", model, "--input", path).stdout
    full = float(out.split("full resolution: ")[1].split()[0])
    assert abs(full - scored.full) < 1e-3
    with pytest.raises(ValueError, match="mels"):
        m.nll(mel[:3])
