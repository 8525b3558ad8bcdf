#!/usr/bin/env bash
# Runs every Fuzz target in the module, one after another, each for
# FUZZTIME (default 20s), and prints the executions of each and whether it
# found a crash. A crash's input is written under the package's
# testdata/fuzz/<Target>/, where plain `go test` replays it from then on.
#
#   scripts/fuzz.sh                  every target
#   FUZZTIME=1m scripts/fuzz.sh      longer
#   scripts/fuzz.sh FuzzCursors      only the targets named
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
fuzztime="${FUZZTIME:-20s}"
go="${GO:-go}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# Targets are found in the source (package directory and name), so the
# list follows the code without building every test binary first.
mapfile -t targets < <(
	grep -rEo --include='*_test.go' --exclude-dir=.local --exclude-dir=node_modules --exclude-dir=.git \
		'^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
		sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*).*#\1 \2#' | sort -u
)
if (($# > 0)); then
	mapfile -t targets < <(printf '%s\n' "${targets[@]}" | grep -wFf <(printf '%s\n' "$@"))
fi
if ((${#targets[@]} == 0)); then
	echo "fuzz: no Fuzz targets found" >&2
	exit 1
fi

failed=0
summary=()
for t in "${targets[@]}"; do
	dir="${t% *}" name="${t#* }"
	log="$logs/$name.log"
	echo "fuzz: $dir $name for $fuzztime" >&2
	if "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$dir" >"$log" 2>&1; then
		result="ok"
	else
		failed=1
		if grep -q 'Failing input written to' "$log"; then
			result="CRASH"
		elif grep -Eq '\[(build|setup) failed\]' "$log"; then
			result="BUILD FAILED"
		else
			result="FAIL"
		fi
		grep -E -- '--- FAIL|Failing input written to|\.go:[0-9]+:|failed\]' "$log" | head -n 20 >&2
	fi
	# go test -fuzz reports progress as "fuzz: elapsed: 3s, execs: 12345 (…)".
	execs="$(grep -Eo 'execs: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+' || true)"
	summary+=("$(printf '%-26s %-20s %12s  %s' "$dir" "$name" "${execs:-?}" "$result")")
done

printf '\n%-26s %-20s %12s  %s\n' package target execs result
printf '%s\n' "${summary[@]}"
exit "$failed"
