#!/usr/bin/env bash
# Writes a throwaway self-signed certificate and key for localhost, 127.0.0.1 and ::1 into
# DIR (cert.pem, key.pem) with the openssl command line. Used by the wss tests.
#   make_cert.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
