#!/bin/sh
# Installs edgewatch's build and test dependencies on Debian 12.
# Idempotent: when everything is present it only runs dpkg-query.
set -e
PKGS="build-essential pkg-config librdkafka-dev libjansson-dev libhiredis-dev \
libavro-dev zlib1g-dev libcurl4-openssl-dev libmicrohttpd-dev libcmocka-dev \
redis-server redis-tools kcat python3 clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "deps: need root to apt-get install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
