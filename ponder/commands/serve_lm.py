"""``ponder serve-lm``: ponder's tiny GPT behind an OpenAI-compatible HTTP API."""

from __future__ import annotations

import argparse

from ponder.commands import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, metavar="DIR", help="a tiny GPT directory (reasoning.lm format)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on; 0 picks a free one (printed)"
    )
    parser.add_argument(
        "--served-model-name",
        metavar="NAME",
        default=None,
        help="the model's name in the API (default: DIR's)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        default=None,
        help="torch CPU threads (default: torch's choice)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log every request")


def run(args: argparse.Namespace) -> int:
    import sys

    import torch

    from experiment import UserError
    from reasoning.lm.server import CompletionServer, TinyCompletionEngine

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a port; expected 0..65535 (0: any free one)")
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads {args.threads}: expected a positive count")
        torch.set_num_threads(args.threads)
    try:
        engine = TinyCompletionEngine.from_directory(args.model, args.served_model_name)
    except (FileNotFoundError, ValueError) as error:
        raise UserError(f"--model {args.model}: {error}") from None
    try:
        server = CompletionServer(engine, args.host, args.port, log_requests=not args.quiet)
    except OSError as error:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    # The first line is the address, so that a script that asked for port 0 can read it.
    print(f"serving {engine.name!r} at {server.url}", flush=True)
    print(
        f"  {engine.model.num_parameters:,} parameters, context {engine.context_length} tokens; "
        f"POST {server.url}/completions, GET {server.url}/models; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.close()
    return 0


COMMAND = Command(
    name="serve-lm",
    help="serve ponder's tiny LM behind an OpenAI-compatible HTTP API",
    description=(
        "Serve a trained tiny GPT at http://HOST:PORT/v1 (POST /v1/completions with prompt,\n"
        "max_tokens, temperature, n, stop, logprobs, seed; GET /v1/models). Use it as the policy\n"
        "of `ponder reason RECIPE policy.spec=http://127.0.0.1:PORT/v1`, or from any\n"
        "OpenAI-compatible client."
    ),
    add_arguments=add_arguments,
    run=run,
    order=62,
)
