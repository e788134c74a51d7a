from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_ALLOW: _ClassVar[Verdict]
    VERDICT_BLOCK: _ClassVar[Verdict]
    VERDICT_REQUIRE_APPROVAL: _ClassVar[Verdict]
    VERDICT_DRY_RUN: _ClassVar[Verdict]
VERDICT_UNSPECIFIED: Verdict
VERDICT_ALLOW: Verdict
VERDICT_BLOCK: Verdict
VERDICT_REQUIRE_APPROVAL: Verdict
VERDICT_DRY_RUN: Verdict
