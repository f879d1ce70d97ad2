// `kontord genesis …`: building a genesis with several validators (the cosmos "gentx" flow,
// docs/operator.md "Running a network"). Each operator runs `kontord init` and sends the
// coordinator the validator address it prints; the coordinator adds them (and balances) to its
// home's genesis.json with these commands and shares the file; every operator copies it into
// its home and runs `kontord init --adopt-genesis`, which pins its hash.
//
// Every edit re-reads genesis.json, checks the result as a whole (ParseGenesis and the
// validator set's rules) and replaces the file atomically; nothing is written on an error.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "ledger/genesis.h"
#include "ledger/result.h"

namespace kontor::node {

// Adds validator `address` (kx1…) with `power` (≥ 1) and `name`. kDuplicate if it is one already.
Result GenesisAddValidator(const std::filesystem::path& home, std::string_view address, uint64_t power,
                           const std::string& name, Genesis* out);
// Removes validator `address`; kNotFound if it is not one; kWrongState if it is the last.
Result GenesisRemoveValidator(const std::filesystem::path& home, std::string_view address, Genesis* out);
// Adds `amount` smallest units of `asset` to `address`'s genesis balance (kUnknownAsset,
// kOverflow).
Result GenesisAddBalance(const std::filesystem::path& home, std::string_view address, const std::string& asset,
                         uint64_t amount, Genesis* out);
// A JSON summary: chain id, genesis hash, time, validators (address, power, name), total power,
// assets, the number of funded accounts.
std::string GenesisSummary(const Genesis& genesis);

}  // namespace kontor::node
