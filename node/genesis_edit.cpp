#include "node/genesis_edit.h"

#include <nlohmann/json.hpp>

#include <functional>

#include "ledger/bech32m.h"
#include "node/consensus/validator_set.h"
#include "node/home.h"
#include "node/keyring.h"

namespace kontor::node {

namespace {

Result Edit(const std::filesystem::path& home, const std::function<Result(Genesis&)>& change, Genesis* out) {
  Genesis g;
  KONTOR_RETURN_IF_ERROR(LoadGenesisFile(home, &g));
  KONTOR_RETURN_IF_ERROR(change(g));
  consensus::ValidatorSet set;
  KONTOR_RETURN_IF_ERROR(consensus::ValidatorSet::Make(g.validators, &set));
  const std::string text = WriteGenesisJson(g);
  Genesis parsed;
  Result checked = ParseGenesis(text, &parsed);
  if (!checked.ok()) return {checked.code(), "the edited genesis would be invalid: " + checked.message()};
  KONTOR_RETURN_IF_ERROR(WriteFileAtomic(home / "genesis.json", text, /*private_mode=*/false));
  *out = std::move(parsed);
  return Result::Ok();
}

Result KeyOf(std::string_view address, PublicKey* key) {
  Result r = DecodeAddress(address, key);
  if (!r.ok()) return {r.code(), "validator address: " + r.message()};
  return Result::Ok();
}

}  // namespace

Result GenesisAddValidator(const std::filesystem::path& home, std::string_view address, uint64_t power,
                           const std::string& name, Genesis* out) {
  PublicKey key;
  KONTOR_RETURN_IF_ERROR(KeyOf(address, &key));
  if (power == 0) return {Code::kBadAmount, "a validator's power must be at least 1"};
  return Edit(home, [&](Genesis& g) -> Result {
    if (g.FindValidator(key)) return {Code::kDuplicate, std::string(address) + " is a validator already"};
    g.validators.push_back({key, power, name});
    return Result::Ok();
  }, out);
}

Result GenesisRemoveValidator(const std::filesystem::path& home, std::string_view address, Genesis* out) {
  PublicKey key;
  KONTOR_RETURN_IF_ERROR(KeyOf(address, &key));
  return Edit(home, [&](Genesis& g) -> Result {
    auto it = std::find_if(g.validators.begin(), g.validators.end(), [&](const Validator& v) { return v.key == key; });
    if (it == g.validators.end()) return {Code::kNotFound, std::string(address) + " is not a validator"};
    if (g.validators.size() == 1) return {Code::kWrongState, "a chain needs at least one validator"};
    g.validators.erase(it);
    return Result::Ok();
  }, out);
}

Result GenesisAddBalance(const std::filesystem::path& home, std::string_view address, const std::string& asset,
                         uint64_t amount, Genesis* out) {
  PublicKey key;
  Result r = DecodeAddress(address, &key);
  if (!r.ok()) return {r.code(), "account address: " + r.message()};
  if (amount == 0) return {Code::kBadAmount, "the amount must be at least 1 (in the asset's smallest unit)"};
  return Edit(home, [&](Genesis& g) -> Result {
    if (!g.FindAsset(asset)) return {Code::kUnknownAsset, "the genesis has no asset '" + asset + "'"};
    for (GenesisBalance& b : g.balances) {
      if (b.owner == key && b.asset == asset) {
        if (b.amount > UINT64_MAX - amount) return {Code::kOverflow, "the balance would pass 2^64 - 1"};
        b.amount += amount;
        return Result::Ok();
      }
    }
    g.balances.push_back({key, asset, amount});
    return Result::Ok();
  }, out);
}

std::string GenesisSummary(const Genesis& g) {
  nlohmann::json validators = nlohmann::json::array();
  for (const Validator& v : g.validators)
    validators.push_back({{"address", EncodeAddress(v.key)}, {"power", v.power}, {"name", v.name}});
  nlohmann::json assets = nlohmann::json::array();
  for (const GenesisAsset& a : g.assets) assets.push_back(a.symbol);
  nlohmann::json j = {{"chain_id", g.chain_id},
                      {"genesis_hash", g.hash.hex()},
                      {"genesis_time_ms", g.genesis_time_ms},
                      {"validators", validators},
                      {"total_power", g.TotalPower()},
                      {"assets", assets},
                      {"funded_balances", g.balances.size()}};
  return j.dump(2);
}

}  // namespace kontor::node
