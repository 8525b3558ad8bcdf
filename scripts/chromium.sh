#!/usr/bin/env bash
# Chromium for the settings page's browser tests (local/localsite): Debian's
# chromium package. Installs it when it is missing and this is root with
# apt-get; otherwise says in one line how to install it, and fails.
# CHROMIUM=/path/to/chrome picks another Chromium or Chrome binary.
set -euo pipefail

if [[ -n "${CHROMIUM:-}" ]]; then
	[[ -x "$CHROMIUM" ]] && exit 0
	echo "chromium: CHROMIUM=$CHROMIUM is not an executable file; unset it or point it at a Chromium or Chrome binary" >&2
	exit 1
fi
command -v chromium >/dev/null 2>&1 && exit 0
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "chromium: installing Debian's chromium package for the browser tests" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
	command -v chromium >/dev/null 2>&1 && exit 0
fi
echo "chromium: not installed and cannot install it here; the browser tests need it: sudo apt-get install chromium (or set CHROMIUM=/path/to/chrome)" >&2
exit 1
