#!/usr/bin/env bash
# Installs the Debian packages mfagate's build and tests need. Idempotent: it only
# calls apt-get for what is missing. Without root it prints the exact command instead.
set -euo pipefail

# libfido2-dev: go-libfido2 (cgo) for the FIDO key backend
# fido2-tools:  fido2-token, an outside client of the software authenticator
# gammu:        an outside client of the modem simulator
# gammu-smsd:   Gammu's SMS daemon, a peer the benchmarks compare with (bench/)
# smstools:     smsd, a second outside client of the modem simulator
# oathtool:     TOTP codes computed independently of the server
# prometheus:   promtool, which checks /metrics output and the alert rules
# postgresql:   initdb and postgres for store/postgres's tests (a throw-away cluster each run)
# zsh:          checks and runs mfagatectl's zsh completion script (zsh -n)
# python3-cryptography: verifies the privacyIDEA-compatible responses' RSA-PSS
#               signatures independently of the server (cmd/mfagated/testdata/pi_verify.py)
# freeradius:   the upstream RADIUS server of proxy mode's tests (radius/), started
#               by the test on loopback with a throw-away configuration
packages=(ca-certificates gcc pkg-config libfido2-dev fido2-tools gammu gammu-smsd smstools oathtool prometheus postgresql zsh python3-cryptography freeradius)
# freeradius-utils:   radclient and radtest, outside clients of the RADIUS server
# libpam-radius-auth: pam_radius_auth.so, the SSH-style RADIUS client, driven by
# pamtester:          a PAM conversation from the command line
packages+=(freeradius-utils libpam-radius-auth pamtester)
# chromium:     the browser the kiosk page's end-to-end tests drive headless (e2e/)
# fonts-ipafont-gothic: Japanese glyphs for the kiosk page in that browser
packages+=(chromium fonts-ipafont-gothic)
# node and npm run those tests (playwright-core from npm). Debian's packages
# are installed only when no node is present; a newer Node.js is kept.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "mfagate needs these Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package starts a server on install; the project only needs promtool.
systemctl disable --now prometheus >/dev/null 2>&1 || true
pkill -x prometheus >/dev/null 2>&1 || true
# gammu-smsd's package enables and starts its unit with the unconfigured /etc/gammu-smsdrc;
# the benchmarks run their own instances.
systemctl disable --now gammu-smsd >/dev/null 2>&1 || true
systemctl reset-failed gammu-smsd >/dev/null 2>&1 || true
# freeradius's package enables its unit on install; the tests run their own instances.
systemctl disable --now freeradius >/dev/null 2>&1 || true
