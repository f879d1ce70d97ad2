// Canonical protobuf encoding (docs/protocol.md §3): fields in number order, default values
// omitted, minimal varints, packed repeated numbers, valid UTF-8, no unknown fields. One
// message has exactly one encoding, so its hash is well defined. Whether bytes are canonical
// is decided by our own check (ledger/canonical.h), not by the protobuf library: decoding
// runs it before parsing. Encoding uses the library; CodecSelfTest pins what it writes.
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

// Encodes messages that exercise every rule of docs/protocol.md §3 and compares the bytes
// with pinned ones (and with our check). kontord runs it at start and refuses to run if it
// fails, so a node linked against a protobuf that writes other bytes never computes hashes
// its peers do not. Errors: kEnvironment naming the message and both encodings.
Result CodecSelfTest();

}  // namespace kontor
