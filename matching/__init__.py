"""The hub's matching engine: standardizers, comparisons, blocking, scoring. Pure Python, no Django."""
