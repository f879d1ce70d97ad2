#!/usr/bin/env bash
# A short scenario against a running dev node (started by tools/run.sh): a new encrypted key,
# transfers to and from it, a rejected transfer with its code, and a co-signed-style flow
# (generate-only, sign, broadcast).
set -euo pipefail
cd "$(dirname "$0")/.."
home=${KONTOR_HOME:-$PWD/.kontor-dev}
kontor() { ./build/tools/kontor --home "$home" "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "node status"
kontor query head

step "a new encrypted key 'demo-$$' (passphrase from KONTOR_PASSPHRASE)"
export KONTOR_PASSPHRASE=${KONTOR_PASSPHRASE:-demo-passphrase}
name=demo-$$
kontor keys new "$name"
address=$(kontor keys show "$name" -o json | sed -n 's/.*"address": "\(kx1[^"]*\)".*/\1/p')

step "alice sends 25 USDC and 1 KTR (for fees) to $name"
kontor --keyring test tx transfer --from alice --to "$address" --amount 25 --asset USDC
kontor --keyring test tx transfer --from alice --to "$address" --amount 1 --asset KTR

step "$name pays bob 10 USDC"
kontor tx transfer --from "$name" --to "$(kontor --keyring test keys show bob -o json | sed -n 's/.*"address": "\(kx1[^"]*\)".*/\1/p')" --amount 10 --asset USDC

step "$name's account"
kontor query account "$address"

step "a transfer larger than the balance is rejected with its code"
kontor tx transfer --from "$name" --to "$address" --amount 1000 --asset USDC || echo "(rejected as expected)"

step "build unsigned, sign separately, then broadcast"
file=$(mktemp --suffix=.json)
kontor --keyring test tx transfer --from carol --to "$address" --amount 2 --asset USDT --generate-only --out "$file"
kontor --keyring test tx sign "$file" --from carol
kontor tx broadcast "$file"
rm -f "$file"
kontor query account "$address" -o json
