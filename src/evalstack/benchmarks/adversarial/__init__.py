"""Adversarial suites: built-in tasks whose outcome per sample is a labelled attack result.

Each task reports a rate with its Wilson interval, overall and per ``metadata["category"]``
(``evalstack show RUN``), and two runs on the same samples compare pairwise
(``evalstack compare RUN_A RUN_B``):

- ``injection_direct``: Tensor Trust's hijacking and prompt-extraction attacks
  (``attack_success``), categories ``hijacking`` / ``extraction``;
- ``injection_indirect``: BIPIA's attacks hidden in an email, a table or code
  (``attack_success``), categories ``<context>/<attack category>``;
- ``ambiguity``: ambiguous and clear questions (``right_behaviour``, ``asked_clarification``);
- ``contradiction``: RGB's counterfactual passages (``follows_wrong_passage``,
  ``flags_contradiction``, ``answers_from_own_knowledge``);
- ``over_refusal``: benign prompts that look risky (``refused``).

See ``docs/adversarial.md``.
"""
