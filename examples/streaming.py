"""Streaming: pause, resume and cancel a stream, and read its metrics.

Three streams of the same question:

1. paused after a few chunks and resumed 0.3 s later by a timer. While paused nothing
   reads the socket, so TCP backpressure slows the server down (real flow control, not
   a buffer filling up in memory); the metrics count the paused time.
2. cancelled half way: the connection is dropped at once, which is what makes Ollama
   stop generating; the loop simply ends.
3. paused and never resumed, with a ``pause_timeout``: the stream cancels itself and
   the next read raises ``StreamCancelledError``.

    python examples/streaming.py [--host URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import os

from ollama_core import ChatRequest, OllamaClient, StreamCancelledError, StreamState
from ollama_core.emulator import ollama_server

PROMPT = ("Tell me, word by word, a short story about a lighthouse keeper who "
          "counts the ships that pass in the night and names each one")


def request(model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": PROMPT}])


async def pause_and_resume(client: OllamaClient, model: str) -> None:
    print("\n== 1. pause after 5 chunks, resume 0.3 s later")
    stream = client.chat_stream(request(model))
    stream.on_state_change(lambda old, new: print(f"\n   [state {old} -> {new}]", end=""))
    loop = asyncio.get_running_loop()
    async with stream:
        async for chunk in stream:
            print(chunk.message.content, end="", flush=True)
            if stream.metrics.chunks == 5:
                stream.pause()
                # Something else must resume it: this loop waits in the next read.
                loop.call_later(0.3, stream.resume)
    m = stream.metrics
    final = stream.last
    print(f"\n   {m.chunks} chunks, {m.bytes} bytes, {m.pauses} pause(s), "
          f"{m.paused_seconds:.2f}s paused, first chunk after "
          f"{(m.time_to_first_chunk or 0) * 1000:.1f} ms")
    if final is not None:
        print(f"   server: {final.eval_count} tokens at "
              f"{final.metrics.tokens_per_second or 0:.1f} tokens/s, "
              f"done_reason={final.done_reason}")


async def cancel_midway(client: OllamaClient, model: str) -> None:
    print("\n== 2. cancel after 8 chunks")
    async with client.chat_stream(request(model)) as stream:
        async for chunk in stream:
            print(chunk.message.content, end="", flush=True)
            if stream.metrics.chunks == 8:
                stream.cancel()  # drops the connection now; the loop then just ends
    print(f"\n   state={stream.state}, {stream.metrics.chunks} chunks received")
    assert stream.state is StreamState.CANCELLED


async def pause_timeout(client: OllamaClient, model: str) -> None:
    print("\n== 3. pause with a 0.2 s pause_timeout and never resume")
    client.configure(pause_timeout=0.2)
    try:
        async with client.chat_stream(request(model)) as stream:
            async for chunk in stream:
                print(chunk.message.content, end="", flush=True)
                if stream.metrics.chunks == 3:
                    stream.pause()
    except StreamCancelledError as exc:
        print(f"\n   StreamCancelledError: {exc} (state={stream.state})")


async def main(host: str | None, model: str) -> None:
    async with ollama_server(host) as url, OllamaClient(url, plugins=[]) as client:
        await pause_and_resume(client, model)
        await cancel_midway(client, model)
        await pause_timeout(client, model)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llama3.2")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model))
