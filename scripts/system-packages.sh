#!/usr/bin/env bash
# System packages the tests need beyond Python: Debian's Chromium for the browser tests
# (Playwright drives /usr/bin/chromium; it never downloads a browser).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  else
    echo "warning: /usr/bin/chromium is missing; install Debian's chromium package for the browser tests" >&2
  fi
fi
