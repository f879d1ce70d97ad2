// Every size has a limit, checked before anything is allocated for it.
// Names carry the unit last. Consensus limits here are fixed by the protocol; per-chain
// parameters (genesis "params") may only be tighter.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kontor::limits {

inline constexpr size_t kTxBytesMax = 64 * 1024;          // whole envelope
inline constexpr size_t kTxSignersMax = 8;
inline constexpr size_t kChainIdBytesMax = 64;
inline constexpr size_t kAssetSymbolBytesMax = 16;
inline constexpr size_t kMemoBytesMax = 256;
inline constexpr size_t kBlockTxsMax = 10'000;
inline constexpr size_t kBlockBytesMax = 16 * 1024 * 1024;  // all tx envelopes + header
inline constexpr size_t kHeaderBytesMax = 1024;
inline constexpr size_t kValidatorsMax = 128;
inline constexpr size_t kCommitBytesMax = 128 * 120;            // 128 signatures of ~110 bytes
inline constexpr size_t kGenesisBytesMax = 16 * 1024 * 1024;
// No more assets than one account can hold, so crediting any asset to any account never fails
// for lack of a balance slot (the ledger's own payments at end of block must not fail).
inline constexpr size_t kGenesisAssetsMax = 64;
inline constexpr size_t kAccountBalancesMax = 64;          // distinct assets held by one account
inline constexpr size_t kStateProofDepthMax = 256;

}  // namespace kontor::limits
