#!/usr/bin/env bash
# Installs what building and testing s3-proxy needs, when it is missing:
# Debian's nginx and its module build tree, OpenSSL's headers and the test
# clients (curl, wget, lynx, rclone, headless Chromium, wrk); from PyPI the
# local S3 server (moto) and the AWS SDK and CLI.
set -euo pipefail

debs=(nginx-core nginx-dev libssl-dev jq curl wget lynx wrk rclone chromium)
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
    # Debian starts the packaged nginx on port 80; this project runs its own.
    if command -v service >/dev/null; then service nginx stop >/dev/null 2>&1 || true; fi
fi

python3 - <<'PY' || python3 -m pip install -q 'moto[server]>=5' boto3 botocore awscli pytest
import importlib.util, sys
need = ["moto", "flask", "flask_cors", "boto3", "botocore", "awscli", "pytest"]
sys.exit(1 if [m for m in need if importlib.util.find_spec(m) is None] else 0)
PY
