"""Independent protobuf decoding oracle (Python's upb) for the decode differential tests.

Reads one request per line on stdin, as `<message type> <hex bytes>`, and writes one JSON line per request: either
{"ok": true, "json": <proto3 JSON with proto field names>} or {"ok": false, "error": "<why>"}. The message types are
the gait.gate.v1 request messages of the generated Python client (clients/python/gait_client/gen).
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "clients", "python"))

from google.protobuf import json_format  # noqa: E402
from gait_client.gen.gait.gate.v1 import gate_service_pb2  # noqa: E402


def message_class(name):
    return getattr(gate_service_pb2, name)


def main():
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        name, _, hexbytes = line.partition(" ")
        try:
            msg = message_class(name)()
            msg.ParseFromString(bytes.fromhex(hexbytes))
            doc = json_format.MessageToDict(msg, preserving_proto_field_name=True)
            text = json.dumps({"ok": True, "json": doc}, allow_nan=False)
        except Exception as e:  # noqa: BLE001 - every failure is an answer ("refused")
            text = json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"})
        out.write(text + "\n")
    out.flush()


if __name__ == "__main__":
    main()
