"""The local API driven by the official `openai` Python client, one case per run.

Usage: openai_client.py CASE, with OA_API_URL (…/v1), OA_API_KEY and OA_API_MODEL set.
Each case asserts what a program using the client would notice and exits non-zero when it
does not hold. Run by crates/oa-cli/tests/serve.rs against a real `oa serve`.
"""

import json
import os
import sys
import threading

import openai

URL = os.environ["OA_API_URL"]
KEY = os.environ.get("OA_API_KEY") or "unused"
MODEL = os.environ["OA_API_MODEL"]
client = openai.OpenAI(base_url=URL, api_key=KEY, max_retries=0, timeout=300)


def chat(**kw):
    kw.setdefault("model", MODEL)
    return client.chat.completions.create(**kw)


def user(text):
    return [{"role": "user", "content": text}]


def check(value, schema, path="$"):
    """A JSON-schema check of the keywords the cases use; raises on the first violation.

    Free strings carry a maxLength in the cases: a small model may otherwise write one string
    until max_tokens cuts it, which no grammar can prevent."""
    t = schema.get("type")
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "null": type(None),
    }
    if t == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: {value!r} is not an integer"
    elif t == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: {value!r} is not a number"
    elif t is not None:
        assert isinstance(value, kinds[t]), f"{path}: {value!r} is not {t}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if "const" in schema:
        assert value == schema["const"], f"{path}: {value!r} is not {schema['const']!r}"
    if "minimum" in schema:
        assert value >= schema["minimum"], f"{path}: {value} < {schema['minimum']}"
    if "maximum" in schema:
        assert value <= schema["maximum"], f"{path}: {value} > {schema['maximum']}"
    if "minLength" in schema:
        assert len(value) >= schema["minLength"], f"{path}: too short"
    if "maxLength" in schema:
        assert len(value) <= schema["maxLength"], f"{path}: too long"
    if t == "object":
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            assert name in value, f"{path}: {name} missing"
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            assert not extra, f"{path}: unexpected {extra}"
        for name, sub in props.items():
            if name in value:
                check(value[name], sub, f"{path}.{name}")
    if t == "array":
        if "minItems" in schema:
            assert len(value) >= schema["minItems"], f"{path}: fewer than {schema['minItems']} items"
        if "maxItems" in schema:
            assert len(value) <= schema["maxItems"], f"{path}: more than {schema['maxItems']} items"
        for i, item in enumerate(value):
            check(item, schema.get("items", {}), f"{path}[{i}]")


def case_chat():
    r = chat(messages=user("Say hello in one short sentence."), max_tokens=24)
    choice = r.choices[0]
    assert r.object == "chat.completion"
    assert choice.message.role == "assistant"
    assert choice.message.content.strip(), "empty answer"
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 24
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    provenance = r.model_extra["x_provenance"]
    assert len(provenance["model_sha256"]) == 64 and provenance["sampler"]["max_tokens"] == 24
    # A system message and an earlier exchange are understood too.
    r = chat(
        messages=[
            {"role": "system", "content": "You answer in one word."},
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": [{"type": "text", "text": "Another one?"}]},
        ],
        max_tokens=8,
    )
    assert r.choices[0].message.content.strip()


def case_stream():
    pieces, usage, finish, roles = [], None, None, []
    stream = chat(
        messages=user("Count from one to five in words."),
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
            assert chunk.choices == []
            continue
        delta = chunk.choices[0].delta
        if delta.role:
            roles.append(delta.role)
        if delta.content:
            pieces.append(delta.content)
        if chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    text = "".join(pieces)
    assert roles == ["assistant"], roles
    assert len(pieces) > 3 and text.strip(), pieces
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 0
    # The same request whole gives the same text (same seed).
    whole = chat(messages=user("Count from one to five in words."), max_tokens=30, seed=7)
    again = chat(
        messages=user("Count from one to five in words."), max_tokens=30, seed=7, stream=True
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in again if c.choices)
    assert streamed == whole.choices[0].message.content, (streamed, whole.choices[0].message.content)


def case_seed():
    kw = dict(messages=user("Write a short poem about rain."), max_tokens=24, temperature=1.0)
    a = chat(seed=1234, **kw).choices[0].message.content
    b = chat(seed=1234, **kw).choices[0].message.content
    assert a == b, (a, b)
    others = {chat(seed=s, **kw).choices[0].message.content for s in (1, 2, 3)}
    assert len(others | {a}) > 1, "every seed gave the same poem"


def case_stop():
    prompt = "1, 2, 3, 4, 5,"
    free = client.completions.create(model=MODEL, prompt=prompt, max_tokens=12, temperature=0)
    assert "8" in free.choices[0].text, free.choices[0].text
    stopped = client.completions.create(
        model=MODEL, prompt=prompt, max_tokens=12, temperature=0, stop=["8"]
    )
    text = stopped.choices[0].text
    assert "8" not in text and free.choices[0].text.startswith(text), (text, free.choices[0].text)
    assert stopped.choices[0].finish_reason == "stop"
    # In a chat too.
    r = chat(messages=user("List the numbers from 1 to 10 separated by commas."), max_tokens=40,
             temperature=0, stop=["5"])
    assert "5" not in r.choices[0].message.content


def case_n():
    r = chat(messages=user("Name an animal."), max_tokens=10, n=2, temperature=1.0, seed=3)
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.message.content.strip() for c in r.choices)
    s = chat(messages=user("Name an animal."), max_tokens=6, n=2, stream=True)
    seen = {c.choices[0].index for c in s if c.choices}
    assert seen == {0, 1}, seen


def case_logprobs():
    # Without penalties, the greedy choice is the likeliest token (penalties move the choice,
    # not the model's log-probabilities, which are reported as the model gave them).
    r = chat(messages=user("What is the capital of France?"), max_tokens=8, temperature=0,
             logprobs=True, top_logprobs=3, extra_body={"repeat_penalty": 1.0})
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens, (len(content), r.usage.completion_tokens)
    for t in content:
        assert t.logprob <= 0
        assert len(t.top_logprobs) == 3
        tops = [a.logprob for a in t.top_logprobs]
        assert tops == sorted(tops, reverse=True)
        assert t.top_logprobs[0].token == t.token, (t.token, t.top_logprobs[0].token)
        assert abs(t.top_logprobs[0].logprob - t.logprob) < 1e-4
    joined = b"".join(bytes(t.bytes) for t in content).decode("utf-8", "replace")
    assert joined == r.choices[0].message.content, (joined, r.choices[0].message.content)
    c = client.completions.create(model=MODEL, prompt="The sky is", max_tokens=4, logprobs=2,
                                  temperature=0)
    lp = c.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == 4
    assert all(len(d) <= 2 for d in lp.top_logprobs)


SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 40}, "age": {"type": "integer", "minimum": 0, "maximum": 150}},
     "required": ["name", "age"], "additionalProperties": False},
    {"type": "object", "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]}},
     "required": ["colour"], "additionalProperties": False},
    {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 2, "maxItems": 4}},
     "required": ["tags"], "additionalProperties": False},
    {"type": "object", "properties": {"city": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 40}, "population": {"type": "integer", "minimum": 0}},
                                                "required": ["name", "population"], "additionalProperties": False}},
     "required": ["city"], "additionalProperties": False},
    {"type": "object", "properties": {"price": {"type": "number", "minimum": 0, "maximum": 1000}, "currency": {"type": "string", "enum": ["EUR", "USD"]}},
     "required": ["price", "currency"], "additionalProperties": False},
    {"type": "object", "properties": {"done": {"type": "boolean"}, "note": {"type": "string", "maxLength": 40}},
     "required": ["done", "note"], "additionalProperties": False},
    {"type": "object", "properties": {"points": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
                                                                          "required": ["x", "y"], "additionalProperties": False}, "minItems": 1, "maxItems": 3}},
     "required": ["points"], "additionalProperties": False},
    {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no", "maybe"]}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
     "required": ["answer", "confidence"], "additionalProperties": False},
    {"type": "object", "properties": {"title": {"type": "string", "minLength": 1, "maxLength": 40}, "chapters": {"type": "array", "items": {"type": "string", "maxLength": 30}, "minItems": 1, "maxItems": 3},
                                      "meta": {"type": "object", "properties": {"year": {"type": "integer", "minimum": 1900, "maximum": 2100}}, "required": ["year"], "additionalProperties": False}},
     "required": ["title", "chapters", "meta"], "additionalProperties": False},
    {"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string", "enum": ["mix", "bake", "serve"]}, "minItems": 3, "maxItems": 3}},
     "required": ["steps"], "additionalProperties": False},
]


def case_json_schema():
    for i, schema in enumerate(SCHEMAS):
        r = chat(
            messages=user("Describe something as JSON."),
            max_tokens=200,
            temperature=0.7,
            seed=i,
            response_format={"type": "json_schema", "json_schema": {"name": f"s{i}", "schema": schema, "strict": True}},
        )
        text = r.choices[0].message.content
        assert r.choices[0].finish_reason == "stop", (i, r.choices[0].finish_reason, text)
        check(json.loads(text), schema)
    r = chat(messages=user("Describe a cat as a JSON object with its name and age."), max_tokens=200,
             temperature=0, response_format={"type": "json_object"})
    assert r.choices[0].finish_reason == "stop", r.choices[0].message.content
    assert isinstance(json.loads(r.choices[0].message.content), dict)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather now in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 40},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The time now in a time zone.",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 40}}, "required": ["zone"], "additionalProperties": False},
    },
}


def case_tool_call():
    for choice, name in (("required", None), ({"type": "function", "function": {"name": "get_time"}}, "get_time")):
        r = chat(messages=user("What is the weather in Paris?"), tools=[WEATHER, TIME], tool_choice=choice, max_tokens=200)
        c = r.choices[0]
        assert c.finish_reason == "tool_calls", (c.finish_reason, c.message)
        assert c.message.tool_calls, c.message
        for call in c.message.tool_calls:
            assert call.type == "function" and call.id
            if name:
                assert call.function.name == name
            schema = {"get_weather": WEATHER, "get_time": TIME}[call.function.name]["function"]["parameters"]
            check(json.loads(call.function.arguments), schema)
    # The tool's result goes back; the model answers in text.
    call = r.choices[0].message.tool_calls[0]
    follow = chat(
        messages=[
            {"role": "user", "content": "What time is it in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
            {"role": "tool", "tool_call_id": call.id, "content": "14:05"},
        ],
        tools=[WEATHER, TIME],
        max_tokens=30,
    )
    assert follow.choices[0].message.content is not None or follow.choices[0].message.tool_calls


def case_tool_stream():
    stream = chat(messages=user("Weather in Oslo, please."), tools=[WEATHER], tool_choice="required",
                  max_tokens=200, stream=True)
    calls, finish = {}, None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for d in delta.tool_calls or []:
            entry = calls.setdefault(d.index, {"id": None, "name": None, "arguments": ""})
            if d.id:
                entry["id"] = d.id
            if d.function and d.function.name:
                entry["name"] = d.function.name
            if d.function and d.function.arguments:
                entry["arguments"] += d.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls", finish
    assert calls, "no tool call was streamed"
    for entry in calls.values():
        assert entry["id"] and entry["name"] == "get_weather", entry
        check(json.loads(entry["arguments"]), WEATHER["function"]["parameters"])


def case_errors():
    try:
        chat(model="no-such-model", messages=user("hi"))
        raise AssertionError("an unknown model was accepted")
    except openai.NotFoundError as e:
        assert e.status_code == 404 and e.code == "model_not_found", e
        assert MODEL in str(e.message), e.message
    try:
        chat(messages=[{"role": "wizard", "content": "hi"}])
        raise AssertionError("a bad role was accepted")
    except openai.BadRequestError as e:
        assert e.status_code == 400 and "wizard" in e.message, e.message
        assert e.param == "messages[0].role", e.param
    try:
        chat(messages=user("x" * (5 << 20)))
        raise AssertionError("an oversized request was accepted")
    except openai.APIStatusError as e:
        assert e.status_code == 413, e.status_code
    try:
        chat(messages=user("hi"), max_tokens=10_000_000)
        raise AssertionError("max_tokens beyond the context was accepted")
    except openai.BadRequestError as e:
        assert e.param == "max_tokens", e.param
    try:
        client.embeddings.create(model=MODEL, input="hi")
        raise AssertionError("embeddings answered")
    except openai.NotFoundError as e:
        assert "embedding" in e.message


def case_concurrent():
    results, errors = {}, []

    def one(i):
        try:
            s = chat(messages=user(f"Tell me fact number {i} about cats."), max_tokens=16, stream=True,
                     stream_options={"include_usage": True})
            text, usage = "", None
            for c in s:
                if c.usage:
                    usage = c.usage
                if c.choices:
                    text += c.choices[0].delta.content or ""
            results[i] = (text, usage)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(results) == [0, 1, 2, 3]
    for text, usage in results.values():
        assert text.strip() and usage.completion_tokens > 0


def case_hang_up():
    s = chat(messages=user("Write a very long story about a dragon."), max_tokens=2000, stream=True)
    got = 0
    for c in s:
        if c.choices and c.choices[0].delta.content:
            got += 1
        if got >= 3:
            break
    s.close()
    # The server still answers.
    r = chat(messages=user("hi"), max_tokens=4)
    assert r.choices[0].message.content is not None


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    CASES[sys.argv[1]]()
    print("ok", sys.argv[1])
