#!/usr/bin/env bash
# Benchmark harness: sets up a Python venv with librosa and torch/torchaudio (CPU) if missing,
# builds melnet in release mode, then runs the comparisons side by side in one run.
#   bench/run.sh            all benchmarks
#   bench/run.sh mel        mel-spectrogram analysis only
#   bench/run.sh invert     mel inversion and phase retrieval only
#   bench/run.sh python     the Python package in-process vs librosa / torchaudio
#   bench/run.sh prepare    dataset preparation only
#   bench/run.sh nll        the PyTorch tier computes melnet's NLL on shared weights (1e-4)
#   bench/run.sh model      the same check, then MelNet training throughput vs PyTorch
#   bench/run.sh sample     MelNet sampling: incremental vs naive
#   bench/run.sh multiscale MelNet NLL: one tier vs 2 and 3 tiers at equal training time
#   bench/run.sh dx7        DX7 engine vs dexed-py (fidelity, speed) and 30,000 voices → dataset
#   bench/run.sh tts        English TTS: WER of flite, inverted flite and the model per speaker
#                           (needs scripts/recipes/tts-en.sh's output in RECIPE, default out/tts-en;
#                           not part of `all`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="$here/.venv"
# Exact versions from the default package index (the only one these machines reach); torch
# and torchaudio must be a matching pair (a mismatched one fails with an undefined symbol).
PY_PACKAGES="numpy==2.2.6 librosa==0.11.0 soundfile==0.13.1 torch==2.11.0 torchaudio==2.11.0"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import librosa, torch, torchaudio" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q $PY_PACKAGES
fi
(cd "$root" && cargo build --release -q -p melnet-cli && cargo build --release -q -p melspec --example mel_timing && cargo build --release -q -p melnet --example train_throughput --example sample_throughput --example tier_nll)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
what="${1:-all}"
if [ "$what" = all ] || [ "$what" = mel ]; then
  "$venv/bin/python" "$here/mel.py" --root "$root"
fi
if [ "$what" = all ] || [ "$what" = invert ]; then
  "$venv/bin/python" -c "import pesq, pystoi" 2>/dev/null || "$venv/bin/pip" install -q pesq==0.0.4 pystoi==0.4.1
  # PyPI lws 1.2.8 (Apache-2.0) builds on Python 3.11 only from its Cython source.
  if ! "$venv/bin/python" -c "import lws" 2>/dev/null; then
    "$venv/bin/pip" install -q Cython==3.0.11 wheel==0.45.1 setuptools==65.5.0
    LWS_USE_CYTHON=1 "$venv/bin/pip" install -q --no-build-isolation --no-binary lws lws==1.2.8
  fi
  "$venv/bin/python" "$here/invert.py" --root "$root"
fi
if [ "$what" = all ] || [ "$what" = python ]; then
  "$venv/bin/python" -c "import pesq" 2>/dev/null || "$venv/bin/pip" install -q pesq==0.0.4
  "$venv/bin/pip" install -q --force-reinstall --no-deps "$root/crates/melnet-py"
  for threads in 1 2; do
    "$venv/bin/python" "$here/python.py" --root "$root" --threads "$threads"
  done
fi
if [ "$what" = all ] || [ "$what" = prepare ]; then
  "$venv/bin/python" "$here/prepare.py" --root "$root"
fi
if [ "$what" = all ] || [ "$what" = model ] || [ "$what" = nll ]; then
  # The PyTorch tier computes melnet's function (per-element NLL on shared weights).
  "$venv/bin/python" "$here/nll_check.py" --root "$root"
fi
if [ "$what" = all ] || [ "$what" = model ]; then
  "$venv/bin/python" "$here/model.py" --root "$root"
fi
if [ "$what" = all ] || [ "$what" = sample ]; then
  "$venv/bin/python" "$here/sample.py" --root "$root"
fi
if [ "$what" = all ] || [ "$what" = multiscale ]; then
  "$venv/bin/python" "$here/multiscale.py" --root "$root"
fi
if [ "$what" = all ] || [ "$what" = dx7 ]; then
  # dexed-py 0.3.0 (GPL-3.0-or-later), the engine Dexed uses; hexter's banks are fetched by dx7.py.
  "$venv/bin/python" -c "import dexed" 2>/dev/null || "$venv/bin/pip" install -q dexed-py==0.3.0
  "$venv/bin/python" "$here/dx7.py" --root "$root"
fi
if [ "$what" = tts ]; then
  # pocketsphinx 5.1.1 (BSD-2-clause) with its bundled US English model.
  "$venv/bin/python" -c "import pocketsphinx" 2>/dev/null || "$venv/bin/pip" install -q pocketsphinx==5.1.1
  "$venv/bin/python" "$here/tts.py" --root "$root" --recipe "${RECIPE:-$root/out/tts-en}" ${TTS_ARGS:-}
fi
