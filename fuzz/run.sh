#!/usr/bin/env bash
# Runs every cliquet fuzz target for N seconds (default 10), one after the
# other on one core, starting from the committed seeds (fuzz/seeds/<target>)
# plus whatever earlier runs found (fuzz/corpus/<target>, not committed).
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#
# Installs cargo-fuzz if `cargo +nightly fuzz` is missing. Exits non-zero if
# any target crashes, hangs (over 10 s on one input) or runs out of memory;
# the input that did it is in fuzz/artifacts/<target>/. Logs: fuzz/logs/.
set -euo pipefail

seconds="${1:-10}"
shift || true
cd "$(dirname "$0")"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# cliquet forbids unsafe code: the sanitizer would mostly slow the search.
# Overflow checks and debug assertions stay on (cargo fuzz's default).
build=(--sanitizer none)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build "${build[@]}"

mkdir -p logs
failed=()
summary=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target"
    log="logs/$target.log"
    echo "run.sh: $target for ${seconds}s"
    if cargo +nightly fuzz run "${build[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -dict=cliquet.dict -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
        tail -n 40 "$log" >&2
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    summary+=("$(printf '%-34s %-6s runs %-10s cov %-6s ft %-6s corpus %s' \
        "$target" "$status" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
done

printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "run.sh: FAILED: ${failed[*]} (inputs in fuzz/artifacts/, logs in fuzz/logs/)" >&2
    exit 1
fi
echo "run.sh: ${#targets[@]} targets, ${seconds}s each, no crash"
