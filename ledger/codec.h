// Canonical protobuf encoding. A message's canonical bytes are what the protobuf library
// writes for it (fields in number order, packed repeated scalars, default values omitted,
// minimal varints, no unknown fields). Decoding accepts only those bytes: anything that
// re-encodes differently is rejected, so one message has exactly one encoding and its hash
// is well defined. See docs/protocol.md "Canonical encoding".
#pragma once

#include <google/protobuf/message.h>

#include <string_view>

#include "ledger/bytes.h"
#include "ledger/result.h"

namespace kontor {

Bytes CanonicalBytes(const google::protobuf::Message& message);

// Parses `bytes` into `message` and checks they are its canonical encoding.
// `what` names the object in error messages ("tx body", "block header").
// Errors: kTooLarge, kMalformed, kNonCanonical.
Result DecodeCanonical(std::string_view bytes, size_t bytes_max, std::string_view what,
                       google::protobuf::Message* message);

}  // namespace kontor
