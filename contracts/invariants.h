// Invariants checked after every block over the records the block changed (rippled's
// invariant checkers, TigerBeetle's double entry):
//   supply   per asset: sum of balance changes == change of (deposited - withdrawn)
//            (genesis supply is fixed), so no block creates or destroys value
//   accounts balances sorted by asset, no zero entries
#pragma once

#include "ledger/application.h"

namespace kontor::contracts {

Result CheckSupplyInvariant(const StateView& before, const StateDelta& block_delta);

}  // namespace kontor::contracts
