"""The emulator's model store: model records, the built-in catalogue, names and durations.

Everything here is deterministic: digests and layer sizes are derived from model names,
so two emulators (or two runs) describe the same model identically.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ._wire import go_quote

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_REGISTRY",
    "ModelRecord",
    "build_model_map",
    "full_name",
    "is_valid_name",
    "normalize_name",
    "parse_go_duration",
    "sha256_hex",
]

# Where real Ollama keeps its files; it appears in Modelfiles and in some error texts.
MODELS_DIR: Final = "/root/.ollama/models"
_DEFAULT_HOST: Final = "registry.ollama.ai"
_DEFAULT_NAMESPACE: Final = "library"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- names

# The parts of `[host/][namespace/]model[:tag]` as Go's model.ParseName accepts them.
_PART = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}"
_NAME_RE: Final = re.compile(
    rf"^(?:(?P<host>[A-Za-z0-9][A-Za-z0-9_.\-:]*)/)??(?:(?P<ns>{_PART})/)?"
    rf"(?P<model>{_PART})(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.\-]{{0,79}}))?$"
)


def is_valid_name(name: str) -> bool:
    return bool(name) and _NAME_RE.match(name) is not None


def normalize_name(name: str) -> str:
    """The short canonical form: ``llama3.2`` -> ``llama3.2:latest``, and the default
    ``registry.ollama.ai/library/`` prefix dropped (as ``/api/tags`` displays names)."""
    name = name.strip()
    prefix = f"{_DEFAULT_HOST}/{_DEFAULT_NAMESPACE}/"
    if name.lower().startswith(prefix):
        name = name[len(prefix) :]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    return name


def full_name(name: str) -> str:
    """``llava:latest`` -> ``registry.ollama.ai/library/llava:latest`` (Go's Name.String)."""
    name = normalize_name(name)
    parts = name.split("/")
    if len(parts) == 1:
        return f"{_DEFAULT_HOST}/{_DEFAULT_NAMESPACE}/{name}"
    if len(parts) == 2:
        return f"{_DEFAULT_HOST}/{name}"
    return name


# ----------------------------------------------------------------------- durations

_DURATION_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART: Final = re.compile(r"(\d*\.?\d*)([^\d.]*)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (``"5m"``, ``"1h30m"``, ``"-1m"``, ``"0"``).

    Raises ``ValueError`` with Go's own message for strings ``time.ParseDuration``
    rejects, because that message is what the server returns with the 400.
    """
    original = text
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise ValueError(f"time: invalid duration {go_quote(original)}")
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None or not match.group(1) or match.group(1) == ".":
            raise ValueError(f"time: invalid duration {go_quote(original)}")
        number, unit = match.group(1), match.group(2)
        if not unit:
            raise ValueError(f"time: missing unit in duration {go_quote(original)}")
        if unit not in _DURATION_UNITS:
            raise ValueError(
                f"time: unknown unit {go_quote(unit)} in duration {go_quote(original)}"
            )
        total += float(number) * _DURATION_UNITS[unit]
        pos = match.end()
    return sign * total


# -------------------------------------------------------------------------- records


@dataclass
class ModelRecord:
    """One model as the emulated server knows it. Mutable: tests may edit fields.

    ``capabilities`` drive the protocol checks (``completion``, ``tools``, ``thinking``,
    ``vision``, ``insert``, ``embedding``, and ``decision`` for System One).
    ``embedding_dims`` is the length of the vectors ``/api/embed`` returns (``None``:
    ``embedding_length`` for embedding models, 768 for the rest).
    """

    name: str
    family: str
    parameter_size: str
    quantization_level: str
    capabilities: list[str]
    size: int
    modified_at: str
    families: list[str] | None = None
    architecture: str | None = None
    parameter_count: int = 0
    context_length: int = 4096
    embedding_length: int = 4096
    embedding_dims: int | None = None
    parent_model: str = ""
    format: str = "gguf"
    template: str = "{{ .Prompt }}"
    system: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    license: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    digest: str = ""

    def __post_init__(self) -> None:
        self.name = normalize_name(self.name)
        if not self.digest:
            self.digest = sha256_hex(self.name)
        if self.families is None:
            self.families = [self.family]
        if self.architecture is None:
            self.architecture = self.family

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def vector_dims(self) -> int:
        if self.embedding_dims is not None:
            return self.embedding_dims
        return self.embedding_length if self.has("embedding") else 768

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": self.parent_model,
            "format": self.format,
            "family": self.family,
            "families": list(self.families or []),
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def clone(self, **changes: Any) -> ModelRecord:
        """A deep copy with some fields replaced (the digest is recomputed for a new
        name unless given, which is what ``/api/copy`` must not do: it passes it)."""
        fresh = copy.deepcopy(self)
        if "name" in changes and "digest" not in changes:
            changes["digest"] = ""
        return dataclasses.replace(fresh, **changes)

    def layers(self) -> list[tuple[str, int]]:
        """``(digest, size)`` of the blobs a pull or push moves: the weights, the
        template, the licence and the parameters, as real manifests have them."""
        small = [len(self.template.encode()) or 1, len(self.license.encode()) or 1, 96]
        weights = max(self.size - sum(small), 1)
        seeds = ["model", "template", "license", "params"]
        sizes = [weights, *small]
        return [
            ("sha256:" + sha256_hex(f"{self.name}/{self.digest}/{seed}"), size)
            for seed, size in zip(seeds, sizes, strict=True)
        ]

    # -------------------------------------------------------------- /api/show

    def parameters_text(self) -> str:
        """The ``parameters`` block: Go's ``fmt.Sprintf("%-30s %#v", key, value)``."""
        lines: list[str] = []
        for key in sorted(self.parameters):
            value = self.parameters[key]
            values = value if isinstance(value, list) else [value]
            lines.extend(f"{key:<30} {_go_value(item)}" for item in values)
        return "\n".join(lines)

    def modelfile(self) -> str:
        weights = self.layers()[0][0].replace(":", "-")
        out = [
            '# Modelfile generated by "ollama show"',
            "# To build a new Modelfile based on this, replace FROM with:",
            f"# FROM {self.name}",
            "",
            f"FROM {MODELS_DIR}/blobs/{weights}",
            f'TEMPLATE """{self.template}"""',
        ]
        if self.system:
            out.append(f'SYSTEM """{self.system}"""')
        for key in sorted(self.parameters):
            value = self.parameters[key]
            for item in value if isinstance(value, list) else [value]:
                out.append(f"PARAMETER {key} {_plain_value(item)}")
        for message in self.messages:
            out.append(f"MESSAGE {message.get('role', '')} {message.get('content', '')}")
        if self.license:
            out.append(f'LICENSE """{self.license}"""')
        return "\n".join(out) + "\n"

    def model_info(self, verbose: bool) -> dict[str, Any]:
        """GGUF-style key/values. Arrays of more than five items are empty unless
        ``verbose``, as in Ollama."""
        arch = self.architecture or self.family
        embedding = self.has("embedding")
        vocab = ["<s>", "</s>", "<unk>", "!", '"', "#", "$", "%", "&", "'", "(", ")"]
        info: dict[str, Any] = {
            "general.architecture": arch,
            "general.basename": self.name.split(":")[0].rsplit("/", 1)[-1],
            "general.file_type": _FILE_TYPES.get(self.quantization_level, 15),
            "general.parameter_count": self.parameter_count,
            "general.quantization_version": 2,
            f"{arch}.attention.head_count": 12 if embedding else 32,
            f"{arch}.block_count": 12 if embedding else 28,
            f"{arch}.context_length": self.context_length,
            f"{arch}.embedding_length": self.embedding_length,
            f"{arch}.feed_forward_length": self.embedding_length * 4,
            "tokenizer.ggml.bos_token_id": 0,
            "tokenizer.ggml.eos_token_id": 1,
            "tokenizer.ggml.model": "bert" if embedding else "gpt2",
            "tokenizer.ggml.merges": ["Ġ t", "Ġ a", "i n"],
            "tokenizer.ggml.token_type": [3, 3, 2, *([1] * 9)],
            "tokenizer.ggml.tokens": vocab,
        }
        if embedding:
            info[f"{arch}.pooling_type"] = 1
        if self.has("vision"):
            info[f"{arch}.vision.block_count"] = 24
        if not verbose:
            # Ollama's getModelData: without verbose, an array of more than five items
            # is sent empty; shorter ones are kept.
            for key, value in info.items():
                if isinstance(value, list) and len(value) > _SHOWN_ARRAY_ITEMS:
                    info[key] = []
        return dict(sorted(info.items()))

    def tensors(self) -> list[dict[str, Any]]:
        width = self.embedding_length
        return [
            {"name": "token_embd.weight", "type": "Q4_K", "shape": [width, 32000]},
            {"name": "blk.0.attn_q.weight", "type": "Q4_K", "shape": [width, width]},
            {"name": "output_norm.weight", "type": "F32", "shape": [width]},
        ]

    def show(self, verbose: bool) -> dict[str, Any]:
        """The ``/api/show`` body (Go's ShowResponse field order, empty fields left out)."""
        body: dict[str, Any] = {
            "license": self.license,
            "modelfile": self.modelfile(),
            "parameters": self.parameters_text(),
            "template": self.template,
        }
        if self.system:
            body["system"] = self.system
        body["details"] = self.details()
        if self.messages:
            body["messages"] = [
                {"role": m.get("role", ""), "content": m.get("content", "")}
                for m in self.messages
            ]
        body["model_info"] = self.model_info(verbose)
        body["tensors"] = self.tensors()
        body["capabilities"] = list(self.capabilities)
        body["modified_at"] = self.modified_at
        return {key: value for key, value in body.items() if value != ""}

    def recommendation(self) -> dict[str, Any]:
        """A ``/api/experimental/model-recommendations`` entry for this model, in the
        shape the server's local entries have (a cloud entry would carry
        ``max_output_tokens`` and ``required_plan`` instead of ``vram_bytes``)."""
        uses = " and ".join(self.capabilities) or "completion"
        return {
            "model": self.name.removesuffix(":latest"),
            "description": f"{self.family} {self.parameter_size}: {uses}",
            "context_length": self.context_length,
            "vram_bytes": self.size,
        }

    def listing(self) -> dict[str, Any]:
        """One ``/api/tags`` entry."""
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": self.modified_at,
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
        }


# server/routes.go getModelData: `len(t) > 5` arrays are emptied when not verbose.
_SHOWN_ARRAY_ITEMS: Final = 5

_FILE_TYPES: Final = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q4_K_M": 15}


def _go_value(value: Any) -> str:
    """Go's ``%#v`` for the JSON values a parameter can hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    if isinstance(value, str):
        return go_quote(value)
    return str(value)


def _plain_value(value: Any) -> str:
    return value if isinstance(value, str) else _go_value(value)


# ----------------------------------------------------------------------- catalogue

_LLAMA_TEMPLATE: Final = (
    "<|start_header_id|>system<|end_header_id|>\n\n"
    "{{ if .System }}{{ .System }}{{ end }}"
    "{{ if .Tools }}You are a helpful assistant with tool calling capabilities.{{ end }}"
    "<|eot_id|>{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_QWEN3_TEMPLATE: Final = (
    "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{ if .Tools }}<|im_start|>system\n# Tools\n{{ range .Tools }}{{ . }}{{ end }}"
    "<|im_end|>\n{{ end }}{{ range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)
_INST_TEMPLATE: Final = "[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]"
_CODER_TEMPLATE: Final = (
    "{{ if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>"
    "{{ else }}{{ if .Tools }}# Tools{{ end }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n"
    "<|im_start|>assistant\n{{ end }}"
)
_LLAMA_LICENSE: Final = (
    "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\nLlama 3.2 Version Release Date: September 25, 2024"
)
_APACHE: Final = "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/"


def _record(**kwargs: Any) -> ModelRecord:
    return ModelRecord(**kwargs)


_DEFAULTS: Final[list[ModelRecord]] = [
    _record(
        name="llama3.2:latest",
        family="llama",
        parameter_size="3.2B",
        quantization_level="Q4_K_M",
        capabilities=["completion", "tools"],
        size=2019393189,
        modified_at="2025-05-04T17:37:44.706015396-07:00",
        parameter_count=3212749888,
        context_length=131072,
        embedding_length=3072,
        template=_LLAMA_TEMPLATE,
        parameters={"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
        license=_LLAMA_LICENSE,
    ),
    _record(
        name="qwen3:latest",
        family="qwen3",
        parameter_size="8.2B",
        quantization_level="Q4_K_M",
        capabilities=["completion", "tools", "thinking"],
        size=5225388164,
        modified_at="2025-05-03T09:12:05.129381723-07:00",
        parameter_count=8190735360,
        context_length=40960,
        embedding_length=4096,
        template=_QWEN3_TEMPLATE,
        parameters={
            "repeat_penalty": 1,
            "stop": ["<|im_start|>", "<|im_end|>"],
            "temperature": 0.6,
            "top_k": 20,
            "top_p": 0.95,
        },
        license=_APACHE,
    ),
    _record(
        name="llava:latest",
        family="llama",
        families=["llama", "clip"],
        parameter_size="7B",
        quantization_level="Q4_0",
        capabilities=["completion", "vision"],
        size=4733363377,
        modified_at="2025-05-02T14:40:11.51001236-07:00",
        parameter_count=7241732096,
        context_length=32768,
        embedding_length=4096,
        template=_INST_TEMPLATE,
        parameters={"stop": ["[INST]", "[/INST]"]},
        license=_APACHE,
    ),
    _record(
        name="all-minilm:latest",
        family="bert",
        parameter_size="23M",
        quantization_level="F16",
        capabilities=["embedding"],
        size=45960996,
        modified_at="2025-05-01T08:03:27.004118-07:00",
        parameter_count=22565376,
        context_length=512,
        embedding_length=384,
        template="{{ .Prompt }}",
        license=_APACHE,
    ),
    _record(
        name="nomic-embed-text:latest",
        family="nomic-bert",
        parameter_size="137M",
        quantization_level="F16",
        capabilities=["embedding"],
        size=274302450,
        modified_at="2025-04-30T19:55:02.38164-07:00",
        parameter_count=136727040,
        context_length=2048,
        embedding_length=768,
        template="{{ .Prompt }}",
        parameters={"num_ctx": 8192},
        license=_APACHE,
    ),
]

_PULLABLE: Final[list[ModelRecord]] = [
    _record(
        name="mistral:latest",
        family="llama",
        parameter_size="7.2B",
        quantization_level="Q4_K_M",
        capabilities=["completion", "tools"],
        size=4372824384,
        modified_at="2025-03-11T10:00:00-07:00",
        parameter_count=7248023552,
        context_length=32768,
        embedding_length=4096,
        template="{{ if .Tools }}[AVAILABLE_TOOLS]{{ end }}" + _INST_TEMPLATE,
        parameters={"stop": ["[INST]", "[/INST]"]},
        license=_APACHE,
    ),
    _record(
        name="gemma3:latest",
        family="gemma3",
        parameter_size="4.3B",
        quantization_level="Q4_K_M",
        capabilities=["completion", "vision"],
        size=3338801804,
        modified_at="2025-03-12T10:00:00-07:00",
        parameter_count=4299915632,
        context_length=131072,
        embedding_length=2560,
        template="<start_of_turn>user\n{{ .Prompt }}<end_of_turn>\n<start_of_turn>model\n",
        parameters={"stop": ["<end_of_turn>"], "temperature": 1, "top_k": 64, "top_p": 0.95},
        license="Gemma Terms of Use",
    ),
    _record(
        name="phi4:latest",
        family="phi3",
        parameter_size="14.7B",
        quantization_level="Q4_K_M",
        capabilities=["completion"],
        size=9053116391,
        modified_at="2025-03-13T10:00:00-07:00",
        parameter_count=14659507200,
        context_length=16384,
        embedding_length=5120,
        template="<|im_start|>user<|im_sep|>{{ .Prompt }}<|im_end|><|im_start|>assistant<|im_sep|>",
        parameters={"stop": ["<|im_start|>", "<|im_end|>", "<|im_sep|>"]},
        license="MIT License",
    ),
    _record(
        name="tinyllama:latest",
        family="llama",
        parameter_size="1B",
        quantization_level="Q4_0",
        capabilities=["completion"],
        size=637700138,
        modified_at="2025-03-14T10:00:00-07:00",
        parameter_count=1100048384,
        context_length=2048,
        embedding_length=2048,
        template="<|user|>\n{{ .Prompt }}</s>\n<|assistant|>\n",
        parameters={"stop": ["<|system|>", "<|user|>", "<|assistant|>", "</s>"]},
        license=_APACHE,
    ),
    # The one catalogue model with `insert` (fill-in-the-middle), so `suffix` can be
    # exercised: real Ollama rejects `suffix` for models whose template lacks it.
    _record(
        name="qwen2.5-coder:latest",
        family="qwen2",
        parameter_size="7.6B",
        quantization_level="Q4_K_M",
        capabilities=["completion", "tools", "insert"],
        size=4683087332,
        modified_at="2025-03-15T10:00:00-07:00",
        parameter_count=7615616512,
        context_length=32768,
        embedding_length=3584,
        template=_CODER_TEMPLATE,
        parameters={"stop": ["<|im_start|>", "<|im_end|>"]},
        license=_APACHE,
    ),
    # A System One decision model (``POST /v1/systemone``), as ollama-python's README
    # names one; it answers decisions only (no chat, no generate).
    _record(
        name="nimble:latest",
        family="systemone",
        parameter_size="1.2B",
        quantization_level="Q8_0",
        capabilities=["decision"],
        size=1_310_720_000,
        modified_at="2025-03-16T10:00:00-07:00",
        parameter_count=1_200_000_000,
        context_length=32768,
        embedding_length=2048,
        template="{{ .Prompt }}",
        license=_APACHE,
    ),
]

#: The models a fresh emulator has installed (read-only; each emulator gets copies).
DEFAULT_MODELS: Final[Mapping[str, ModelRecord]] = MappingProxyType(
    {record.name: record for record in _DEFAULTS}
)
#: What ``/api/pull`` can fetch by default: the default models plus a few more.
DEFAULT_REGISTRY: Final[Mapping[str, ModelRecord]] = MappingProxyType(
    {record.name: record for record in [*_DEFAULTS, *_PULLABLE]}
)


def generic_record(name: str) -> ModelRecord:
    """A plain llama-like chat model for a name the catalogue does not know."""
    return ModelRecord(
        name=name,
        family="llama",
        parameter_size="1B",
        quantization_level="Q4_K_M",
        capabilities=["completion"],
        size=800_000_000 + int(sha256_hex(normalize_name(name))[:6], 16),
        modified_at="2025-01-01T00:00:00Z",
        parameter_count=1_000_000_000,
        context_length=8192,
        embedding_length=2048,
        template=_LLAMA_TEMPLATE,
    )


def build_model_map(
    models: Mapping[str, ModelRecord] | Iterable[str | ModelRecord] | None,
    default: Mapping[str, ModelRecord],
) -> dict[str, ModelRecord]:
    """Private, mutable copies keyed by canonical name.

    Accepts a mapping of records, or an iterable of records and names; a name is looked
    up in the catalogue and falls back to :func:`generic_record`.
    """
    if models is None:
        return {name: copy.deepcopy(record) for name, record in default.items()}
    items: Iterable[str | ModelRecord]
    items = models.values() if isinstance(models, Mapping) else models
    out: dict[str, ModelRecord] = {}
    for item in items:
        if isinstance(item, ModelRecord):
            record = copy.deepcopy(item)
        else:
            known = DEFAULT_REGISTRY.get(normalize_name(item))
            record = copy.deepcopy(known) if known is not None else generic_record(item)
        out[record.name] = record
    return out
