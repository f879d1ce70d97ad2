// Invariants checked after every block over the records the block changed (rippled's
// invariant checkers, TigerBeetle's double entry):
//   supply   per asset: sum of balance changes == change of (deposited - withdrawn)
//            (genesis supply is fixed), so no block creates or destroys value; the 128-bit
//            lifetime totals never go down and genesis + deposited - withdrawn fits 64 bits
//   accounts balances sorted by asset, no zero entries
//   escrow   counted in the supply: balances + escrow = genesis + deposited - withdrawn
//   records  contracts and offers move only along legal transitions; a contract's charges equal
//            what the provider and broker were paid; a closed contract holds no escrow; an offer's
//            reserved capacity never exceeds its capacity
#pragma once

#include "ledger/application.h"

namespace kontor::contracts {

Result CheckSupplyInvariant(const StateView& before, const StateDelta& block_delta);
Result CheckRecordInvariants(const StateView& before, const StateDelta& block_delta);

}  // namespace kontor::contracts
