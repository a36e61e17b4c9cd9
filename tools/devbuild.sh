#!/usr/bin/env bash
# Incremental developer build: compiles lamina._cpu (and _cuda when nvcc is found) into
# build/dev and drops the modules into python/lamina, so `PYTHONPATH=python pytest` tests the
# working tree without a pip install. Usage: tools/devbuild.sh [extra cmake -D options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${LAMINA_BUILD_DIR:-$root/build/dev}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DLAMINA_CUDA="${LAMINA_CUDA:-OFF}" "$@" >/dev/null
cmake --build "$build"
for so in "$build"/_cpu*.so "$build"/_cuda*.so; do
  [ -e "$so" ] && cp -f "$so" "$root/python/lamina/"
done
true
