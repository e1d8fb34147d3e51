"""``web-search`` and ``web-fetch``: the web, through the server or straight from ollama.com.

``--cloud`` uses the client's cloud path (``cloud=True``): the key comes from
``OLLAMA_API_KEY`` and never from the command line, where other users of the machine could
read it in the process list.
"""

from __future__ import annotations

from ..errors import EXIT_OK
from ..session import Session

__all__ = ["web_fetch", "web_search"]


def _indented(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line else "" for line in text.splitlines())


def web_search(session: Session) -> int:
    args = session.args
    kwargs = {} if args.max_results is None else {"max_results": args.max_results}
    answer = session.client.web_search(" ".join(args.query), cloud=args.cloud, **kwargs)
    if session.json:
        session.emit_json(answer.to_dict())
        return EXIT_OK
    blocks = []
    for number, result in enumerate(answer.results, 1):
        lines = [f"{number}. {result.title or result.url}", f"   {result.url}"]
        if result.content:
            lines.append(_indented(result.content))
        blocks.append("\n".join(lines))
    session.write("\n\n".join(blocks) + "\n" if blocks else "no results\n")
    return EXIT_OK


def web_fetch(session: Session) -> int:
    args = session.args
    page = session.client.web_fetch(args.url, cloud=args.cloud)
    if session.json:
        session.emit_json(page.to_dict())
        return EXIT_OK
    parts = []
    if page.title:
        parts.append(page.title)
    if page.content:
        parts.append(page.content)
    if page.links:
        parts.append("links:\n" + "\n".join(f"  {link}" for link in page.links))
    session.write("\n\n".join(parts) + "\n")
    return EXIT_OK
