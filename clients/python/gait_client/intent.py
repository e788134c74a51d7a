"""Typed intents: Gait's ``gait.gate.intent_request`` JSON as frozen dataclasses.

Field names are Gait's snake_case JSON names (the keys of an intent file for ``gait gate eval --intent``, and the same
as the TypeScript and Go clients' intent types). The field set is the proto message ``gait.gate.v1.IntentRequest``
(``proto/gait/gate/v1/intent.proto``, which mirrors ``shared/spec/gate.md`` section 2); a test keeps the two equal.
The output-only fields of that table (``args_digest``, ``intent_digest``, ``script_hash``) are computed by the server.

Mistakes are caught where the intent is written, not by the gate:

* a misspelt field is a ``TypeError`` naming the closest field (``Intent(tool_nmae=...)``: did you mean
  'tool_name'?); type checkers flag it too;
* a value outside a closed set the server enforces (target kind, endpoint class, discovery method, provenance
  source, phase, credential source and access type, context evidence mode, sandbox modes) is a ``ValueError`` with
  the closest allowed value. Free-text values that policies match verbatim (operation, sensitivity, risk class) are
  ``str``; the ``Literal`` aliases of their known values are there for editors.

Nested values may be given as the dataclass or as a mapping of its fields (checked the same way). Raw JSON (a dict
read from a file) can still be passed as the call's ``intent``; it is checked key by key against the same field set
(:func:`check_intent_json`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union, get_args

TargetKind = Literal["path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"]
#: Operations with a built-in meaning (endpoint class and destructiveness inference, gate.md 2.4). Operations are
#: free text: any other lowercase word a policy's ``destination_operations`` names is fine.
KnownOperation = Literal[
    "read", "get", "list", "open", "cat", "head", "download", "stat",
    "write", "append", "put", "create", "update", "save", "copy", "move", "rename",
    "delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate",
    "dns", "resolve", "lookup",
    "exec", "spawn", "run", "shell", "command",
]
EndpointClass = Literal["fs.read", "fs.write", "fs.delete", "proc.exec", "net.http", "net.dns", "ui.click", "ui.type", "ui.navigate", "other"]
DiscoveryMethod = Literal["webmcp", "dynamic_mcp", "a2a", "mcp", "static_mcp", "manual", "unknown"]
ProvenanceSource = Literal["user", "tool_output", "external", "system"]
Phase = Literal["plan", "apply"]
#: Free text; only ``high`` and ``critical`` have a built-in meaning.
KnownRiskClass = Literal["low", "medium", "high", "critical"]
CredentialSource = Literal[
    "aws_iam_user", "aws_sts", "azure_federated", "command", "env", "gcp_sts", "github_oidc", "github_pat",
    "kubernetes_service_account", "stub", "unknown", "vault_dynamic",
]
CredentialAccessType = Literal["cloud_admin", "inherited", "jit", "standing", "static", "unknown"]
ContextEvidenceMode = Literal["best_effort", "required"]
SandboxNetworkMode = Literal["disabled", "egress_allowlist", "full"]
SandboxEnvExposureMode = Literal["allowlist", "full", "none"]
SandboxFilesystemIsolation = Literal["container", "none", "workspace"]
SandboxUserMode = Literal["default", "root", "unprivileged"]

#: An RFC 3339 time: a timezone-aware ``datetime`` or its string form (``2026-01-02T03:04:05Z``).
Timestamp = Union[_dt.datetime, str]
JsonObject = Mapping[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# suggestions
# ---------------------------------------------------------------------------------------------------------------

def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: Levenshtein plus adjacent transpositions (``nmae`` is one edit from ``name``)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, d[i - 2][j - 2] + 1)
            d[i][j] = v
    return d[len(a)][len(b)]


def closest(word: str, candidates: Sequence[str]) -> Optional[str]:
    """The candidate nearest to ``word``, when it is near enough to be a plausible misspelling."""
    best, best_d = None, 1 << 30
    for c in candidates:
        dist = _edit_distance(word.lower(), c)
        if dist < best_d:
            best, best_d = c, dist
    return best if best_d <= max(2, len(word) // 3) else None


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    near = closest(word, candidates)
    return f" (did you mean {near!r}?)" if near else ""


# ---------------------------------------------------------------------------------------------------------------
# dataclass plumbing
# ---------------------------------------------------------------------------------------------------------------

C = TypeVar("C")


def _intent_type(cls: Type[C]) -> Type[C]:
    """A frozen keyword-only dataclass whose ``__init__`` names the closest field for a misspelt keyword."""
    cls = dataclass(frozen=True, kw_only=True)(cls)  # type: ignore[call-overload]
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        for k in kwargs:
            if k not in names:
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {k!r}{_did_you_mean(k, names)}")
        init(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls


def _check_choice(owner: str, name: str, value: Optional[str], allowed: Any) -> None:
    if value is None:
        return
    choices = get_args(allowed)
    if not isinstance(value, str):
        raise TypeError(f"{owner}.{name} must be a string, got {type(value).__name__}")
    if value.strip().lower() not in choices:  # the server trims and lowercases before checking
        raise ValueError(f"{owner}.{name}: unsupported value {value!r}{_did_you_mean(value.strip(), choices)}; "
                         f"allowed: {', '.join(choices)}")


def _coerce(owner: str, name: str, value: Any, cls: Type[C]) -> Optional[C]:
    """``value`` as a ``cls`` instance: an instance, or a mapping of its fields (misspelt keys are a TypeError)."""
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return cls(**dict(value))
    raise TypeError(f"{owner}.{name} must be a {cls.__name__} or a mapping of its fields, got {type(value).__name__}")


def _coerce_list(owner: str, name: str, value: Any, cls: Type[C]) -> Optional[Tuple[C, ...]]:
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise TypeError(f"{owner}.{name} must be a list of {cls.__name__}, got {type(value).__name__}")
    return tuple(_coerce(owner, f"{name}[{i}]", v, cls) for i, v in enumerate(value))  # type: ignore[misc]


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _json_value(v: Any, where: str) -> Any:
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return v.to_json()  # type: ignore[attr-defined]
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            raise ValueError(f"{where}: a datetime must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return v.isoformat()
    if isinstance(v, Mapping):
        return {str(k): _json_value(x, f"{where}.{k}") for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_value(x, f"{where}[{i}]") for i, x in enumerate(v)]
    return v


class _ToJson:
    def to_json(self) -> Dict[str, Any]:
        """The Gait intent JSON of this value: unset (None) fields are left out, datetimes become RFC 3339."""
        out: Dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if v is not None:
                out[f.name] = _json_value(v, f"{type(self).__name__}.{f.name}")
        return out


# ---------------------------------------------------------------------------------------------------------------
# the intent types
# ---------------------------------------------------------------------------------------------------------------

@_intent_type
class IntentTarget(_ToJson):
    """One resource the call touches; ``kind`` and ``value`` are required."""

    kind: TargetKind
    value: str
    operation: Optional[str] = None
    #: The data class matched by a rule's ``match.data_classes`` (free text, compared lowercased).
    sensitivity: Optional[str] = None
    endpoint_class: Optional[EndpointClass] = None
    endpoint_domain: Optional[str] = None
    discovery_method: Optional[DiscoveryMethod] = None
    destructive: Optional[bool] = None
    read_only_hint: Optional[bool] = None
    destructive_hint: Optional[bool] = None
    idempotent_hint: Optional[bool] = None
    open_world_hint: Optional[bool] = None

    def __post_init__(self) -> None:
        _check_choice("IntentTarget", "kind", self.kind, TargetKind)
        _check_choice("IntentTarget", "endpoint_class", self.endpoint_class, EndpointClass)
        _check_choice("IntentTarget", "discovery_method", self.discovery_method, DiscoveryMethod)


@_intent_type
class ArgProvenance(_ToJson):
    """Where one argument's value came from."""

    arg_path: str
    source: ProvenanceSource
    source_ref: Optional[str] = None
    integrity_digest: Optional[str] = None

    def __post_init__(self) -> None:
        _check_choice("ArgProvenance", "source", self.source, ProvenanceSource)


@_intent_type
class SkillProvenance(_ToJson):
    """The skill that produced the call; ``skill_name``, ``source`` and ``publisher`` are required."""

    skill_name: str
    source: str
    publisher: str
    skill_version: Optional[str] = None
    digest: Optional[str] = None
    signature_key_id: Optional[str] = None


@_intent_type
class DelegationLink(_ToJson):
    """One hop of a delegation chain."""

    delegator_identity: Optional[str] = None
    delegate_identity: Optional[str] = None
    scope_class: Optional[str] = None
    token_ref: Optional[str] = None
    issued_at: Optional[Timestamp] = None
    expires_at: Optional[Timestamp] = None


@_intent_type
class Delegation(_ToJson):
    """Who asked for the call on whose behalf."""

    requester_identity: str
    scope_class: Optional[str] = None
    token_refs: Optional[Sequence[str]] = None
    chain: Optional[Sequence[DelegationLink]] = None
    issued_at: Optional[Timestamp] = None
    expires_at: Optional[Timestamp] = None

    def __post_init__(self) -> None:
        _set(self, "chain", _coerce_list("Delegation", "chain", self.chain, DelegationLink))


@_intent_type
class AgentIdentity(_ToJson):
    """The declared identity of the calling agent."""

    lifecycle_states: Optional[Sequence[str]] = None
    owner: Optional[str] = None
    manifest_digest: Optional[str] = None
    publisher: Optional[str] = None
    source: Optional[str] = None
    issued_at: Optional[Timestamp] = None
    approved_at: Optional[Timestamp] = None
    expires_at: Optional[Timestamp] = None
    revoked: Optional[bool] = None


@_intent_type
class Sandbox(_ToJson):
    """The execution sandbox of the call."""

    network_mode: Optional[SandboxNetworkMode] = None
    writable_paths: Optional[Sequence[str]] = None
    read_only_roots: Optional[Sequence[str]] = None
    env_exposure_mode: Optional[SandboxEnvExposureMode] = None
    timeout_seconds: Optional[int] = None
    filesystem_isolation: Optional[SandboxFilesystemIsolation] = None
    user_mode: Optional[SandboxUserMode] = None
    evidence_ref: Optional[str] = None
    evidence_digest: Optional[str] = None

    def __post_init__(self) -> None:
        _check_choice("Sandbox", "network_mode", self.network_mode, SandboxNetworkMode)
        _check_choice("Sandbox", "env_exposure_mode", self.env_exposure_mode, SandboxEnvExposureMode)
        _check_choice("Sandbox", "filesystem_isolation", self.filesystem_isolation, SandboxFilesystemIsolation)
        _check_choice("Sandbox", "user_mode", self.user_mode, SandboxUserMode)


@_intent_type
class IntentContext(_ToJson):
    """Who calls, where, and at what risk. ``identity``, ``workspace`` and ``risk_class`` are required."""

    identity: str
    workspace: str
    #: Free text (see :data:`KnownRiskClass`).
    risk_class: str
    phase: Optional[Phase] = None
    agent_id: Optional[str] = None
    agent_identity: Optional[AgentIdentity] = None
    run_id: Optional[str] = None
    workflow_id: Optional[str] = None
    repo: Optional[str] = None
    environment: Optional[str] = None
    job_id: Optional[str] = None
    session_id: Optional[str] = None
    request_id: Optional[str] = None
    credential_ref: Optional[str] = None
    credential_source: Optional[CredentialSource] = None
    credential_access_type: Optional[CredentialAccessType] = None
    credential_issuer: Optional[str] = None
    credential_subject: Optional[str] = None
    credential_owner: Optional[str] = None
    credential_target_binding: Optional[str] = None
    credential_run_binding: Optional[str] = None
    credential_job_binding: Optional[str] = None
    credential_ttl_seconds: Optional[int] = None
    credential_scopes: Optional[Sequence[str]] = None
    approval_ref: Optional[str] = None
    wrkr_inventory_ref: Optional[str] = None
    agent_action_bom_ref: Optional[str] = None
    auth_context: Optional[JsonObject] = None
    sandbox: Optional[Sandbox] = None
    environment_fingerprint: Optional[str] = None
    #: Context-evidence claims are stripped by the server unless it holds a verified envelope (gate.md 4.10).
    context_set_digest: Optional[str] = None
    context_evidence_mode: Optional[ContextEvidenceMode] = None
    context_refs: Optional[Sequence[str]] = None

    def __post_init__(self) -> None:
        _check_choice("IntentContext", "phase", self.phase, Phase)
        _check_choice("IntentContext", "credential_source", self.credential_source, CredentialSource)
        _check_choice("IntentContext", "credential_access_type", self.credential_access_type, CredentialAccessType)
        _check_choice("IntentContext", "context_evidence_mode", self.context_evidence_mode, ContextEvidenceMode)
        _set(self, "agent_identity", _coerce("IntentContext", "agent_identity", self.agent_identity, AgentIdentity))
        _set(self, "sandbox", _coerce("IntentContext", "sandbox", self.sandbox, Sandbox))


@_intent_type
class ScriptStep(_ToJson):
    """One step of a multi-step intent."""

    tool_name: str
    args: Optional[JsonObject] = None
    targets: Optional[Sequence[IntentTarget]] = None
    arg_provenance: Optional[Sequence[ArgProvenance]] = None

    def __post_init__(self) -> None:
        _set(self, "targets", _coerce_list("ScriptStep", "targets", self.targets, IntentTarget))
        _set(self, "arg_provenance", _coerce_list("ScriptStep", "arg_provenance", self.arg_provenance, ArgProvenance))


@_intent_type
class Script(_ToJson):
    """A multi-step intent (1 to 64 steps); the server then names the tool ``script``."""

    steps: Sequence[ScriptStep]

    def __post_init__(self) -> None:
        _set(self, "steps", _coerce_list("Script", "steps", self.steps, ScriptStep))


@_intent_type
class Intent(_ToJson):
    """A Gait intent (``gait.gate.intent_request``). ``tool_name`` and ``context`` are required."""

    tool_name: str
    context: IntentContext
    #: Tool arguments (a JSON object); None means ``{}``.
    args: Optional[JsonObject] = None
    targets: Optional[Sequence[IntentTarget]] = None
    arg_provenance: Optional[Sequence[ArgProvenance]] = None
    skill_provenance: Optional[SkillProvenance] = None
    delegation: Optional[Delegation] = None
    script: Optional[Script] = None
    #: Copied into the trace record's ``created_at``; not part of the intent digest.
    created_at: Optional[Timestamp] = None
    producer_version: Optional[str] = None
    #: Pass-through metadata; not part of the intent digest.
    relationship: Optional[JsonObject] = None
    schema_id: Optional[str] = None
    schema_version: Optional[str] = None

    def __post_init__(self) -> None:
        _set(self, "context", _coerce("Intent", "context", self.context, IntentContext))
        _set(self, "targets", _coerce_list("Intent", "targets", self.targets, IntentTarget))
        _set(self, "arg_provenance", _coerce_list("Intent", "arg_provenance", self.arg_provenance, ArgProvenance))
        _set(self, "skill_provenance", _coerce("Intent", "skill_provenance", self.skill_provenance, SkillProvenance))
        _set(self, "delegation", _coerce("Intent", "delegation", self.delegation, Delegation))
        _set(self, "script", _coerce("Intent", "script", self.script, Script))


def target(kind: TargetKind, value: str, operation: Optional[str] = None, **extra: Any) -> IntentTarget:
    """One target: ``target("path", "/workspace/a.txt", "read")``; ``extra`` are the other IntentTarget fields."""
    return IntentTarget(kind=kind, value=value, operation=operation, **extra)


# ---------------------------------------------------------------------------------------------------------------
# raw JSON check
# ---------------------------------------------------------------------------------------------------------------

def check_intent_json(value: Any) -> Optional[str]:
    """The first unknown key of raw intent JSON, with its path and the closest field, or None.

    ``{"context": {"identiy": ...}}`` gives ``unknown field "context.identiy" (did you mean "identity"?)``. Keys are
    checked against the proto descriptor of IntentRequest (field names and their camelCase JSON names); free-form
    objects (args, auth_context, relationship) and values are left to the proto parser and the server.
    """
    from gait_client.gen.gait.gate.v1 import intent_pb2

    if not isinstance(value, Mapping):
        return "intent must be a JSON object"
    return _check_keys(intent_pb2.IntentRequest.DESCRIPTOR, value, "")


def _check_keys(desc: Any, obj: Mapping[str, Any], path: str) -> Optional[str]:
    by_name = {f.name: f for f in desc.fields}
    by_json = {f.json_name: f for f in desc.fields}
    for key, value in obj.items():
        f = by_name.get(key) or by_json.get(key)
        if f is None:
            near = closest(str(key), list(by_name))
            return f'unknown field "{path}{key}"' + (f' (did you mean "{near}"?)' if near else "")
        msg = f.message_type
        if msg is None or msg.full_name.startswith("google.protobuf."):
            continue
        repeated = getattr(f, "is_repeated", None)
        is_list = repeated if isinstance(repeated, bool) else f.label == f.LABEL_REPEATED
        if is_list and isinstance(value, (list, tuple)):
            for i, el in enumerate(value):
                if isinstance(el, Mapping):
                    err = _check_keys(msg, el, f"{path}{key}[{i}].")
                    if err:
                        return err
        elif isinstance(value, Mapping):
            err = _check_keys(msg, value, f"{path}{key}.")
            if err:
                return err
    return None


__all__ = [
    "AgentIdentity", "ArgProvenance", "ContextEvidenceMode", "CredentialAccessType", "CredentialSource", "Delegation",
    "DelegationLink", "DiscoveryMethod", "EndpointClass", "Intent", "IntentContext", "IntentTarget", "KnownOperation",
    "KnownRiskClass", "Phase", "ProvenanceSource", "Sandbox", "SandboxEnvExposureMode", "SandboxFilesystemIsolation",
    "SandboxNetworkMode", "SandboxUserMode", "Script", "ScriptStep", "SkillProvenance", "TargetKind", "Timestamp",
    "check_intent_json", "closest", "target",
]
