"""Scorers: factories that return ``(sample, state) -> Score`` callables, one module per family.

- ``match``: ``exact_match``, ``includes``, ``regex_match`` (registered as ``regex``) and
  ``numeric``: binary scores against the sample's targets.
- ``f1``: token F1 with the SQuAD v1.1 normalisation.
- ``overlap``: BLEU and chrF (sacrebleu) and ROUGE-1/2/L (rouge-score); needs the ``nlp`` extra.
- ``json_schema``: ``json_valid`` and ``json_schema_match`` (registered as ``json_schema``).
- ``choice``: the ``choice`` scorer for multiple choice and the ``extract_choice`` helper.

Every factory is decorated with ``@component("scorer")``, so each scorer carries a ``spec``
naming the registered scorer and the arguments it was built with. A sample matches when any
of its targets (``Sample.targets``) matches. Modules are imported lazily through the
registry; import one directly to use its factories.
"""
