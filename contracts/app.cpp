#include "contracts/app.h"

#include "contracts/families.h"
#include "contracts/invariants.h"
#include "contracts/records.h"
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

std::vector<AssetAmount> KontorApp::PayerDebits(const DecodedTx& tx, const StateView& state) const {
  using B = v1::TxBody;
  const v1::TxBody& b = tx.body;
  // The asset of a contract, or "" if there is none (the tx will fail and spends nothing).
  auto contract_asset = [&](const std::string& id) -> std::string {
    auto c = Load<v1::Contract>(state, Kind::kContract, id);
    return c ? c->terms().asset() : std::string();
  };
  std::vector<AssetAmount> out;
  auto add = [&](std::string asset, uint64_t amount) {
    if (!asset.empty() && amount != 0) out.push_back({std::move(asset), amount});
  };
  switch (b.payload_case()) {
    case B::kTransfer: add(b.transfer().asset(), b.transfer().amount()); break;
    case B::kAssetWithdraw: add(b.asset_withdraw().asset(), b.asset_withdraw().amount()); break;
    case B::kContractAccept: {
      auto offer = Load<v1::Offer>(state, Kind::kOffer, b.contract_accept().offer_id());
      if (offer) add(offer->terms().asset(), b.contract_accept().deposit());
      break;
    }
    case B::kContractPropose:
      // The renter's deposit; the renter signs first, so it is the fee payer.
      if (b.contract_propose().terms().renter() == tx.fee_payer().view())
        add(b.contract_propose().terms().asset(), b.contract_propose().terms().deposit());
      break;
    case B::kContractTopup: add(contract_asset(b.contract_topup().contract_id()), b.contract_topup().amount()); break;
    case B::kInvoicePay: {
      auto invoice = Load<v1::Invoice>(state, Kind::kInvoice, b.invoice_pay().invoice_id());
      if (invoice) add(contract_asset(invoice->contract_id()), b.invoice_pay().amount());
      break;
    }
    case B::kPaymentRecordExternal: {
      // The broker's share of the payment moves from the provider's (the signer's) balance: at
      // most the whole amount.
      auto invoice = Load<v1::Invoice>(state, Kind::kInvoice, b.payment_record_external().invoice_id());
      if (invoice) add(contract_asset(invoice->contract_id()), b.payment_record_external().amount());
      break;
    }
    default: break;  // the other payloads move no balance of their fee payer
  }
  return out;
}

std::optional<uint64_t> KontorApp::NextEventMs(const StateView& state) const {
  // The agenda is kept sorted by time (escrow.cpp StoreContract): its first entry is the next.
  auto agenda = Load<v1::Agenda>(state, Kind::kAgenda, kAgendaId);
  if (!agenda || agenda->entries_size() == 0) return std::nullopt;
  return agenda->entries(0).at_ms();
}

}  // namespace kontor::contracts
