#!/usr/bin/env bash
# The Python part of ./scripts/test: in a virtual environment (.venv at the repository root, or
# $ANGZARR_PYTHON_VENV), installs the pinned toolchain and the two packages (angzarr-client
# from clients/python, the example shop from examples/python; their protobuf code is generated
# as they are built), type-checks them with mypy --strict and runs their tests: the client's
# own, then every shared unit feature against the Python shop; then the end-to-end features
# against angzarr-standalone running the Python shop, and the order flows against the mixed one
# (`--no-e2e` leaves those out).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
venv="${ANGZARR_PYTHON_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "clients/python needs Python >= 3.11; $venv has $("$venv/bin/python" --version)" >&2
    exit 1
fi
pip() { "$venv/bin/python" -m pip --disable-pip-version-check -q "$@"; }
echo "== Python: install (${venv})"
pip install -r clients/python/requirements-dev.txt
pip install --no-build-isolation --no-deps --force-reinstall ./clients/python ./examples/python

mypy() { "$venv/bin/mypy" --strict --cache-dir "$venv/mypy-cache" "$@"; }
pytest() { "$venv/bin/python" -m pytest -p no:cacheprovider "$@"; }
echo "== Python: mypy --strict"
(cd clients/python && mypy -p angzarr && mypy tests)
(cd examples/python && mypy shop tests)
echo "== Python: tests"
(cd clients/python && pytest -q)
(cd examples/python && pytest -q)

if [ "${1:-}" = "--no-e2e" ]; then
    exit 0
fi
# End to end: the shared e2e features against angzarr-standalone running the Python shop
# (examples/python/angzarr.toml), and the order flow against the mixed one (examples/mixed.toml),
# through the Rust e2e runner (examples/rust/e2e, E2E_SHOP). The same cargo flags as
# ./scripts/test, so nothing is rebuilt after it. ANGZARR_* variables are manifest keys to the
# runtime, hence E2E_PYTHON_VENV. Two Python shops at a time, not three: each starts 16
# processes (~0.12 CPU-s each, mostly importing grpc), and 48 at once on a busy 2-core machine
# can take longer than the 30 s a runtime has to start.
echo "== Python: end to end"
e2e() { env -u ANGZARR_PYTHON_VENV E2E_PYTHON_VENV="$venv" E2E_SHOP="$1" \
    cargo test --workspace --all-features --locked --quiet --test e2e -- "${@:2}"; }
cargo build --workspace --bins --all-features --locked --quiet
e2e python --concurrency 2
e2e mixed --name '^(7|14|22|35|44) |CASCADE'
