"""Model providers: one module per provider, each imported only when its prefix is used.

The registry in ``evalstack.core.registry`` maps prefixes (``openai``, ``anthropic``, ...) to
the classes here; nothing is imported from this package's ``__init__`` so that loading one
provider never pulls in another's dependencies.
"""
