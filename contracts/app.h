// The Kontor application: what transactions mean. One file per transaction family holds its
// rules (stateless check + apply); this class only dispatches and runs the invariants.
#pragma once

#include "ledger/application.h"

namespace kontor::contracts {

class KontorApp final : public Application {
 public:
  Result InitGenesis(const Genesis& genesis, StateDelta& delta) override;
  Result CheckStateless(const DecodedTx& tx) const override;
  Result Apply(const DecodedTx& tx, const BlockEnv& env, StateDelta& sandbox) override;
  Result EndBlock(const BlockEnv& env, StateDelta& block_delta) override;
  Result CheckInvariants(const BlockEnv& env, const StateView& before, const StateDelta& block_delta) const override;
  std::vector<AssetAmount> PayerDebits(const DecodedTx& tx, const StateView& state) const override;
  std::optional<uint64_t> NextEventMs(const StateView& state) const override;
};

}  // namespace kontor::contracts
