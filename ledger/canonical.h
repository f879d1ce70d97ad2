// The canonical-encoding check of docs/protocol.md §3, written here against the wire format
// so that which bytes are valid never depends on the protobuf library's version. The schema
// (field numbers, types, oneofs) comes from the .proto files through their descriptors; the
// rules and the byte walk are ours. protobuf still parses the bytes once they pass.
//
// Rules (each violation names the field and the byte offset). Bytes that are malformed
// anywhere are reported malformed, as a protobuf parser would refuse them; otherwise the first
// canonical rule broken is reported:
//   malformed      truncated varint or length, varint longer than 10 bytes, a length past the
//                  end, wire types 3/4/6/7 (groups, reserved), a field number of 0, invalid
//                  UTF-8 in a string, nesting deeper than kCanonicalDepthMax
//   non_canonical  a varint (key, value or length) not in its shortest form; a field number
//                  below the one before it, or a non-repeated field twice; a field the schema
//                  does not have; the wrong wire type for a field; a default value written out
//                  (0, empty string/bytes) for a field without presence; two members of one
//                  oneof; a uint32 or enum above its range (enum: 0..2^31-1); a bool other
//                  than 1 (0 is omitted unless it is a oneof member)
// Types the check does not cover (signed and fixed-width numbers, floats, maps, groups,
// repeated numbers) are not used by kontor.v1; meeting one stops the process at once.
#pragma once

#include <google/protobuf/descriptor.h>

#include <string_view>

#include "ledger/result.h"

namespace kontor {

inline constexpr int kCanonicalDepthMax = 32;

// Checks that `bytes` are the canonical encoding of a message of type `type`. `what` names
// the object in messages ("tx body"). Errors: kMalformed, kNonCanonical.
Result CheckCanonical(std::string_view bytes, const google::protobuf::Descriptor* type, std::string_view what);

}  // namespace kontor
