#!/usr/bin/env bash
# Runs lamina._cuda's GPU tests without a GPU: builds csrc/cuda and the CUDA bindings with g++
# against the CPU stand-in for CUDA in tools/cuda_emu (into build/cuda_emu, incrementally), then
# runs tests/test_cuda.py and tests/test_cuda_rnn.py with the emulated module and a numpy-backed
# cupy. Extra arguments go to pytest: tools/cuda_emu/run.sh -k gemm -x
# Needs g++, make, and a python3 with numpy, pytest and pybind11 (the dev venv), plus what
# tools/devbuild.sh needs when python/lamina has no lamina._cpu yet. PYTHON picks another
# interpreter, LAMINA_CUDA_EMU_THREADS the OS threads running blocks (default: one per core).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
build="$root/build/cuda_emu"
suffix=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')

make -C "$root/tools/cuda_emu" -j"$(nproc)" --no-print-directory ROOT="$root" BUILD="$build" \
  PY_INCLUDES="$("$python" -m pybind11 --includes)" EXT_SUFFIX="$suffix"

# The tests compare with lamina._cpu: the working tree's (python/lamina, as `PYTHONPATH=python
# pytest` uses) when tools/devbuild.sh built one there, else an installed lamina (CI's
# `pip install .`), else the working tree's, built now (a fresh clone).
cd "$root"
tree="$root/python"
if ! compgen -G "$tree/lamina/_cpu*.so" >/dev/null; then
  if "$python" -c 'import lamina._cpu' 2>/dev/null; then
    tree=""
  else
    echo "cuda_emu: no lamina._cpu in python/lamina yet, building it with tools/devbuild.sh" >&2
    "$root/tools/devbuild.sh"
  fi
fi
export LAMINA_CUDA_EMU_MODULE="$build/_cuda$suffix"
export PYTHONPATH="$root/tools/cuda_emu/python${tree:+:$tree}${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m pytest -p lamina_cuda_emu tests/test_cuda.py tests/test_cuda_rnn.py "$@"
