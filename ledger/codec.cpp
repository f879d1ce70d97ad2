#include "ledger/codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "ledger/check.h"

namespace kontor {

Bytes CanonicalBytes(const google::protobuf::Message& message) {
  Bytes out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    KONTOR_CHECK(message.SerializeToCodedStream(&coded));
  }
  return out;
}

Result DecodeCanonical(std::string_view bytes, size_t bytes_max, std::string_view what,
                       google::protobuf::Message* message) {
  if (bytes.size() > bytes_max)
    return {Code::kTooLarge, std::string(what) + " is " + std::to_string(bytes.size()) + " bytes; at most " +
                                 std::to_string(bytes_max) + " allowed"};
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return {Code::kMalformed, std::string(what) + " is not a valid protobuf " + message->GetTypeName()};
  // Unknown fields would survive a re-encode; drop them so they show up as a difference.
  message->DiscardUnknownFields();
  if (CanonicalBytes(*message) != bytes)
    return {Code::kNonCanonical, std::string(what) +
                                     " is not canonically encoded (unknown fields, default values written out, "
                                     "fields out of order or non-minimal varints)"};
  return Result::Ok();
}

}  // namespace kontor
