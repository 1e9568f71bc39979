#!/usr/bin/env bash
# Installs the Debian tools the tests drive when they are missing: the openssl and
# curl binaries (interop) and tshark (the captures must decrypt in Wireshark's own
# dissector). Tests never skip for a missing tool: they fail.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v tshark >/dev/null || need+=(tshark)
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
