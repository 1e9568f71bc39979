#!/usr/bin/env bash
# Installs the Debian tools the tests drive when they are missing: the openssl and
# curl binaries (interop), gnutls-cli and gnutls-serv from gnutls-bin (interop with a
# second TLS stack), tshark (the captures must decrypt in Wireshark's own
# dissector), and chromium (the browser tests drive Debian's /usr/bin/chromium through
# Playwright; no browser is ever downloaded), with the DejaVu fonts the pages are drawn
# in. Tests never skip for a missing tool: they fail.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
{ command -v gnutls-cli && command -v gnutls-serv; } >/dev/null || need+=(gnutls-bin)
command -v tshark >/dev/null || need+=(tshark)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)  # the reverse-proxy test
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    # wireshark-common asks whether non-root users may capture; answer "no" up front
    # (the tests only read capture files, they never capture live).
    if [[ " ${need[*]} " == *" tshark "* ]]; then
        echo "wireshark-common wireshark-common/install-setuid boolean false" \
            | $SUDO debconf-set-selections
    fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
