"""Benchmarks run by ``python manage.py benchmark <name>``; each prints its figures."""
