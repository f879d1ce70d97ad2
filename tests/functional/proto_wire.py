"""Minimal protobuf wire encoding and decoding for the functional tests, so they can build and
read messages byte by byte (independently of the protobuf library the node links)."""


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field_varint(number, value):
    return b"" if value == 0 else varint(number << 3) + varint(value)


def field_bytes(number, value):
    if isinstance(value, str):
        value = value.encode()
    return b"" if len(value) == 0 else varint(number << 3 | 2) + varint(len(value)) + value


def read_varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(data):
    """{field number: [values]} of a message (varints as int, length-delimited as bytes)."""
    out = {}
    for number, _, value in iter_fields(data):
        out.setdefault(number, []).append(value)
    return out


def one(msg, number, default=None):
    return msg.get(number, [default])[0]


def iter_fields(data):
    """Yields (field number, wire type, value) of a message, in order."""
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 2:
            length, i = read_varint(data, i)
            value, i = bytes(data[i:i + length]), i + length
        else:
            raise ValueError("unexpected wire type %d" % wire)
        yield number, wire, value

