"""llama.cpp's answers for the engine's comparison tests, through llama-cpp-python.

Reads one JSON request on stdin and writes one JSON answer on stdout:

    {"model": PATH,
     "tokenize": [TEXT, ...],                      # ids as llama.cpp tokenizes them
     "generate": [{"ids": [ID, ...], "n": N}, ...], # greedy continuation and its logits
     "logits": [[ID, ...], ...],                    # last-position logits of each sequence
     "n_ctx": N,                                     # optional, 2048
     "repack": false,                                # optional: no repacked weight layouts
     "variation": true}                              # optional, see below

    {"tokens": [[ID, ...], ...],
     "generations": [{"ids": [ID, ...], "logits": [FLOAT, ...]}, ...],
     "logits": [[FLOAT, ...], ...]}

With "variation", each generation also carries "variation": the largest difference between
its "logits" and the same logits computed by llama.cpp in two other ways it offers (the prompt
read one token at a time; flash attention) -- how far llama.cpp's own answers move with its
settings.

Greedy decoding is done here with plain argmax over llama.cpp's logits, so no sampler of
either side takes part. `generate`'s "logits" are those after the prompt, before the first
generated token. Text is tokenized without BOS and with special tokens parsed, as the
engine's `ModelTokenizer::encode` does.
"""

import json
import sys

import llama_cpp
import numpy as np


def last_logits(llm: llama_cpp.Llama) -> np.ndarray:
    """Logits after the last token evaluated (the only row llama.cpp computed)."""
    pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).copy()


def prompt_logits(model: str, ids: list, n_ctx: int, **settings) -> np.ndarray:
    """Last-position logits of `ids` from a fresh context with llama.cpp `settings`."""
    llm = llama_cpp.Llama(model_path=model, n_ctx=n_ctx, n_threads=2, verbose=False, **settings)
    llm.eval(ids)
    return last_logits(llm)


def main() -> None:
    request = json.load(sys.stdin)
    if not request.get("repack", True):
        default_params = llama_cpp.llama_model_default_params

        def without_repacking():
            params = default_params()
            params.use_extra_bufts = False
            return params

        llama_cpp.llama_model_default_params = without_repacking
    llm = llama_cpp.Llama(
        model_path=request["model"],
        n_ctx=request.get("n_ctx", 2048),
        n_batch=request.get("n_ctx", 2048),
        n_threads=2,
        logits_all=False,
        verbose=False,
    )
    answer = {
        "tokens": [
            llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            for text in request.get("tokenize", [])
        ],
        "generations": [],
        "logits": [],
    }
    for job in request.get("generate", []):
        llm.reset()
        llm.eval(job["ids"])
        scores = last_logits(llm)
        first = [float(x) for x in scores]
        generated = []
        for _ in range(job["n"]):
            token = int(scores.argmax())
            generated.append(token)
            llm.eval([token])
            scores = last_logits(llm)
        generation = {"ids": generated, "logits": first}
        if request.get("variation"):
            n_ctx = request.get("n_ctx", 2048)
            first = np.array(first, dtype=np.float32)
            others = [
                prompt_logits(request["model"], job["ids"], n_ctx, n_batch=1, n_ubatch=1),
                prompt_logits(request["model"], job["ids"], n_ctx, flash_attn=True),
            ]
            generation["variation"] = max(float(np.abs(o - first).max()) for o in others)
        answer["generations"].append(generation)
    for ids in request.get("logits", []):
        llm.reset()
        llm.eval(ids)
        answer["logits"].append([float(x) for x in last_logits(llm)])
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
