"""Reads google.rpc.ErrorInfo.reason out of a ``grpc-status-details-bin`` trailer.

The three message types involved (Status, Any, ErrorInfo) are decoded with a few lines of protobuf wire parsing
instead of generated code, so this package never registers ``google/rpc/*.proto`` in the default descriptor pool
(where it would clash with googleapis-common-protos if both are imported).
"""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

_ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"


class _WireError(ValueError):
    pass


def _varint(buf: bytes, i: int) -> Tuple[int, int]:
    shift = 0
    value = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise _WireError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> Iterator[Tuple[int, int, object]]:
    """Yields (field number, wire type, value) for varint and length-delimited fields; skips fixed-size ones."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
            yield field, wire, v
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise _WireError("truncated field")
            yield field, wire, buf[i : i + n]
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise _WireError(f"unsupported wire type {wire}")


def error_reason_from_status_details(data: Optional[bytes]) -> Optional[str]:
    """The first ErrorInfo.reason in a serialized google.rpc.Status, or None when absent or unreadable."""
    if not data:
        return None
    try:
        for field, wire, value in _fields(data):
            if field != 3 or wire != 2:  # Status.details (repeated Any)
                continue
            type_url = ""
            payload = b""
            for f, w, v in _fields(value):  # type: ignore[arg-type]
                if f == 1 and w == 2:
                    type_url = bytes(v).decode("utf-8")  # type: ignore[arg-type]
                elif f == 2 and w == 2:
                    payload = bytes(v)  # type: ignore[arg-type]
            if type_url != _ERROR_INFO_TYPE:
                continue
            for f, w, v in _fields(payload):
                if f == 1 and w == 2:  # ErrorInfo.reason
                    return bytes(v).decode("utf-8")  # type: ignore[arg-type]
            return ""
    except (_WireError, UnicodeDecodeError):
        return None
    return None
