// Escrow, time charges and closing of compute contracts.
//
// Time charge (one rounding rule, integer arithmetic): the total accrued from the start to time t is
//     accrued(t) = floor(units * price_per_unit_hour * (min(t, end) - start) / 3_600_000)
// (0 before the start; milliseconds; computed in 128 bits). Settling at t pays
//     due = accrued(t) - charged
// from escrow, first-in first-out across deposits. The broker's total is floor(all paid so far *
// bps / 10_000) and the provider gets the rest. Because accrued() and the broker's share are
// always taken over the whole history, settling often or rarely pays the same amounts.
// After a provider's notice, accrual stops at the termination time (end = min(end, termination)).
// If escrow cannot cover what is due, it pays all it holds and the contract closes with reason
// insufficient_funds. At close, what is left of each deposit goes back to its depositor.
#pragma once

#include "contracts/records.h"

namespace kontor::contracts {

inline constexpr uint64_t kMillisecondsPerHour = 3'600'000;

uint64_t EscrowTotal(const v1::Contract& c);
// Errors: kOverflow if the total does not fit 64 bits.
Result Accrued(const v1::Contract& c, uint64_t t_ms, uint64_t* out);
// Pays `amount` from escrow (first-in first-out), split between broker and provider.
// *paid is what escrow could cover (less than amount when it ran dry).
Result PayFromEscrow(StateDelta& s, v1::Contract* c, uint64_t amount, uint64_t* paid);
// Pays the charge due until t_ms. *ran_dry: escrow could not cover it (everything left was paid).
Result Settle(StateDelta& s, v1::Contract* c, uint64_t t_ms, bool* ran_dry);
// Settles until at_ms, refunds the escrow, releases offer capacity, and closes. If escrow ran
// dry while settling, the reason becomes insufficient_funds.
Result CloseContract(StateDelta& s, v1::Contract* c, uint64_t at_ms, v1::CloseReason reason);
// Adds to escrow (merging with the last deposit of the same depositor).
Result AddEscrow(v1::Contract* c, const PublicKey& depositor, uint64_t amount);
// The next time the ledger must look at the contract (end, notice, escrow running dry); 0 = never.
uint64_t NextEventMs(const v1::Contract& c);
// Stores the contract and keeps its agenda entry in step.
void StoreContract(StateDelta& s, const v1::Contract& c);

}  // namespace kontor::contracts
