#!/usr/bin/env bash
# Builds the npm package into bindings/js/pkg/: the wasm (profile
# wasm-release), the JS glue and .d.ts for Node (CommonJS, pkg/node/) and
# for browsers (ES module, pkg/web/), then shrinks the wasm with wasm-opt
# if binaryen is installed (npm `binaryen`, in bindings/js/node_modules).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
# WASM_PROFILE=wasm-fast (opt-level 3, wasm-opt -O3) and PKG=<dir> build the
# speed variant elsewhere, to measure what the size options cost.
profile=${WASM_PROFILE:-wasm-release}
pkg=${PKG:-$here/pkg}
cd "$root"
cargo build -p cliquet-js --target wasm32-unknown-unknown --profile "$profile"
wasm="$target/wasm32-unknown-unknown/$profile/cliquet_js.wasm"
rm -rf "$pkg"
wasm-bindgen --target nodejs --out-dir "$pkg/node" "$wasm"
wasm-bindgen --target web --out-dir "$pkg/web" "$wasm"
opt=""
if [ -x "$here/node_modules/.bin/wasm-opt" ]; then opt="$here/node_modules/.bin/wasm-opt";
elif command -v wasm-opt >/dev/null; then opt=wasm-opt; fi
if [ -n "$opt" ] && [ "${CLIQUET_NO_WASM_OPT:-}" = "" ]; then
  level=-Oz
  [ "$profile" = wasm-release ] || level=-O3
  for f in "$pkg"/node/cliquet_js_bg.wasm "$pkg"/web/cliquet_js_bg.wasm; do
    # The features rustc's wasm32 target enables by default.
    "$opt" "$level" --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-multivalue \
      --enable-reference-types "$f" -o "$f"
  done
elif [ -z "$opt" ]; then
  echo "wasm-opt not found (npm ci in bindings/js): the wasm stays as wasm-bindgen wrote it" >&2
fi
cp "$here/package.template.json" "$pkg/package.json"
cp "$here/README.md" "$pkg/README.md"
raw=$(wc -c < "$pkg/web/cliquet_js_bg.wasm")
gz=$(gzip -9 -c "$pkg/web/cliquet_js_bg.wasm" | wc -c)
glue=$(gzip -9 -c "$pkg/web/cliquet_js.js" | wc -c)
echo "cliquet_js_bg.wasm: $raw bytes raw, $gz gzipped; web glue $glue gzipped"
