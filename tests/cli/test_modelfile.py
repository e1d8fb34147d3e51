"""Modelfiles: what ``create -f`` reads, and the create request it makes of one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ollama_core.cli.modelfile import ModelfileError, create_request, parse


def commands(text: str) -> list[tuple[str, str | None, str, int]]:
    return [(c.name, c.key, c.value, c.line) for c in parse(text).commands]


def test_every_instruction_with_comments_and_any_case() -> None:
    text = '''\
# leading comment
  from llama3.2
Parameter temperature 0.2
PARAMETER stop "<|eot|>"

TEMPLATE """{{ .System }}
{{ .Prompt }}"""
SYSTEM "say "hi" please"
ADAPTER ./lora.gguf
LICENSE """
MIT
"""
MESSAGE user Hello # not a comment: values run to the end of the line
message assistant "Hi there"
RENDERER qwen3
PARSER qwen3
REQUIRES 0.12.0
'''
    assert commands(text) == [
        ("from", None, "llama3.2", 2),
        ("parameter", "temperature", "0.2", 3),
        ("parameter", "stop", "<|eot|>", 4),
        ("template", None, "{{ .System }}\n{{ .Prompt }}", 6),
        ("system", None, 'say "hi" please', 8),
        ("adapter", None, "./lora.gguf", 9),
        ("license", None, "\nMIT\n", 10),
        ("message", "user", "Hello # not a comment: values run to the end of the line", 13),
        ("message", "assistant", "Hi there", 14),
        ("renderer", None, "qwen3", 15),
        ("parser", None, "qwen3", 16),
        ("requires", None, "0.12.0", 17),
    ]


def test_windows_line_endings_and_a_byte_order_mark() -> None:
    assert commands('\ufeffFROM m\r\nSYSTEM """a\r\nb"""\r\n') == [
        ("from", None, "m", 1), ("system", None, "a\nb", 2)]


@pytest.mark.parametrize(("text", "message"), [
    ("SYSTEM hi\n", "no FROM line"),
    ("FROM m\nFRUM x\n", "line 2: unknown command 'FRUM'"),
    ("FROM m\n  = x\n", "line 2: unknown command '= x'"),
    ("FROM m\nMESSAGE robot hi\n", "line 2: message role must be system, user or assistant"),
    ("FROM m\nMESSAGE user\n", "line 2: MESSAGE needs a role and a message"),
    ("FROM m\nPARAMETER temperature\n", "line 2: PARAMETER needs a parameter name"),
    ("FROM m\nTEMPLATE \"\"\"{{ .Prompt }}\n", 'line 2: unterminated """ value'),
    ("FROM m\nSYSTEM \"hi\n", "line 2: unterminated \" value"),
    ("FROM m\nSYSTEM \"\"\"a\nb\"\"\" trailing\n", 'line 3: unexpected text after the closing """'),
    ("FROM\n", "line 1: FROM needs a value"),
    ("FROM m\nSYSTEM", "line 2: SYSTEM needs a value"),
    ("FROM m\nADAPTER   \n", "line 2: ADAPTER needs a value"),
])
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ModelfileError) as caught:
        parse(text)
    assert str(caught.value).startswith(message)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Uploads:
    """Stands in for ``client.push_blob``: records the paths, returns their digests."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def __call__(self, path: Path) -> str:
        self.paths.append(path)
        return digest(path.read_bytes())


def test_a_model_name_and_typed_parameters() -> None:
    uploads = Uploads()
    warnings: list[str] = []
    modelfile = parse("FROM llama3.2\nPARAMETER num_ctx 8192\nPARAMETER temperature 1\n"
                      "PARAMETER use_mmap false\nPARAMETER stop a\nPARAMETER stop b\n"
                      "PARAMETER mirostat 1\nLICENSE one\nLICENSE two\nREQUIRES v0.12.0\n"
                      "MESSAGE system Be brief.\n")
    request = create_request(modelfile, "mine", "/nowhere", uploads, warn=warnings.append)
    assert uploads.paths == []
    assert request.to_dict() == {
        "model": "mine", "from": "llama3.2", "license": ["one", "two"],
        "parameters": {"num_ctx": 8192, "temperature": 1.0, "use_mmap": False,
                       "stop": ["a", "b"]},
        "messages": [{"role": "system", "content": "Be brief."}],
        "requires": "0.12.0",
    }
    assert warnings == ["warning: parameter mirostat is deprecated"]


@pytest.mark.parametrize(("line", "message"), [
    ("PARAMETER num_ctx big", "line 2: PARAMETER num_ctx: expected an integer, got 'big'"),
    ("PARAMETER top_p high", "line 2: PARAMETER top_p: expected a number, got 'high'"),
    ("PARAMETER use_mmap maybe", "line 2: PARAMETER use_mmap: expected true or false"),
    ("PARAMETER tempreature 1", "line 2: unknown parameter 'tempreature'"),
    ("ADAPTER ./missing.gguf", "line 2: ADAPTER ./missing.gguf: no such file or directory"),
])
def test_bad_values_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ModelfileError) as caught:
        create_request(parse(f"FROM m\n{line}\n"), "mine", tmp_path, Uploads())
    assert str(caught.value).startswith(message)


def test_local_files_are_uploaded_relative_to_the_modelfile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "weights.gguf").write_bytes(b"weights")
    home = tmp_path / "home"
    home.mkdir()
    (home / "lora.gguf").write_bytes(b"lora")
    monkeypatch.setenv("HOME", str(home))
    uploads = Uploads()
    modelfile = parse("FROM weights.gguf\nADAPTER ~/lora.gguf\n")
    request = create_request(modelfile, "mine", tmp_path, uploads)
    assert uploads.paths == [tmp_path / "weights.gguf", home / "lora.gguf"]
    assert request.from_ is None
    assert request.files == {"weights.gguf": digest(b"weights")}
    assert request.adapters == {"lora.gguf": digest(b"lora")}


def test_a_model_directory_sends_its_weights_config_and_tokenizer(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                 "config.json", "tokenizer.json", "tokenizer.model", "README.md"):
        (model / name).write_bytes(name.encode())
    request = create_request(parse("FROM ./model\n"), "mine", tmp_path, Uploads())
    assert request.files is not None
    assert sorted(request.files) == [
        "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "tokenizer.json", "tokenizer.model"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelfileError, match="no model files"):
        create_request(parse("FROM ./empty\n"), "mine", tmp_path, Uploads())
