#include "contracts/app.h"

#include "contracts/invariants.h"
#include "contracts/transfer.h"

namespace kontor::contracts {

Result KontorApp::InitGenesis(const Genesis& genesis, StateDelta& delta) { return Result::Ok(); }

Result KontorApp::CheckStateless(const DecodedTx& tx) const {
  switch (tx.body.payload_case()) {
    case v1::TxBody::kTransfer: return CheckTransfer(tx);
    default: return {Code::kUnknownPayload, "payload " + std::to_string(tx.body.payload_case()) + " is not known"};
  }
}

Result KontorApp::Apply(const DecodedTx& tx, const BlockEnv& env, StateDelta& sandbox) {
  switch (tx.body.payload_case()) {
    case v1::TxBody::kTransfer: return ApplyTransfer(tx, env, sandbox);
    default: return {Code::kUnknownPayload, "payload " + std::to_string(tx.body.payload_case()) + " is not known"};
  }
}

Result KontorApp::EndBlock(const BlockEnv& env, StateDelta& block_delta) { return Result::Ok(); }

Result KontorApp::CheckInvariants(const BlockEnv& env, const StateView& before, const StateDelta& block_delta) const {
  return CheckSupplyInvariant(before, block_delta);
}

}  // namespace kontor::contracts
