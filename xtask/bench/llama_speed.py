"""llama.cpp's side of `cargo xtask bench`'s engine comparison, through llama-cpp-python.

    python3 llama_speed.py MODEL IDS DECODE THREADS OUT

Loads MODEL, reads the comma-separated token IDS in one call, then decodes DECODE tokens
greedily (argmax over llama.cpp's logits, no sampler), one at a time, with THREADS threads.
Writes the same JSON as the engine's `speed_bench` example to OUT: load time, prompt tokens per
second, time to first token, decode tokens per second over the tokens after the first, and
the process's peak resident memory (which includes the Python interpreter's).
"""

import json
import resource
import sys
import time

import llama_cpp
import numpy as np


def main() -> None:
    model, ids, decode, threads, out = sys.argv[1:6]
    ids = [int(i) for i in ids.split(",")]
    decode = int(decode)
    threads = int(threads)

    start = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=model,
        n_ctx=max(512, len(ids) + decode + 8),
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    load_s = time.perf_counter() - start

    def next_token() -> int:
        pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return int(np.argmax(np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),))))

    start = time.perf_counter()
    llm.eval(ids)
    prompt_s = time.perf_counter() - start
    token = next_token()
    ttft_s = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(decode - 1):
        llm.eval([token])
        token = next_token()
    decode_s = time.perf_counter() - start

    report = {
        "load_s": load_s,
        "prompt_tokens": len(ids),
        "prompt_tps": len(ids) / prompt_s,
        "ttft_s": ttft_s,
        "decode_tokens": decode - 1,
        "decode_tps": (decode - 1) / decode_s,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    with open(out, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
