#!/usr/bin/env bash
# kws on 64-bit ARM (Raspberry Pi OS / Debian bookworm arm64), emulated on an x86_64 host.
#
# Builds a Debian bookworm arm64 root file system with debootstrap, runs it under qemu-user-static
# (binfmt_misc), installs the kws wheel built from this checkout plus its aarch64 dependency
# wheels from PyPI, and runs inside it:
#   kws --version
#   kws detect <packaged sample>
#   kws listen --raw-stdin   fed the packaged sample as raw 16-bit PCM
#
# NOT RUN BY CI: it needs root, debootstrap, qemu-user-static, binfmt_misc and network access to a
# Debian mirror and to a Python package index, and takes tens of minutes (bench/RESULTS.md,
# "aarch64 under qemu", records a run and how long it took).  Emulated speed says nothing about a
# real Raspberry Pi; this shows that the wheels install and the engine runs on aarch64, no more.
#
# Usage (as root, from the repository root):
#   apt-get update && apt-get install -y debootstrap qemu-user-static binfmt-support
#   bash bench/aarch64.sh                       # mirror taken from this machine's apt sources
#   MIRROR=http://<your-debian-mirror>/debian bash bench/aarch64.sh
# Environment:
#   MIRROR   Debian mirror for debootstrap (default: the first bookworm URI in /etc/apt/sources.list
#            or /etc/apt/sources.list.d/*; no host name is written here)
#   WORK     work folder (default /var/tmp/kws-aarch64); the root file system is $WORK/rootfs
#   PYTHON   host python used to build the kws wheel and download wheels (default python3)
#   KEEP=1   keep an existing $WORK/rootfs instead of rebuilding it
set -euo pipefail

SUITE=bookworm
PYVER=3.11  # bookworm's python3
WORK=${WORK:-/var/tmp/kws-aarch64}
PYTHON=${PYTHON:-python3}
ROOTFS="$WORK/rootfs"
REPO=$(cd "$(dirname "$0")/.." && pwd)
T0=$(date +%s)

say() { printf '[aarch64 %4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install -y debootstrap"
QEMU=$(command -v qemu-aarch64-static) || die "qemu-aarch64-static missing: apt-get install -y qemu-user-static binfmt-support"

# --- the Debian mirror: given, or this machine's own apt sources --------------------------------
mirror_from_apt_sources() {
  local f
  # deb822 .sources files: a stanza with "Suites: bookworm ..." and its "URIs:"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri=""; ok=0; next }
      /^URIs:/   { uri=$2 }
      /^Suites:/ { for (i=2; i<=NF; i++) if ($i == suite) ok=1 }
      END        { if (uri != "" && ok) print uri }' "$f" | head -n1
  done
  # one-line format: deb [opts] URI bookworm main
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '$1 == "deb" { for (i=2; i<=NF; i++) if ($i == suite) { print $(i-1); exit } }' "$f"
  done
}
MIRROR=${MIRROR:-$(mirror_from_apt_sources | head -n1)}
[ -n "$MIRROR" ] || die "no $SUITE mirror found in the apt sources; pass MIRROR=http://.../debian"
say "mirror: $MIRROR (suite $SUITE, arch arm64)"

# --- binfmt_misc: the kernel runs aarch64 ELF files through qemu --------------------------------
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && command -v update-binfmts >/dev/null; then
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  say "binfmt_misc: qemu-aarch64 registered ($(grep -m1 flags /proc/sys/fs/binfmt_misc/qemu-aarch64))"
else
  die "binfmt_misc has no qemu-aarch64 entry (a container without binfmt_misc cannot run a foreign chroot: dpkg's maintainer scripts exec aarch64 programs)"
fi

mkdir -p "$WORK"

# --- wheels, on the host: kws from this checkout, its dependencies for cp311 aarch64 ------------
WHEELS="$WORK/wheels"
rm -rf "$WHEELS"; mkdir -p "$WHEELS"
say "building the kws wheel from $REPO"
"$PYTHON" -m pip wheel -q --no-deps -w "$WHEELS" "$REPO"
KWS_WHEEL=$(ls "$WHEELS"/kws-*.whl)
say "kws wheel: $(basename "$KWS_WHEEL") ($(du -k "$KWS_WHEEL" | cut -f1) KiB)"
DEPS=$("$PYTHON" - "$REPO/pyproject.toml" <<'EOF'
import sys, tomllib
print(" ".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))
EOF
)
PLATFORMS=()
for minor in $(seq 17 36); do PLATFORMS+=(--platform "manylinux_2_${minor}_aarch64"); done  # glibc 2.36 = bookworm
PLATFORMS+=(--platform manylinux2014_aarch64 --platform linux_aarch64)
say "downloading aarch64 wheels: $DEPS"
# shellcheck disable=SC2086
"$PYTHON" -m pip download -q --only-binary=:all: --python-version "$PYVER" --implementation cp \
  --abi "cp${PYVER/./}" "${PLATFORMS[@]}" -d "$WHEELS" $DEPS
ls "$WHEELS"

# --- the root file system -----------------------------------------------------------------------
if [ "${KEEP:-0}" = 1 ] && [ -x "$ROOTFS/usr/bin/python3" ]; then
  say "keeping $ROOTFS"
else
  rm -rf "$ROOTFS"
  say "debootstrap --foreign (first stage, on the host)"
  # libportaudio2: sounddevice's PortAudio (apt install libportaudio2 on a Pi as well)
  debootstrap --foreign --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,libportaudio2 "$SUITE" "$ROOTFS" "$MIRROR"
  cp "$QEMU" "$ROOTFS/usr/bin/"  # for kernels whose binfmt entry lacks the F (fix-binary) flag
  say "debootstrap --second-stage (in the arm64 chroot, under qemu)"
  chroot "$ROOTFS" /debootstrap/debootstrap --second-stage
fi
say "chroot: $(chroot "$ROOTFS" uname -m), $(chroot "$ROOTFS" python3 --version), $(chroot "$ROOTFS" sh -c '. /etc/os-release; echo $PRETTY_NAME')"

# --- install kws in a venv inside the chroot, from the downloaded wheels only -------------------
rm -rf "$ROOTFS/wheels"; cp -r "$WHEELS" "$ROOTFS/wheels"
say "pip install (no index) in the chroot"
chroot "$ROOTFS" sh -c 'rm -rf /opt/kws && python3 -m venv /opt/kws &&
  /opt/kws/bin/pip install -q --no-index --find-links /wheels /wheels/'"$(basename "$KWS_WHEEL")"
chroot "$ROOTFS" /opt/kws/bin/pip list 2>/dev/null | grep -Ei '^(kws|numpy|onnxruntime|soxr|soundfile|sounddevice) '

run() { say "\$ $*"; local t=$(date +%s); chroot "$ROOTFS" sh -c "$*"; say "  ($(( $(date +%s) - t )) s)"; }
SAMPLE='$(/opt/kws/bin/python -c "import kws, pathlib; print(pathlib.Path(kws.__file__).parent / \"samples\" / \"alexa.flac\")")'
run "/opt/kws/bin/python -c 'import platform, onnxruntime, numpy; print(platform.machine(), \"onnxruntime\", onnxruntime.__version__, \"numpy\", numpy.__version__)'"
run "/opt/kws/bin/kws --version"
run "/opt/kws/bin/kws detect $SAMPLE"
# the sample as raw s16le PCM at its own rate, piped to `kws listen --raw-stdin`
run "/opt/kws/bin/python -c 'import soundfile as sf, sys; d, r = sf.read(sys.argv[1], dtype=\"int16\"); print(r, len(d), file=sys.stderr); sys.stdout.buffer.write(d.tobytes())' $SAMPLE > /tmp/sample.s16le"
RATE=$(chroot "$ROOTFS" sh -c "/opt/kws/bin/python -c 'import soundfile as sf, sys; print(sf.info(sys.argv[1]).samplerate)' $SAMPLE")
run "/opt/kws/bin/kws listen --raw-stdin --rate $RATE --format s16le --channels 1 < /tmp/sample.s16le"
say "done in $(( $(date +%s) - T0 )) s"
