#!/usr/bin/env bash
# CI of the bindings, from a clean checkout: installs what is missing (the
# wasm target, wasm-bindgen-cli of the crate's version, binaryen from npm,
# chromium from apt, a venv with maturin and pytest), builds both
# packages, and runs the Node tests, the browser demo test (screenshot in
# target/bindings-demo.png) and pytest. Prints how long each step took.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
timings=()
step() {
  local name=$1; shift
  echo "=== $name"
  local t0=$SECONDS
  "$@"
  timings+=("$(printf '%-28s %4ds' "$name" $((SECONDS - t0)))")
}

# The wasm-bindgen CLI must match the crate exactly (Cargo.lock).
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

install_tools() {
  rustup target add wasm32-unknown-unknown
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$wb_version"; then
    # Not --locked: its lock file names a webpki-roots release that
    # crates.io no longer serves (0.2.130).
    cargo install wasm-bindgen-cli --version "$wb_version"
  fi
  if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium;
    else sudo apt-get update && sudo apt-get install -y chromium; fi
  fi
  (cd bindings/js && npm ci --no-audit --no-fund)
  if [ ! -x "$CARGO_TARGET_DIR/venv/bin/maturin" ]; then
    python3 -m venv "$CARGO_TARGET_DIR/venv"
    "$CARGO_TARGET_DIR/venv/bin/pip" install -q "maturin>=1.5,<2" pytest
  fi
}

build_python() {
  # maturin develop installs into the active venv.
  (source "$CARGO_TARGET_DIR/venv/bin/activate" && cd bindings/python && maturin develop --release)
}

run_pytest() {
  "$CARGO_TARGET_DIR/venv/bin/python" -m pytest -q bindings/python/tests
  "$CARGO_TARGET_DIR/venv/bin/python" bindings/python/examples/two_people.py
}

step "install tools" install_tools
step "build js (wasm, glue)" bash bindings/js/build.sh
step "node tests" node --test bindings/js/test/
step "browser demo (chromium)" node bindings/js/demo/test.js
step "build python (maturin)" build_python
step "pytest + example" run_pytest

echo
echo "=== timings"
printf '%s\n' "${timings[@]}"
