"""``python -m ollama_core`` / ``ollama-core``: the command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "demo":
        from ._demo import main as demo_main

        return demo_main(args[1:])
    from ._cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
