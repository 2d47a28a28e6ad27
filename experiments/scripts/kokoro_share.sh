#!/usr/bin/env bash
# Issue 20: the share of Kokoro clips among a text-only word's synthetic clips, measured on the
# speech-embedding head (the shipped detector of the word unchanged; only the head's positives and
# synthetic negatives change).  One run per (share, seed); each writes runs/kshare/WORD-sSHARE-SEED/
# head-summary.json with every stage scored on dev.  Synthesis is cached per clip
# (~/.cache/kws/tts), so only the first seed of a share synthesises.
#   bash experiments/scripts/kokoro_share.sh voyager "0.5 0 0.9" "1234 2001 3001"
# A fourth argument is more --set KEY=VALUE for every run (space-separated; later ones win), a fifth
# the tag its folders end with:
#   bash experiments/scripts/kokoro_share.sh voyager 0.9 "1234 2001 3001" head.synthetic_negatives=false -nosynneg
#   bash experiments/scripts/kokoro_share.sh voyager 0.9 "1234 2001 3001" "head.augmentations=[none,reverb_noise,telephone] head.modes=[cascade]" -aug
#   bash experiments/scripts/kokoro_share.sh voyager 0.9 "1234 2001 3001" "head.modes=[cascade] tts_screen=true" -screen
# MODEL picks the detector the head is added to (default models/WORD.onnx; a word that ships none,
# such as onword, names an experiment's):
#   MODEL=experiments/models/onword-onward.onnx bash experiments/scripts/kokoro_share.sh onword 0.9 "1234 2001 3001" head.synthetic_negatives=false -nosyn
# CONFIG picks the training config (default configs/train-WORD-text.yaml), e.g. alexa from
# recordings plus synthetic clips:
#   CONFIG=configs/train-alexa.yaml bash experiments/scripts/kokoro_share.sh alexa 0.9 "1234 2001 3001" head.synthetic_negatives=false -k09
set -euo pipefail
word=$1; model=${MODEL:-models/$word.onnx}; config=${CONFIG:-configs/train-$word-text.yaml}; shares=${2:-"0.5 0 0.9"}; seeds=${3:-"1234 2001 3001"}; extra=${4:-}; tag=${5:-}
sets=()
read -ra kvs <<< "$extra"  # read, not $extra unquoted: "[none,telephone]" would be a glob
for kv in ${kvs[@]+"${kvs[@]}"}; do sets+=(--set "$kv"); done
for seed in $seeds; do
  for share in $shares; do
    d=runs/kshare/$word-s$share-$seed$tag
    [ -f "$d/head-summary.json" ] && continue
    mkdir -p "$d"
    cp "$model" "$d/$word.onnx"
    cp "${model%.onnx}.json" "$d/$word.json"
    echo "== $word share=$share seed=$seed $(date -u +%T)"
    python -m kws.train.head "$config" --model "$d/$word.onnx" \
      --set work_dir="$d" --set kokoro.share="$share" --set fit.seed="$seed" \
      --set 'head.augmentations=[none]' ${sets[@]+"${sets[@]}"} > "$d/log.txt" 2>&1
    grep -E "clip cache|dev (gru|head|cascade)|chose" "$d/log.txt" || true
  done
done
