// Transfer: moves an amount of one asset from the fee payer (signers[0]) to another key.
#pragma once

#include "ledger/application.h"

namespace kontor::contracts {

Result CheckTransfer(const DecodedTx& tx);
Result ApplyTransfer(const DecodedTx& tx, const BlockEnv& env, StateDelta& sandbox);

}  // namespace kontor::contracts
