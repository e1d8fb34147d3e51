"""The command line's grammar: global options, one subcommand per job, argument types.

Handlers are named, not imported: each subcommand records ``"module:function"`` (a module
of :mod:`ollama_core.cli.commands`) as ``args.handler``, and only the command that runs is
imported. So ``--help``, ``--version`` and usage errors load nothing of the client.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["PROG", "REPL_HELP", "build_parser", "parse_args"]

PROG = "ollama-core"

#: The interactive chat's commands: printed by ``chat --help`` and by ``/?`` in the chat.
REPL_HELP = """\
Available commands:
  /clear    forget the conversation so far
  /bye      exit (so does end of input, Ctrl-D)
  /?, /help show this help

Start and end a message with \"\"\" to write several lines.
"""


# --------------------------------------------------------------------------------------
# Argument types
# --------------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A ``KEY=VALUE`` value: JSON when it parses (numbers, booleans, lists...), else text.

    ``retry.max_attempts=5`` must give the int 5 and ``failover.policy=priority`` the
    string, without making users quote strings for the shell *and* for JSON.
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def config_item(text: str) -> tuple[list[str], Any]:
    """``--config PLUGIN.KEY=VALUE`` -> (``[PLUGIN, KEY]``, value)."""
    key, sep, value = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise argparse.ArgumentTypeError(
            f"expected PLUGIN.KEY=VALUE (e.g. retry.max_attempts=5), got {text!r}")
    return path, parse_value(value)


def option_item(text: str) -> tuple[str, Any]:
    """``-o KEY=VALUE`` (a model option such as ``temperature=0.2``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. temperature=0.2), got {text!r}")
    return key.strip(), parse_value(value)


def plugin_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    return [] if names == ["none"] else names


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def think_level(text: str) -> str:
    lowered = text.lower()
    if lowered not in ("low", "medium", "high", "max"):
        raise argparse.ArgumentTypeError(f"expected low, medium, high or max, got {text!r}")
    return lowered


def output_format(text: str) -> str | dict[str, Any]:
    """``--format json``, a JSON schema inline, or ``@schema.json``."""
    if text == "json":
        return "json"
    source = text
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                source = f.read()
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {text[1:]}: {exc.strerror}") from None
    try:
        schema = json.loads(source)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected 'json', a JSON schema or @FILE with one") from None
    if not isinstance(schema, dict):
        raise argparse.ArgumentTypeError("a format schema must be a JSON object")
    return schema


# --------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each command sets ``args.handler`` to ``"module:function"``
    in :mod:`ollama_core.cli.commands`."""
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_Formatter,
        description="Talk to an Ollama server (or the embedded emulator) from the shell.",
        epilog="Run 'ollama-core COMMAND --help' for a command's options. "
               "'ollama-core demo' runs a guided tour against the emulator.")
    from .. import __version__

    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--host", metavar="URL",
                        help="the server (default: $OLLAMA_HOST, else http://localhost:11434)")
    target.add_argument("--emulator", action="store_true",
                        help="start an embedded emulator in this process and use it")
    parser.add_argument("--plugins", type=plugin_list, metavar="A,B",
                        help="plugins to enable ('full' = all built-ins, 'none' = none; "
                             "default: $OLLAMA_CORE_PLUGINS)")
    parser.add_argument("--config", action="append", type=config_item, default=[],
                        metavar="PLUGIN.KEY=VALUE",
                        help="plugin setting, repeatable; VALUE is JSON when it parses "
                             "(e.g. retry.max_attempts=5)")
    parser.add_argument("--json", action="store_true",
                        help="machine-readable output: one JSON document, NDJSON for streams")
    parser.add_argument("--timeout", type=positive_seconds, metavar="SECONDS",
                        help="first-byte and idle timeout of each request (default 120)")
    parser.add_argument("--events", action="store_true",
                        help="print each reliability event (retry, failover, breaker, health, "
                             "rate limit, cache) on stderr as it happens")
    parser.add_argument("--log-level", type=str.upper, metavar="LEVEL",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                        help="log records of this level and above on stderr "
                             "(DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    parser.add_argument("--debug", action="store_const", const="DEBUG", dest="log_level",
                        help="the debug log on stderr: --log-level DEBUG")

    # ``--json`` is also accepted after the command; SUPPRESS keeps the subparser from
    # overwriting a global ``--json`` with its own default.
    json_after = argparse.ArgumentParser(add_help=False)
    json_after.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: str, help_text: str,
                **kwargs: Any) -> argparse.ArgumentParser:
        command_parser = sub.add_parser(name, help=help_text, description=help_text,
                                        formatter_class=_Formatter, parents=[json_after],
                                        **kwargs)
        command_parser.set_defaults(handler=handler)
        return command_parser

    def generation_options(command_parser: argparse.ArgumentParser) -> None:
        add = command_parser.add_argument
        add("model", metavar="MODEL")
        # A default keeps argparse from calling an empty ``*`` list required.
        add("prompt", nargs="*", default=[], metavar="PROMPT",
            help="the prompt (words are joined); read from stdin when piped")
        add("--system", metavar="TEXT", help="system prompt")
        add("--format", type=output_format, metavar="json|SCHEMA|@FILE",
            help="structured output: 'json' or a JSON schema")
        # Not ``--think [LEVEL]``: an optional value would swallow the prompt after it.
        think = command_parser.add_mutually_exclusive_group()
        think.add_argument("--think", action="store_const", const=True, dest="think",
                           help="let a thinking model think")
        think.add_argument("--no-think", action="store_const", const=False, dest="think",
                           help="ask a thinking model not to think")
        think.add_argument("--think-level", type=think_level, dest="think",
                           metavar="LEVEL", help="how hard to think: low, medium, high, max")
        add("--hide-thinking", action="store_true", help="do not print the model's thinking")
        add("-o", "--option", action="append", type=option_item, default=[],
            metavar="KEY=VALUE", help="model option, repeatable (temperature=0)")
        add("--image", action="append", default=[], metavar="PATH",
            help="attach an image file (vision models), repeatable")
        add("--keep-alive", type=parse_value, metavar="DURATION",
            help="how long the model stays loaded (e.g. 5m, 0, -1)")
        add("--no-stream", action="store_true",
            help="wait for the whole answer instead of streaming it")
        add("--verbose", action="store_true",
            help="print timings and token rates to stderr afterwards")

    # -- generation ----------------------------------------------------------------------

    chat = command("chat", "generation:chat", "chat with a model (interactive without a prompt)",
                   aliases=["run"],
                   epilog="Interactive mode (no PROMPT on a terminal, or -i) reads one "
                          "message per line; Ctrl-C there drops the line being typed.\n"
                          + REPL_HELP)
    generation_options(chat)
    chat.add_argument("-i", "--interactive", action="store_true",
                      help="read one message per line from stdin until EOF or /bye")

    generate = command("generate", "generation:generate", "complete a prompt (POST /api/generate)")
    generation_options(generate)
    generate.add_argument("--suffix", metavar="TEXT", help="text after the completion (fill-in)")
    generate.add_argument("--raw", action="store_true",
                          help="send the prompt without the template")

    # -- models --------------------------------------------------------------------------

    command("list", "models:list_models", "list the models on the server", aliases=["ls"])

    show = command("show", "models:show", "show a model's details")
    show.add_argument("model", metavar="MODEL")
    show.add_argument("-v", "--verbose", action="store_true",
                      help="also print the full metadata and tensors")
    only = show.add_mutually_exclusive_group()
    for name in ("modelfile", "parameters", "template", "system", "license"):
        only.add_argument(f"--{name}", action="store_const", const=name, dest="only",
                          help=f"print only the {name}")

    command("ps", "models:ps", "list the models loaded in memory")

    for name, help_text in (("pull", "pull a model from the registry"),
                            ("push", "push a model to the registry")):
        transfer = command(name, f"models:{name}", help_text)
        transfer.add_argument("model", metavar="MODEL")
        transfer.add_argument("--insecure", action="store_true",
                              help="allow an insecure registry")

    create = command("create", "models:create",
                     "create a model from a Modelfile or from another model",
                     epilog="Without -f or --from, ./Modelfile is read. Local files named by "
                            "FROM or ADAPTER\nare uploaded as blobs first. --system, "
                            "--template and -p override the Modelfile.")
    create.add_argument("model", metavar="MODEL")
    create.add_argument("-f", "--file", dest="modelfile", metavar="MODELFILE",
                        help="the Modelfile to read (FROM, PARAMETER, TEMPLATE, SYSTEM, "
                             "ADAPTER, LICENSE, MESSAGE)")
    create.add_argument("--from", dest="base", metavar="BASE",
                        help="the model to start from (instead of a Modelfile's FROM)")
    create.add_argument("--system", metavar="TEXT", help="system prompt of the new model")
    create.add_argument("--template", metavar="TEXT", help="prompt template of the new model")
    create.add_argument("-q", "--quantize", metavar="LEVEL",
                        help="quantize the weights (e.g. q4_K_M)")
    create.add_argument("-p", "--parameter", action="append", type=option_item, default=[],
                        metavar="KEY=VALUE", help="default model parameter, repeatable")

    stop = command("stop", "models:stop", "unload a running model (keep_alive 0)")
    stop.add_argument("model", metavar="MODEL")

    copy = command("cp", "models:copy", "copy a model", aliases=["copy"])
    copy.add_argument("source", metavar="SOURCE")
    copy.add_argument("destination", metavar="DESTINATION")

    delete = command("rm", "models:delete", "delete models", aliases=["delete"])
    delete.add_argument("models", nargs="+", metavar="MODEL")

    # -- generation, continued: embeddings -------------------------------------------------

    embed = command("embed", "generation:embed", "embed texts (one vector per text)")
    embed.add_argument("model", metavar="MODEL")
    embed.add_argument("texts", nargs="*", default=[], metavar="TEXT",
                       help="texts to embed; one per line from stdin when none is given")
    embed.add_argument("--dimensions", type=int, metavar="N", help="cut the vectors to N")
    embed.add_argument("--no-truncate", action="store_true",
                       help="fail instead of truncating inputs longer than the context")

    # -- server --------------------------------------------------------------------------

    command("health", "server:health",
            "check the server (and each upstream when health_checks is enabled)")

    emulator = command("emulator", "server:emulator", "serve the embedded Ollama emulator")
    emulator.add_argument("--host", dest="bind_host", default="127.0.0.1", metavar="HOST",
                          help="address to listen on (default 127.0.0.1)")
    emulator.add_argument("--port", dest="bind_port", type=port_number, default=11434,
                          metavar="PORT", help="port (default 11434; 0 picks a free one)")
    emulator.add_argument("--chunk-delay", type=float, default=0.0, metavar="SECONDS",
                          help="pause between stream chunks")

    command("version", "server:version", "print the client's and the server's versions")

    command("status", "server:status", "say whether the server's cloud features are enabled")

    # -- the web -------------------------------------------------------------------------

    web_epilog = ("Sent through the server (its /api/experimental routes) unless --cloud, "
                  "which sends it\nto ollama.com ($OLLAMA_CLOUD_URL if set) with the key in "
                  "$OLLAMA_API_KEY.")
    search = command("web-search", "web:web_search", "search the web", epilog=web_epilog)
    search.add_argument("query", nargs="+", metavar="QUERY", help="what to search for "
                        "(words are joined)")
    search.add_argument("--max-results", type=positive_int, metavar="N",
                        help="most results to return (default 3)")
    search.add_argument("--cloud", action="store_true",
                        help="ask ollama.com directly, with $OLLAMA_API_KEY")
    fetch = command("web-fetch", "web:web_fetch", "fetch a web page as text", epilog=web_epilog)
    fetch.add_argument("url", metavar="URL")
    fetch.add_argument("--cloud", action="store_true",
                       help="ask ollama.com directly, with $OLLAMA_API_KEY")

    demo = command("demo", "demo:demo",
                   "a guided tour of the client and its plugins against the emulator",
                   epilog="The API tour runs against the embedded emulator, or against "
                          "--host URL ('env' = $OLLAMA_HOST);\nthe reliability part always "
                          "uses emulators, since it breaks them on purpose.")
    # Also accepted after the command (``demo --host URL``), as before it was one.
    demo.add_argument("--host", default=argparse.SUPPRESS, metavar="URL",
                      help="a real server for the API tour ('env' = $OLLAMA_HOST)")
    demo.add_argument("--no-reliability", action="store_true",
                      help="skip the fault-injection part")
    return parser


#: Positional lists that words after an option still belong to.
_TRAILING_WORDS = ("prompt", "texts", "models", "query")


def parse_args(parser: argparse.ArgumentParser,
               argv: Sequence[str] | None) -> argparse.Namespace:
    """``parse_args``, except that words after an option join the command's trailing list.

    argparse fills ``MODEL [PROMPT ...]`` in one go, so in ``chat qwen3 --think why`` the
    prompt would be empty and ``why`` unrecognized; ``parse_intermixed_args`` would fix
    that but does not support subcommands.
    """
    args, extras = parser.parse_known_args(argv)
    target = next((name for name in _TRAILING_WORDS
                   if isinstance(getattr(args, name, None), list)), None)
    if extras and target is not None and not any(
            e.startswith("-") and len(e) > 1 for e in extras):
        setattr(args, target, [*getattr(args, target), *extras])  # never the shared default
        extras = []
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args
