// The rules of each transaction family: a stateless check and an apply, one file each.
#pragma once

#include "kontor/v1/state.pb.h"
#include "ledger/application.h"

namespace kontor::contracts {

// assets.cpp
Result CheckAssetDeposit(const DecodedTx& tx);
Result ApplyAssetDeposit(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckAssetWithdraw(const DecodedTx& tx);
Result ApplyAssetWithdraw(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);

// providers.cpp
Result CheckProviderRegister(const DecodedTx& tx);
Result ApplyProviderRegister(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckAttestationCreate(const DecodedTx& tx);
Result ApplyAttestationCreate(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckAttestationRevoke(const DecodedTx& tx);
Result ApplyAttestationRevoke(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);

// offers.cpp
Result CheckOfferPost(const DecodedTx& tx);
Result ApplyOfferPost(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckOfferUpdate(const DecodedTx& tx);
Result ApplyOfferUpdate(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckOfferWithdraw(const DecodedTx& tx);
Result ApplyOfferWithdraw(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);

// contracts.cpp
Result CheckContractAccept(const DecodedTx& tx);
Result ApplyContractAccept(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckContractPropose(const DecodedTx& tx);
Result ApplyContractPropose(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckContractAction(const DecodedTx& tx);  // topup, notice, close, settle
Result ApplyContractTopup(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result ApplyContractNotice(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result ApplyContractClose(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result ApplyContractSettle(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckUsageReport(const DecodedTx& tx);
Result ApplyUsageReport(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
// invoices.cpp
Result CheckInvoiceIssue(const DecodedTx& tx);
Result ApplyInvoiceIssue(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckInvoiceAction(const DecodedTx& tx);  // accept, void
Result ApplyInvoiceAccept(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result ApplyInvoiceVoid(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckInvoiceDispute(const DecodedTx& tx);
Result ApplyInvoiceDispute(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckInvoiceResolve(const DecodedTx& tx);
Result ApplyInvoiceResolve(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckInvoicePay(const DecodedTx& tx);
Result ApplyInvoicePay(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
Result CheckPaymentRecordExternal(const DecodedTx& tx);
Result ApplyPaymentRecordExternal(const DecodedTx& tx, const BlockEnv& env, StateDelta& s);
// The ledger pays escrow-sourced invoices whose due time passed unchallenged (the caller stores c).
Result PayDueInvoices(StateDelta& s, v1::Contract* c, uint64_t now);

// End of block: closes contracts whose term or notice ended or whose escrow ran dry.
Result ProcessAgenda(const BlockEnv& env, StateDelta& s);

}  // namespace kontor::contracts
