#!/bin/sh
# A development CA and one certificate for every NATS node, for client and route TLS.
# Usage: gen-dev-certs.sh OUT_DIR [EXTRA_NAME ...]
# The certificate is valid for nats-0, nats-1, nats-2, localhost, 127.0.0.1 and any EXTRA_NAME
# (DNS names or IPv4 addresses). For production, use your own CA; keep ca-key.pem off the nodes.
set -eu
out=${1:?usage: gen-dev-certs.sh OUT_DIR [EXTRA_NAME ...]}
shift
command -v openssl >/dev/null || { echo "openssl not found: install it (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$out"
umask 077
san="DNS:nats-0,DNS:nats-1,DNS:nats-2,DNS:localhost,IP:127.0.0.1"
for n in "$@"; do
  case "$n" in
    *[!0-9.]*) san="$san,DNS:$n" ;;
    *) san="$san,IP:$n" ;;
  esac
done
if [ ! -f "$out/ca.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj "/CN=Lyra development CA" -keyout "$out/ca-key.pem" -out "$out/ca.pem" 2>/dev/null
fi
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=nats" -keyout "$out/server-key.pem" -out "$out/server.csr" 2>/dev/null
ext="$out/server.ext"
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n' "$san" >"$ext"
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
  -days 825 -extfile "$ext" -out "$out/server.pem" 2>/dev/null
rm -f "$out/server.csr" "$ext" "$out/ca.srl"
chmod 644 "$out/ca.pem" "$out/server.pem"
echo "CA: $out/ca.pem (clients: nats.tls.ca_file or NATS_CA_FILE); node cert: $out/server.pem ($san)"
