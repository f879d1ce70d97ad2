#include "contracts/app.h"

#include "contracts/families.h"
#include "contracts/invariants.h"
#include "contracts/transfer.h"

namespace kontor::contracts {

Result KontorApp::InitGenesis(const Genesis& genesis, StateDelta& delta) { return Result::Ok(); }

Result KontorApp::CheckStateless(const DecodedTx& tx) const {
  using B = v1::TxBody;
  switch (tx.body.payload_case()) {
    case B::kTransfer: return CheckTransfer(tx);
    case B::kAssetDeposit: return CheckAssetDeposit(tx);
    case B::kAssetWithdraw: return CheckAssetWithdraw(tx);
    case B::kProviderRegister: return CheckProviderRegister(tx);
    case B::kAttestationCreate: return CheckAttestationCreate(tx);
    case B::kAttestationRevoke: return CheckAttestationRevoke(tx);
    case B::kOfferPost: return CheckOfferPost(tx);
    case B::kOfferUpdate: return CheckOfferUpdate(tx);
    case B::kOfferWithdraw: return CheckOfferWithdraw(tx);
    case B::kContractAccept: return CheckContractAccept(tx);
    case B::kContractPropose: return CheckContractPropose(tx);
    case B::kContractTopup:
    case B::kContractNotice:
    case B::kContractClose:
    case B::kContractSettle: return CheckContractAction(tx);
    case B::kUsageReport: return CheckUsageReport(tx);
    case B::kInvoiceIssue: return CheckInvoiceIssue(tx);
    case B::kInvoiceAccept:
    case B::kInvoiceVoid: return CheckInvoiceAction(tx);
    case B::kInvoiceDispute: return CheckInvoiceDispute(tx);
    case B::kInvoicePay: return CheckInvoicePay(tx);
    case B::kPaymentRecordExternal: return CheckPaymentRecordExternal(tx);
    case B::kInvoiceResolve: return CheckInvoiceResolve(tx);
    case B::PAYLOAD_NOT_SET: break;
  }
  return {Code::kUnknownPayload, "payload " + std::to_string(tx.body.payload_case()) + " is not known"};
}

Result KontorApp::Apply(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  using B = v1::TxBody;
  switch (tx.body.payload_case()) {
    case B::kTransfer: return ApplyTransfer(tx, env, s);
    case B::kAssetDeposit: return ApplyAssetDeposit(tx, env, s);
    case B::kAssetWithdraw: return ApplyAssetWithdraw(tx, env, s);
    case B::kProviderRegister: return ApplyProviderRegister(tx, env, s);
    case B::kAttestationCreate: return ApplyAttestationCreate(tx, env, s);
    case B::kAttestationRevoke: return ApplyAttestationRevoke(tx, env, s);
    case B::kOfferPost: return ApplyOfferPost(tx, env, s);
    case B::kOfferUpdate: return ApplyOfferUpdate(tx, env, s);
    case B::kOfferWithdraw: return ApplyOfferWithdraw(tx, env, s);
    case B::kContractAccept: return ApplyContractAccept(tx, env, s);
    case B::kContractPropose: return ApplyContractPropose(tx, env, s);
    case B::kContractTopup: return ApplyContractTopup(tx, env, s);
    case B::kContractNotice: return ApplyContractNotice(tx, env, s);
    case B::kContractClose: return ApplyContractClose(tx, env, s);
    case B::kContractSettle: return ApplyContractSettle(tx, env, s);
    case B::kUsageReport: return ApplyUsageReport(tx, env, s);
    case B::kInvoiceIssue: return ApplyInvoiceIssue(tx, env, s);
    case B::kInvoiceAccept: return ApplyInvoiceAccept(tx, env, s);
    case B::kInvoiceVoid: return ApplyInvoiceVoid(tx, env, s);
    case B::kInvoiceDispute: return ApplyInvoiceDispute(tx, env, s);
    case B::kInvoicePay: return ApplyInvoicePay(tx, env, s);
    case B::kPaymentRecordExternal: return ApplyPaymentRecordExternal(tx, env, s);
    case B::kInvoiceResolve: return ApplyInvoiceResolve(tx, env, s);
    case B::PAYLOAD_NOT_SET: break;
  }
  return {Code::kUnknownPayload, "payload " + std::to_string(tx.body.payload_case()) + " is not known"};
}

Result KontorApp::EndBlock(const BlockEnv& env, StateDelta& block_delta) { return ProcessAgenda(env, block_delta); }

Result KontorApp::CheckInvariants(const BlockEnv& env, const StateView& before, const StateDelta& block_delta) const {
  KONTOR_RETURN_IF_ERROR(CheckRecordInvariants(before, block_delta));
  return CheckSupplyInvariant(before, block_delta);
}

}  // namespace kontor::contracts
