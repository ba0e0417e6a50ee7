"""Demo data: messy, realistic extracts of a US industrial distributor's systems.

See :mod:`mdm.demo.generator`; ``python manage.py generate_demo`` runs it.
"""
