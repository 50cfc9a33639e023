"""The production loop: traces in, feedback metrics, sampled online scoring, alerts."""
