#include "node/consensus/types.h"

namespace kontor::consensus {

const char* StepName(Step s) {
  switch (s) {
    case Step::kPropose: return "propose";
    case Step::kPrevote: return "prevote";
    case Step::kPrecommit: return "precommit";
  }
  return "?";
}

const char* VoteKindName(VoteKind k) { return k == VoteKind::kPrevote ? "prevote" : "precommit"; }

uint64_t TimeoutParams::For(Step step, uint32_t round) const {
  switch (step) {
    case Step::kPropose: return propose_ms + propose_delta_ms * round;
    case Step::kPrevote: return prevote_ms + prevote_delta_ms * round;
    case Step::kPrecommit: return precommit_ms + precommit_delta_ms * round;
  }
  return 0;
}

}  // namespace kontor::consensus
