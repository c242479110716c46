#!/usr/bin/env bash
# Make the Secrets gridwatch needs in NAMESPACE and print them as YAML (nothing is stored
# on disk, nothing goes into git):
#   deploy/kubernetes/make-secrets.sh NAMESPACE [--registry camera_registry.csv] \
#       [--db-url postgresql+psycopg://user:pass@host:5432/db] | kubectl apply -f -
#
# gridwatch-db        url (GRIDWATCH_DB of every pod), password (the in-cluster PostgreSQL)
# gridwatch-curve     aggregator.key(_secret), edge.key(_secret): CURVE keys; each pod
#                     mounts only its own secret key and the other side's public key
# gridwatch-registry  camera_registry.csv.gz (camera URLs carry passwords), if --registry
#
# Run it once per namespace: a second run makes new keys and a new database password
# (the PostgreSQL volume keeps the old one). Needs gridwatch and kubectl on PATH
# ($GRIDWATCH, $KUBECTL override).
set -euo pipefail
GRIDWATCH=${GRIDWATCH:-gridwatch}
KUBECTL=${KUBECTL:-kubectl}
usage() { echo "usage: $0 NAMESPACE [--registry FILE.csv] [--db-url URL]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
namespace=$1; shift
registry="" db_url=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --registry) registry=${2:?}; shift 2 ;;
    --db-url) db_url=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)
db_url=${db_url:-postgresql+psycopg://gridwatch:${password}@postgres:5432/gridwatch}
kube() { "$KUBECTL" create secret generic "$@" --namespace "$namespace" --dry-run=client -o yaml; }

kube gridwatch-db --from-literal=url="$db_url" --from-literal=password="$password"
echo ---
"$GRIDWATCH" keys generate aggregator --out "$work/keys" >/dev/null
"$GRIDWATCH" keys generate edge --out "$work/keys" >/dev/null
kube gridwatch-curve \
  --from-file=aggregator.key="$work/keys/aggregator.key" \
  --from-file=aggregator.key_secret="$work/keys/aggregator.key_secret" \
  --from-file=edge.key="$work/keys/edge.key" \
  --from-file=edge.key_secret="$work/keys/edge.key_secret"
if [[ -n $registry ]]; then
  gzip -9 -c "$registry" > "$work/camera_registry.csv.gz"
  size=$(wc -c < "$work/camera_registry.csv.gz")
  if (( size > 1000000 )); then
    echo "$0: $registry is $size bytes gzipped, over a Secret's 1 MiB: import it from" \
      "outside the cluster instead (README, Deploying a city)" >&2
    exit 1
  fi
  echo ---
  kube gridwatch-registry --from-file=camera_registry.csv.gz="$work/camera_registry.csv.gz"
fi
