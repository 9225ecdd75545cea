"""The OpenAI-compatible HTTP backend end to end against ``ponder serve-lm`` on 127.0.0.1, the
server's API, and policy specs (``load_policy``)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from reasoning.lm import CharTokenizer, TinyGPTConfig, TinyGPTPolicy, build_tiny_gpt, save_tiny_gpt
from reasoning.lm.backends import PolicyLoadError, load_policy
from reasoning.lm.http import (
    CompletionServerError,
    OpenAICompletionsPolicy,
    ServerUnreachableError,
    request_seeds,
)
from reasoning.lm.server import CompletionServer, TinyCompletionEngine
from reasoning.searches import SearchSettings, greedy_solutions

REPOSITORY = Path(__file__).resolve().parents[1]
SMALL = TinyGPTConfig(block_size=96, num_layers=2, num_heads=2, embedding_dim=32)
PREFIXES = ["Q: Use 2 3 4 7 to make 26.\n", "Q: Use 1 5 to make 6.\n1 + 5 = 6\n", "Q: 9\n"]
# about how far the model leans towards each token (a random token's logit is about 0), so that
# steps end within a few tokens
BIASED_LOGITS = {"\n": 2.5, "": 2.0}  # "" is end of text


@pytest.fixture(scope="module")
def model_directory(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine's cores are shared; one thread is fastest there
    tokenizer = CharTokenizer()
    model = build_tiny_gpt(SMALL, torch.Generator().manual_seed(0))
    with torch.no_grad():
        direction = torch.nn.functional.normalize(
            torch.randn(32, generator=torch.Generator()), dim=0
        )
        model.final_norm.weight.fill_(0.1)
        model.final_norm.bias.copy_(direction)
        for char, logit in BIASED_LOGITS.items():
            token = tokenizer.token_id(char) if char else tokenizer.eos_id
            model.head.weight[token] = logit * direction
    directory = save_tiny_gpt(tmp_path_factory.mktemp("tiny") / "tiny-test", model, tokenizer)
    yield directory
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def local(model_directory) -> TinyGPTPolicy:
    return TinyGPTPolicy.from_directory(model_directory)


@pytest.fixture(scope="module")
def server(model_directory):
    with CompletionServer(TinyCompletionEngine.from_directory(model_directory)).start() as running:
        yield running


@pytest.fixture(scope="module")
def remote(server) -> OpenAICompletionsPolicy:
    policy = load_policy(server.url)
    assert isinstance(policy, OpenAICompletionsPolicy)
    return policy


def post(url: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_http_steps_equal_the_tiny_model_sampled_in_process(remote, local):
    generators = [np.random.default_rng(seed) for seed in (1, 2, 3)]
    seeds = request_seeds([np.random.default_rng(seed) for seed in (1, 2, 3)], len(PREFIXES))
    steps = remote.sample_steps(PREFIXES, 6, max_tokens=12, temperature=0.8, rng=generators)
    reasons = set()
    for prefix, seed, row in zip(PREFIXES, seeds, steps, strict=True):
        (expected,) = local.sample_steps([prefix], 6, max_tokens=12, temperature=0.8, rng=seed)
        assert [s.text for s in row] == [s.text for s in expected]
        assert [s.stop_reason for s in row] == [s.stop_reason for s in expected]
        assert [s.finished for s in row] == [s.finished for s in expected]
        for got, want in zip(row, expected, strict=True):
            np.testing.assert_allclose(got.token_logprobs, want.token_logprobs, atol=1e-4)
            reasons.add(got.stop_reason)
            if got.stop_reason == "delimiter":  # the stop string came back, as locally
                assert got.text.endswith("\n") and got.text.count("\n") == 1
    assert reasons == {"delimiter", "end_of_text", "length"}


def test_greedy_over_http_equals_greedy_in_process(remote, local):
    steps = remote.sample_steps(PREFIXES, 2, max_tokens=8, temperature=0.0)
    expected = local.sample_steps(PREFIXES, 2, max_tokens=8, temperature=0.0)
    for row, want in zip(steps, expected, strict=True):
        assert [s.text for s in row] == [s.text for s in want]
        np.testing.assert_allclose(row[1].token_logprobs, want[1].token_logprobs, atol=1e-4)
    # it plugs into the searches as any StepPolicy: same solutions, same costs
    settings = SearchSettings(max_steps=3, max_step_tokens=8)
    over_http, here = (
        greedy_solutions(remote, PREFIXES, settings),
        greedy_solutions(local, PREFIXES, settings),
    )
    assert [o.text for o in over_http] == [o.text for o in here]
    assert [o.flops for o in over_http] == [o.flops for o in here]
    assert all(o.policy_tokens > 0 for o in here)


def test_the_http_policy_reports_the_served_model(remote, local, server):
    assert remote.model == "tiny-test"
    assert remote.num_parameters == local.num_parameters
    assert remote.flops_per_token == 2 * local.num_parameters
    pinned = load_policy(f"{server.url}?model=tiny-test&params=1e6")
    assert pinned.num_parameters == 10**6


def test_an_unreachable_server_fails_quickly_naming_url_and_cause():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    policy = OpenAICompletionsPolicy(
        url, model="m", num_parameters=10, timeout_s=0.5, max_retries=2, backoff_s=0.01
    )
    start = time.perf_counter()
    with pytest.raises(ServerUnreachableError, match=rf"{url}/completions: connection refused"):
        policy.sample_steps(["Q: 1\n"], 2, 4, 1.0, rng=0)
    assert time.perf_counter() - start < 3
    with pytest.raises(ServerUnreachableError, match="3 attempts"):
        load_policy(url, max_retries=2, timeout_s=0.5, backoff_s=0.01)


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections (the kernel does) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        policy = OpenAICompletionsPolicy(
            url, model="m", num_parameters=10, timeout_s=0.2, max_retries=1, backoff_s=0.01
        )
        start = time.perf_counter()
        with pytest.raises(ServerUnreachableError, match=r"timed out after 0.2 s \(2 attempts"):
            policy.sample_steps(["Q: 1\n"], 1, 4, 0.0)
        assert time.perf_counter() - start < 3


@pytest.mark.parametrize("headers", [b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b""])
def test_a_server_that_drips_bytes_is_cut_off_at_the_deadline_with_a_warning_per_retry(
    capsys, headers
):
    """Its body one byte at a time after the headers, or its headers themselves."""
    import threading

    with socket.socket() as dripping:
        dripping.bind(("127.0.0.1", 0))
        dripping.listen(8)

        def serve() -> None:  # headers at once, then one byte of body every 0.05 s
            while True:
                try:
                    connection, _ = dripping.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(65536)
                    connection.sendall(headers)
                    try:
                        for _ in range(10_000):
                            connection.sendall(b" ")
                            time.sleep(0.05)
                    except OSError:
                        pass

        threading.Thread(target=serve, daemon=True).start()
        port = dripping.getsockname()[1]
        policy = load_policy(f"http://127.0.0.1:{port}/v1?model=m&params=10&timeout=0.5&retries=1")
        start = time.perf_counter()
        with pytest.raises(ServerUnreachableError, match=r"timed out after 0.5 s \(2 attempts"):
            policy.sample_steps(["Q: 1\n"], 1, 4, 0.0)
        assert time.perf_counter() - start < 2.5  # 2 x 0.5 s and a backoff, not for ever
    warnings = capsys.readouterr().err.strip().splitlines()
    assert (
        len(warnings) == 1
        and warnings[0].startswith("warning: POST ")
        and "retry 1 of 1" in warnings[0]
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "Q: 1\n", "max_tokens": -1}, "max_tokens"),
        ({"prompt": "Q: 1\n", "max_tokens": 10**9}, "max_tokens"),
        ({"prompt": 3}, "prompt"),
        ({"prompt": "Q: é\n"}, "prompt"),
        ({"prompt": "Q\n", "temperature": "hot"}, "temperature"),
        ({"prompt": "Q\n", "n": 0}, "n"),
        ({"prompt": "Q\n", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"prompt": "Q\n", "logprobs": 9}, "logprobs"),
        ({"prompt": "Q\n", "seed": -4}, "seed"),
        ({"prompt": "Q\n", "stream": True}, "stream"),
        ({"prompt": "Q\n", "bogus": 1}, "bogus"),
    ],
)
def test_a_malformed_request_gets_400_naming_the_field(server, body, param):
    status, answer = post(server.url + "/completions", body)
    assert status == 400
    assert answer["error"]["param"] == param and answer["error"]["type"] == "invalid_request_error"
    assert param in answer["error"]["message"] or param == "prompt"


def test_bad_json_unknown_model_and_http_errors_reach_the_policy(server, remote):
    status, answer = post(server.url + "/completions", b"{not json")
    assert status == 400 and "not valid JSON" in answer["error"]["message"]
    status, answer = post(server.url + "/completions", {"prompt": "Q\n", "model": "gpt-9"})
    assert status == 404 and "'tiny-test'" in answer["error"]["message"]
    with pytest.raises(CompletionServerError, match="HTTP 400: n must be an integer in"):
        remote.complete({"prompt": "Q\n", "n": 0})  # a 400 is not retried


def test_completions_follow_the_openai_shape(server):
    prompts = PREFIXES[:2]
    status, answer = post(
        server.url + "/completions",
        {"prompt": prompts, "n": 3, "max_tokens": 10, "stop": "\n", "logprobs": 3, "seed": 7},
    )
    assert status == 200 and answer["object"] == "text_completion"
    assert [choice["index"] for choice in answer["choices"]] == list(range(6))
    generated = 0
    for index, choice in enumerate(answer["choices"]):
        logprobs, prompt = choice["logprobs"], prompts[index // 3]
        assert "\n" not in choice["text"]
        if choice["finish_reason"] == "stop" and choice["stop_reason"] == "\n":
            assert "".join(logprobs["tokens"]) == choice["text"] + "\n"  # stop token's included
        elif choice["finish_reason"] == "length":
            assert len(logprobs["tokens"]) == 10
        assert logprobs["text_offset"][0] == len(prompt)
        for token, value, top in zip(
            logprobs["tokens"], logprobs["token_logprobs"], logprobs["top_logprobs"], strict=True
        ):
            assert len(top) == 3 and max(top.values()) >= value - 1e-5
            if token in top:
                assert top[token] == pytest.approx(value, abs=1e-4)
        generated += len(logprobs["tokens"])
    assert answer["usage"]["completion_tokens"] == generated
    assert answer["usage"]["prompt_tokens"] == sum(len(p) for p in prompts)


def test_multi_character_stops_and_no_stop(server):
    _, answer = post(
        server.url + "/completions",
        {
            "prompt": PREFIXES[0],
            "n": 8,
            "max_tokens": 30,
            "stop": ["\n\n"],
            "logprobs": 0,
            "seed": 1,
        },
    )
    stopped = [c for c in answer["choices"] if c["stop_reason"] == "\n\n"]
    assert stopped, "the biased model writes blank lines within 30 tokens"
    for choice in stopped:
        assert "\n\n" not in choice["text"]
        assert "".join(choice["logprobs"]["tokens"]) == choice["text"] + "\n\n"
    body = {"prompt": PREFIXES[0], "n": 8, "max_tokens": 6, "seed": 2}
    _, answer = post(server.url + "/completions", body)
    for choice in answer["choices"]:
        assert choice["logprobs"] is None
        assert choice["finish_reason"] == "length" or choice["stop_reason"] is None  # end of text
    assert any("\n" in choice["text"] for choice in answer["choices"])  # lines do not stop it


def test_models_listing(server, local):
    with urllib.request.urlopen(server.url + "/models", timeout=10) as answer:
        listing = json.loads(answer.read())
    (entry,) = listing["data"]
    assert entry["id"] == "tiny-test" and entry["max_model_len"] == SMALL.block_size
    assert entry["num_parameters"] == local.num_parameters


def test_policy_specs(model_directory, server):
    assert isinstance(load_policy(f"tiny:{model_directory}"), TinyGPTPolicy)
    assert isinstance(load_policy(str(model_directory)), TinyGPTPolicy)  # recognised by format
    with pytest.raises(PolicyLoadError, match="unknown option"):
        load_policy(f"{server.url}?temperature=2")
    with pytest.raises(PolicyLoadError, match="params='many' is not a positive number"):
        load_policy(f"{server.url}?params=many")
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_policy(f"tiny:{model_directory}-missing")


def test_serve_lm_command_prints_its_address_and_serves(model_directory):
    command = [sys.executable, "-m", "ponder", "serve-lm", "--model", str(model_directory)]
    process = subprocess.Popen(
        [*command, "--port", "0", "--quiet", "--threads", "1"],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("serving 'tiny-test' at http://127.0.0.1:"), process.stderr.read()
        url = line.split(" at ")[1].strip()
        status, answer = post(url + "/completions", {"prompt": "Q: 1\n", "max_tokens": 3})
        assert status == 200 and len(answer["choices"]) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
    missing = subprocess.run(
        [*command[:-1], str(model_directory) + "-missing", "--port", "0"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "not a tiny GPT checkpoint" in missing.stderr
