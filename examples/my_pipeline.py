"""A stand-in for your own LLM application, evaluated with the ``python/`` provider.

    evalstack run examples/unit_eval/capitals.jsonl --model python/examples/my_pipeline.py:answer

evalstack calls ``answer`` with each prompt; it could call a retriever, a chain, an agent.
"""

CAPITALS = {"France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Japan": "Tokyo",
            "Kenya": "Nairobi", "Canada": "Ottawa"}


def answer(prompt: str) -> dict[str, str | int]:
    for country, city in CAPITALS.items():
        if country in prompt:
            return {"text": city, "input_tokens": len(prompt.split()), "output_tokens": 1}
    return {"text": "I don't know", "input_tokens": len(prompt.split()), "output_tokens": 3}
