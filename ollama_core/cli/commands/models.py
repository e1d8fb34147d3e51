"""``list``, ``show``, ``ps``, ``pull``, ``push``, ``create``, ``cp`` and ``rm``: the models
on the server."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..._exceptions import InvalidRequestError, NotFoundError, ResponseError
from ..._types import CreateRequest, GenerateRequest, ModelEntry, ModelInfo
from ..errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CLIError, describe, report
from ..output.humanize import human_bytes, relative_time, short_digest
from ..output.progress import print_progress
from ..output.table import table
from ..session import Session

__all__ = ["copy", "create", "delete", "list_models", "ps", "pull", "push", "show", "stop"]


def list_models(session: Session) -> int:
    tags = session.client.list_models()
    if session.json:
        session.emit_json(tags.to_dict())
        return EXIT_OK
    rows = [(m.name, short_digest(m.digest), human_bytes(m.size), relative_time(m.modified_at))
            for m in tags.models]
    session.write(table(("NAME", "ID", "SIZE", "MODIFIED"), rows))
    return EXIT_OK


def _processor(entry: ModelEntry) -> str:
    """Where a loaded model sits, as ``ollama ps`` says it: ``100% GPU``, ``25%/75% CPU/GPU``."""
    size, vram = entry.size or 0, entry.size_vram or 0
    if size <= 0 or vram <= 0:
        return "100% CPU"
    if vram >= size:
        return "100% GPU"
    cpu = round(100 * (size - vram) / size)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def ps(session: Session) -> int:
    running = session.client.list_running()
    if session.json:
        session.emit_json(running.to_dict())
        return EXIT_OK
    rows = [(m.name, short_digest(m.digest), human_bytes(m.size), _processor(m),
             str(m.context_length or ""), relative_time(m.expires_at)) for m in running.models]
    session.write(table(("NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"), rows))
    return EXIT_OK


def _show_text(info: ModelInfo, verbose: bool) -> str:
    """A model's details laid out as ``ollama show`` prints them."""
    meta = info.model_info or {}
    arch = str(meta.get("general.architecture") or (info.details.family if info.details else ""))
    details = info.details
    lines: list[str] = []

    def section(title: str, pairs: Sequence[tuple[str, str]]) -> None:
        pairs = [(k, v) for k, v in pairs if v]
        if not pairs:
            return
        width = max(len(k) for k, _ in pairs) + 4
        lines.append(f"  {title}")
        lines.extend(f"    {k:<{width}}{v}".rstrip() for k, v in pairs)
        lines.append("")

    def meta_value(key: str) -> str:
        value = meta.get(f"{arch}.{key}")
        return "" if value is None else str(value)

    section("Model", [
        ("architecture", arch),
        ("parameters", details.parameter_size or "" if details else ""),
        ("context length", meta_value("context_length")),
        ("embedding length", meta_value("embedding_length")),
        ("quantization", details.quantization_level or "" if details else ""),
    ])
    if info.capabilities:
        lines.append("  Capabilities")
        lines.extend(f"    {c}" for c in info.capabilities)
        lines.append("")
    if info.parameters:
        lines.append("  Parameters")
        lines.extend(f"    {line}" for line in info.parameters.splitlines())
        lines.append("")
    if info.system:
        lines.append("  System")
        lines.extend(f"    {line}" for line in info.system.splitlines()[:2])
        lines.append("")
    if info.license:
        lines.append("  License")
        lines.extend(f"    {line}" for line in info.license.splitlines()[:2])
        lines.append("")
    if verbose:
        section("Metadata", [(k, json.dumps(v) if not isinstance(v, str) else v)
                             for k, v in sorted(meta.items())])
        if info.tensors:
            section("Tensors", [(str(t.get("name", "")),
                                 f"{t.get('type', '')}  {t.get('shape', '')}")
                                for t in info.tensors])
    return "\n".join(lines)


def show(session: Session) -> int:
    args = session.args
    info = session.client.model_info(args.model, verbose=args.verbose)
    if session.json:
        session.emit_json(info.to_dict())
    elif args.only:
        value = getattr(info, args.only) or ""
        session.write(value if value.endswith("\n") or not value else value + "\n")
    else:
        session.write("\n" + _show_text(info, args.verbose))
    return EXIT_OK


def pull(session: Session) -> int:
    args = session.args
    print_progress(session, session.client.pull_model_stream(args.model, insecure=args.insecure))
    return EXIT_OK


def push(session: Session) -> int:
    args = session.args
    print_progress(session, session.client.push_model_stream(args.model, insecure=args.insecure))
    return EXIT_OK


def _modelfile_request(session: Session, path: str) -> CreateRequest:
    """The create request of a Modelfile, its local files uploaded as blobs first."""
    from ..modelfile import ModelfileError, create_request, read

    try:
        modelfile = read(path)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from exc
    except ModelfileError as exc:
        raise CLIError(f"{path}: {exc}", EXIT_USAGE) from exc
    client = session.client

    def upload(file: Path) -> str:
        digest = client.push_blob(file)
        if session.json:
            session.emit_json({"status": "uploaded", "file": str(file), "digest": digest})
        else:
            session.write(f"uploaded {file.name} {short_digest(digest)}\n")
        return digest

    try:
        return create_request(modelfile, session.args.model, Path(path).parent, upload,
                              warn=session.warn)
    except ModelfileError as exc:
        raise CLIError(f"{path}: {exc}", EXIT_USAGE) from exc


def create(session: Session) -> int:
    """``create MODEL -f Modelfile`` (``./Modelfile`` by default) or ``--from BASE``;
    ``--system``, ``--template``, ``-q`` and ``-p`` set or override fields."""
    args = session.args
    path: str | None = args.modelfile
    if path is not None and args.base is not None:
        raise CLIError("-f and --from cannot be combined: put FROM in the Modelfile",
                       EXIT_USAGE)
    if path is None and args.base is None:
        if not Path("Modelfile").is_file():
            raise CLIError("create needs -f MODELFILE or --from BASE "
                           "(there is no ./Modelfile)", EXIT_USAGE)
        path = "Modelfile"
    overrides: dict[str, Any] = {
        key: value for key, value in (("system", args.system), ("template", args.template),
                                      ("quantize", args.quantize)) if value is not None}
    if path is None:
        request = CreateRequest(model=args.model, from_=args.base,
                                parameters=dict(args.parameter) or None, **overrides)
    else:
        body = _modelfile_request(session, path).to_dict()
        if args.parameter:
            body["parameters"] = {**(body.get("parameters") or {}), **dict(args.parameter)}
        request = CreateRequest.from_dict({**body, **overrides})
    print_progress(session, session.client.create_model_stream(request))
    return EXIT_OK


def stop(session: Session) -> int:
    """Unload a model now, as ``ollama stop`` does: a generate with ``keep_alive`` 0."""
    name = session.args.model
    try:
        reply = session.client.generate(GenerateRequest(model=name, keep_alive=0))
    except NotFoundError as exc:
        raise CLIError(f"couldn't find model {json.dumps(name)} to stop") from exc
    if session.json:
        session.emit_json({"status": "success", "model": name,
                           "done_reason": reply.done_reason})
    return EXIT_OK


def copy(session: Session) -> int:
    args = session.args
    session.client.copy_model(args.source, args.destination)
    if session.json:
        session.emit_json({"status": "success", "source": args.source,
                           "destination": args.destination})
    else:
        session.write(f"copied '{args.source}' to '{args.destination}'\n")
    return EXIT_OK


def delete(session: Session) -> int:
    """Delete every model named; one missing model does not stop the others."""
    deleted: list[str] = []
    errors: dict[str, str] = {}
    for name in session.args.models:
        try:
            session.client.delete_model(name)
        except (ResponseError, InvalidRequestError) as exc:
            message, code = describe(exc, session)
            errors[name] = message
            report(message, code, as_json=session.json, exc=exc, model=name)
            continue
        deleted.append(name)
        if not session.json:
            session.write(f"deleted '{name}'\n")
    if session.json:
        session.emit_json({"deleted": deleted, "errors": errors})
    return EXIT_ERROR if errors else EXIT_OK
