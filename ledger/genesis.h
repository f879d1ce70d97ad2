// Genesis: the chain's starting point, a JSON file (format in docs/protocol.md "Genesis").
//   genesis_hash = tagged_hash("kontor/genesis", the file's exact bytes)
// Amounts are decimal strings in the asset's smallest unit (JSON numbers lose precision
// past 2^53); plain JSON integers are accepted too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/keys.h"
#include "ledger/result.h"
#include "ledger/state.h"

namespace kontor {

struct GenesisAsset {
  std::string symbol;
  uint32_t decimals = 0;
  std::optional<PublicKey> gateway;  // set for an asset bridged from an external chain
};

struct GenesisBalance {
  PublicKey owner;
  std::string asset;
  uint64_t amount = 0;
};

struct Validator {
  PublicKey key;
  uint64_t power = 1;
  std::string name;
};

struct ChainParams {
  std::string fee_asset;
  uint64_t min_fee = 0;
  uint64_t block_txs_max = 5000;
  uint64_t block_bytes_max = 8 * 1024 * 1024;
};

struct Genesis {
  std::string chain_id;
  uint64_t genesis_time_ms = 0;
  std::vector<GenesisAsset> assets;
  std::vector<GenesisBalance> balances;
  std::vector<Validator> validators;
  ChainParams params;
  Hash256 hash;   // of the file bytes it was parsed from
  Bytes raw;      // those bytes

  const GenesisAsset* FindAsset(std::string_view symbol) const;
  const Validator* FindValidator(const PublicKey& key) const;
  uint64_t TotalPower() const;
};

// Parses and checks a genesis file: names each wrong field (kMalformed, kBadAddress,
// kUnknownAsset, kOverflow, kTooLarge).
Result ParseGenesis(std::string_view json_text, Genesis* out);
// Writes a genesis file for `g` (used by `kontord init`); parse it back to get the hash.
std::string WriteGenesisJson(const Genesis& g);

// tagged_hash("kontor/validators", key_1 || power_1 (8 bytes BE) || key_2 || ...)
Hash256 ValidatorsHash(const std::vector<Validator>& validators);

// Writes the genesis accounts and assets into `delta` (the ledger's part of the initial state).
Result InitLedgerGenesis(const Genesis& genesis, StateDelta& delta);

}  // namespace kontor
