#!/usr/bin/env bash
# Runs a benchmark (sampling by default) in its own virtual environment (.venv-bench at the repository root),
# with jaxbias installed editable plus the peers of benchmarks/requirements.txt (PyTorch).
#
#   bash benchmarks/run.sh                 # full CPU run (about 10 minutes on 2 cores)
#   bash benchmarks/run.sh --quick         # smoke run, under a minute once the venv exists
#   bash benchmarks/run.sh --json out.json # also write the figures as JSON
#   BENCH_GPU=1 bash benchmarks/run.sh --gpu   # installs jax[cuda12] too, larger n
#   BENCH_SCRIPT=redshift bash benchmarks/run.sh   # another script: redshift, boolean_prior, igb, ntk
#
# Every script runs as a module from the repository root: python -m benchmarks.NAME.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${BENCH_VENV:-$root/.venv-bench}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ benchmarks/requirements.txt -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet -e . -r benchmarks/requirements.txt
  touch "$stamp"
fi
if [ "${BENCH_GPU:-0}" = "1" ]; then
  "$venv/bin/python" -m pip install --quiet -e ".[gpu]"
fi
exec "$venv/bin/python" -m "benchmarks.${BENCH_SCRIPT:-sampling}" "$@"
