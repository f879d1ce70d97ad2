#!/usr/bin/env bash
# A short scenario against a running dev node (started by tools/run.sh): a new encrypted key,
# transfers to and from it, a rejected transfer with its code, a co-signed-style flow
# (generate-only, sign, broadcast), and an invoiced compute contract: invoice, dispute, the
# arbiter's ruling, early close.
set -euo pipefail
cd "$(dirname "$0")/.."
home=${KONTOR_HOME:-$PWD/.kontor-dev}
build=${KONTOR_BUILD_DIR:-./build}
kontor() { "$build/tools/kontor" --home "$home" "$@"; }
txid() { sed -n 's/.*"txid": "\([0-9a-f]*\)".*/\1/p'; }
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

step "bob registers as an H100 provider; alice and bob co-sign an invoiced contract, carol arbitrates"
kontor --keyring test provider register --from bob --attr gpu_model=H100 --attr gpu_count=8 --attr region=eu-west \
  --endpoint https://bob.example
deal=$(mktemp --suffix=.json)
kontor --keyring test contract propose --from alice --provider bob --arbiter carol --units 1 --price 3.6 --asset USDC \
  --deposit 50 --invoiced --generate-only --out "$deal"
kontor --keyring test tx sign "$deal" --from bob
kontor --keyring test tx sign "$deal" --from alice
contract=$(kontor tx broadcast "$deal" -o json | txid)
rm -f "$deal"
kontor contract show "$contract"

step "two seconds of GPU time later, bob invoices it (lines computed like the ledger does)"
sleep 2
invoice=$(kontor --keyring test invoice issue "$contract" --from bob --due 1h -o json | txid)
kontor invoice show "$invoice"

step "alice disputes the whole invoice; carol, the arbiter, gives bob 0.001 USDC of it"
kontor --keyring test invoice dispute "$invoice" --from alice --accept 0 --reason degraded
kontor --keyring test invoice resolve "$invoice" --from carol --provider-amount 0.001
kontor invoice show "$invoice"

step "alice closes early: the time since the invoice is paid from escrow, the rest refunded"
kontor --keyring test contract close "$contract" --from alice
kontor contract show "$contract"
kontor --keyring test reputation alice
