#!/usr/bin/env bash
# Browser tests of the kiosk page (e2e/*.test.mjs): builds mfagated, installs
# playwright-core from e2e/package-lock.json and runs node's test runner,
# which drives Debian's Chromium headless against mfagated -demo. No browser
# is downloaded. Screenshots of each step land in e2e/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "e2e: $tool is missing; run make deps" >&2; exit 1; }
done
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "e2e: node $(node --version) is too old; the test runner needs Node.js 20 or newer" >&2; exit 1; }
[ -x "$CHROMIUM" ] || { echo "e2e: $CHROMIUM is missing; run make deps (Debian package chromium)" >&2; exit 1; }

# -tags e2eclock: the test binary honours MFAGATED_E2E_CLOCK_OFFSET, so a test
# can restart it with its clock ahead (an MFA activation delay, an expiry).
"$GO" build -tags e2eclock -o bin/e2e/ ./cmd/mfagated
cd e2e
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
rm -rf artifacts
mkdir -p artifacts
# Each file starts its own gateway and browser; the whole run is bounded.
MFAGATED="$PWD/../bin/e2e/mfagated" CHROMIUM="$CHROMIUM" \
  timeout --kill-after=10s 600s node --test --test-concurrency=3 --test-timeout=240000 ./*.test.mjs
