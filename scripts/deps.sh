#!/usr/bin/env bash
# Installs what building and testing s3-proxy needs, when it is missing:
# from Debian, nginx and its module build tree, OpenSSL's headers, Python
# with venv, and the test clients (curl, wget, lynx, rclone, s3cmd, headless
# Chromium, wrk); from PyPI, into a virtual environment (VENV, default
# build/venv, made from SYSTEM_PYTHON, default Debian's /usr/bin/python3),
# the pinned requirements.txt: the local S3 server (moto), the AWS SDK and
# CLI, pytest and hypothesis.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-build/venv}
python=${SYSTEM_PYTHON:-/usr/bin/python3}

debs=(nginx-core nginx-dev libssl-dev gcc make python3 python3-venv
      jq curl wget lynx wrk rclone chromium s3cmd)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Installing nginx-core starts Debian's nginx service on port 80; this
    # project runs its own nginx, so that fresh service is stopped again.
    # A service that was installed before is left alone.
    if [[ " ${missing[*]} " == *" nginx-core "* ]] && command -v service >/dev/null &&
        service nginx status >/dev/null 2>&1; then
        echo "deps: stopping the nginx service that installing nginx-core started"
        service nginx stop >/dev/null 2>&1 || true
    fi
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    echo "deps: creating the virtual environment $venv from $python"
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
# requirements.txt as last installed is kept in the venv: a change installs.
if ! cmp -s requirements.txt "$venv/requirements.txt"; then
    echo "deps: installing requirements.txt into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        -r requirements.txt
    cp requirements.txt "$venv/requirements.txt"
fi
