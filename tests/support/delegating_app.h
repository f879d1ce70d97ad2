// The real application with every phase passed through, for tests that plant a fault in one
// phase (override it, call real_ and then break something): tests/unit/test_chain.cpp,
// tests/unit/test_invariant_faults.cpp.
#pragma once

#include "contracts/app.h"

namespace kontor::test {

class DelegatingApp : public Application {
 public:
  Result InitGenesis(const Genesis& g, StateDelta& d) override { return real_.InitGenesis(g, d); }
  Result CheckStateless(const DecodedTx& tx) const override { return real_.CheckStateless(tx); }
  Result Apply(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) override { return real_.Apply(tx, env, s); }
  Result EndBlock(const BlockEnv& env, StateDelta& d) override { return real_.EndBlock(env, d); }
  Result CheckInvariants(const BlockEnv& env, const StateView& before, const StateDelta& d) const override {
    return real_.CheckInvariants(env, before, d);
  }
  std::optional<uint64_t> NextEventMs(const StateView& state) const override { return real_.NextEventMs(state); }
  std::vector<AssetAmount> PayerDebits(const DecodedTx& tx, const StateView& state) const override {
    return real_.PayerDebits(tx, state);
  }

 protected:
  contracts::KontorApp real_;
};

}  // namespace kontor::test
