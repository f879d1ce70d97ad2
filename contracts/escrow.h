// Escrow, time charges and closing of compute contracts.
//
// Time charge (one rounding rule, integer arithmetic): the total accrued from the start to time t is
//     accrued(t) = floor(units * price_per_unit_hour * (min(t, end) - start) / 3_600_000)
// (0 before the start; milliseconds; computed in 128 bits). After a provider's notice, accrual
// stops at the termination time (end = min(end, termination)).
//
// Escrow-streamed contracts (terms.invoiced = false): settling at t pays
//     due = accrued(t) - charged
// from escrow, first-in first-out across deposits. Invoiced contracts (terms.invoiced = true): the
// charge accrues and is collected by invoices (contracts/invoices.cpp); `charged` is accrued(end of
// the last invoiced period) and escrow is the guarantee. Part of an invoiced contract's escrow is
// reserved: `owed` (escrow-sourced invoices not yet paid) and `locked` (disputes). The rest is free:
//     free = escrow - owed - locked
// A contract runs dry at the first t with accrued(t) - charged > free; it then pays all the free
// escrow covers and closes with reason insufficient_funds.
//
// Every payment to the provider is split with the broker: the broker's total is
// floor(all paid so far * bps / 10_000) and the provider gets the rest, so how often (and in how
// many pieces) a contract is paid never changes the split.
//
// Closing settles what is due until the close (for invoiced contracts: the time and metered usage
// not yet invoiced, from free escrow) and refunds the free escrow, latest deposits first. Reserved
// escrow stays with the closed contract until its invoices are paid, voided or resolved.
#pragma once

#include <vector>

#include "contracts/records.h"

namespace kontor::contracts {

inline constexpr uint64_t kMillisecondsPerHour = 3'600'000;

uint64_t EscrowTotal(const v1::Contract& c);
// Escrow neither owed to an invoice nor locked by a dispute.
uint64_t FreeEscrow(const v1::Contract& c);
// Errors: kOverflow if the total does not fit 64 bits.
Result Accrued(const v1::Contract& c, uint64_t t_ms, uint64_t* out);
// When accrual stops: min(end, termination after notice); 0 = open-ended.
uint64_t AccrualEndMs(const v1::Contract& c);
// Takes `amount` out of escrow, first-in first-out. The caller checked that escrow holds it.
void TakeFromEscrow(v1::Contract* c, uint64_t amount);
// The broker's share of a payment of `amount` given everything the contract paid before.
uint64_t BrokerShare(const v1::Contract& c, uint64_t amount);
// Credits `amount` to provider and broker (split by BrokerShare) and counts it as paid.
Result PayParties(StateDelta& s, v1::Contract* c, uint64_t amount, uint64_t* broker_share);
// Pays up to `amount` of free escrow to provider and broker. *paid is what free escrow covered.
Result PayFromEscrow(StateDelta& s, v1::Contract* c, uint64_t amount, uint64_t* paid);
// Streamed contracts: pays the charge due until t_ms. Invoiced contracts: pays nothing, only
// checks. *ran_dry: free escrow cannot cover what is due.
Result Settle(StateDelta& s, v1::Contract* c, uint64_t t_ms, bool* ran_dry);
// Invoiced contracts: the metered usage reported but not yet invoiced, priced by the terms.
Result UninvoicedMetered(const v1::Contract& c, std::vector<v1::InvoiceLine>* lines, uint64_t* total);
// Settles until at_ms, refunds the free escrow, releases offer capacity, and closes. If escrow ran
// dry while settling, the reason becomes insufficient_funds.
Result CloseContract(StateDelta& s, v1::Contract* c, uint64_t at_ms, v1::CloseReason reason);
// A closed contract refunds the escrow no longer reserved (after an invoice was settled).
Result RefundFreeEscrow(StateDelta& s, v1::Contract* c);
// Adds to escrow: into the depositor's entry if it has one (wherever it is), else as a new entry
// at the end. A depositor who is not a party of the contract (renter, provider, broker) opens an
// entry only while fewer than 61 exist (102) and with at least 1/64 of the escrow (106), so the
// parties can always top up. REQUIRES: c->terms() is set (the parties are read from it).
Result AddEscrow(v1::Contract* c, const PublicKey& depositor, uint64_t amount);
// The next time the ledger must look at the contract (end, notice, escrow running dry, an
// escrow-sourced invoice's due time); 0 = never.
uint64_t NextEventMs(const v1::Contract& c);
// Stores the contract and keeps its agenda entry in step.
void StoreContract(StateDelta& s, const v1::Contract& c);

}  // namespace kontor::contracts
