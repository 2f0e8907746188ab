#!/usr/bin/env bash
# Creates the virtual environment neural-tangents runs in for benchmarks/ntk.py:
# .venv-nt at the repository root (override with NT_VENV), jax 0.4.25 + neural-tangents 0.6.5.
# Prints the path of its python. Idempotent: reinstalls only when requirements-nt.txt changes.
#
#   bash benchmarks/nt_env.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${NT_VENV:-$root/.venv-nt}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || [ "$root/benchmarks/requirements-nt.txt" -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet -r "$root/benchmarks/requirements-nt.txt"
  "$venv/bin/python" -m pip install --quiet --no-deps neural-tangents==0.6.5
  touch "$stamp"
fi
echo "$venv/bin/python"
