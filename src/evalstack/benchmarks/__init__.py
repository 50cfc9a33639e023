"""Public benchmarks, one module each, registered lazily in ``evalstack.core.registry``."""
