#!/usr/bin/env bash
# One-call check of lamina._cuda on a GPU machine: build, the GPU tests, compute-sanitizer
# (memcheck and racecheck) on a subset, and bench/gpu.py. Every log goes to $OUT (or
# build/gpu_check when OUT is unset); $OUT/summary.txt lists each step's status and time.
#
#   tools/gpu_check.sh                      # all steps
#   STEPS="build test" tools/gpu_check.sh   # some of: build test memcheck racecheck bench
#
# Settings (environment):
#   LAMINA_CUDA_ARCHS   architectures to compile (default "native": the GPU present, the fastest
#                       build, 90-real with CMake < 3.24; the release default builds five)
#   PYTEST_STOP         "--maxfail=40" by default, so that one run reports the failures of every
#                       family; "-x" stops at the first
#   T_BUILD T_TEST T_MEMCHECK T_RACECHECK T_BENCH   per-step time limits in seconds (defaults
#                       300 240 150 120 120: the whole script fits a 10-minute call when the
#                       build is incremental)
# Needs on the machine: the Python environment that builds lamina (cmake, ninja, pybind11,
# numpy, pytest) plus cupy; compute-sanitizer from the CUDA toolkit for the sanitizer steps.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="${OUT:-$root/build/gpu_check}"
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"
steps="${STEPS:-build test memcheck racecheck bench}"
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}

note() { echo "$*" | tee -a "$summary"; }

# run NAME LIMIT COMMAND...: runs COMMAND under `timeout LIMIT`, output to $out/NAME.log.
run() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  local status=ok
  [ $rc -eq 124 ] && status="TIMEOUT after ${limit}s"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && status="FAILED (exit $rc)"
  note "$(printf '%-10s %-22s %4ds  log: %s' "$name" "$status" $((SECONDS - start)) "$out/$name.log")"
  return $rc
}

want() { case " $steps " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

note "lamina gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 \
  | sed 's/^/gpu: /' | tee -a "$summary"
"$py" -c "import cupy; print('cupy', cupy.__version__)" 2>&1 | tail -1 | sed 's/^/env: /' \
  | tee -a "$summary"

if want build; then
  archs="${LAMINA_CUDA_ARCHS:-native}"
  cmake_version=$(cmake --version 2> /dev/null | awk 'NR == 1 {print $3}')
  if [ "$archs" = native ] && [ "$(printf '%s\n3.24\n' "$cmake_version" | sort -V | head -1)" != 3.24 ]; then
    archs=90-real  # CMake < 3.24 has no "native": build for Hopper (H100/H200)
  fi
  note "build: LAMINA_CUDA_ARCHS=$archs, cmake $cmake_version, into build/gpu_check_build"
  run build "${T_BUILD:-300}" env LAMINA_CUDA=ON LAMINA_BUILD_DIR="$root/build/gpu_check_build" \
    tools/devbuild.sh -DLAMINA_CUDA_ARCHS="$archs" || {
      note "build failed: see the log; nothing else runs"
      exit 1
    }
fi
"$py" -c "import lamina as L; print('lamina.cuda:', L.cuda.unavailable_reason() or 'available')
if L.cuda.is_available():
    from lamina import _cuda; print('device 0:', _cuda.device_info(0))" 2>&1 | tee -a "$summary"

if want test; then
  run test "${T_TEST:-240}" "$py" -m pytest -q -rfE ${PYTEST_STOP:---maxfail=40} \
    tests/test_cuda*.py tests/test_device.py
  grep -E "^(FAILED|ERROR)|passed|failed" "$out/test.log" | tail -45 | tee -a "$summary"
fi

# A subset that reaches every new kernel once, float32 only (the sanitizers run 10-100x slower).
subset='f32 and (
  (conv2d_forward_matches_cpu and relu and (2x9x8x4x3x2x6 or 2x6x7x4x3x3x8 or 1x5x6x3x3x3x2))
  or (conv2d_backward_matches_cpu and all and (2x9x8x4x3x2x6 or 2x6x7x4x3x3x8 or 1x5x6x3x3x3x2
      or 40x16x16x8x3x3x16))
  or (max_pool2d_matches_cpu and nan and 7x7x5) or (avg_pool2d_matches_cpu and 9x5x2)
  or (batchnorm_matches_cpu and 300-33 and gamma-beta)
  or (embedding_matches_cpu and i64 and shape1)
  or (ctc_loss_matches_cpu and i64 and inf and 4-50-40-20))
  or outside_its_window or out_of_range or convnet'
subset=${subset//$'\n'/ }  # pytest's -k wants one line
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer \
  /usr/local/cuda*/compute-sanitizer/compute-sanitizer 2> /dev/null | head -1)
sanitize() {  # sanitize TOOL LIMIT
  local tool=$1 limit=$2
  if [ -z "$sanitizer" ]; then
    note "$tool: compute-sanitizer not found (not on PATH nor under /usr/local/cuda*): skipped"
    return
  fi
  run "$tool" "$limit" "$sanitizer" --tool "$tool" --error-exitcode 99 \
    "$py" -m pytest -q -p no:cacheprovider tests/test_cuda.py -k "$subset"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Invalid|Race|Hazard|passed|failed" "$out/$tool.log" \
    | sort | uniq -c | sort -rn | head -12 | tee -a "$summary"
}
want memcheck && sanitize memcheck "${T_MEMCHECK:-150}"
want racecheck && sanitize racecheck "${T_RACECHECK:-120}"

if want bench; then
  run bench "${T_BENCH:-120}" "$py" bench/gpu.py --repeats 10 --steps 100
  cat "$out/bench.log" >> "$summary"
fi
note "done: $summary"
