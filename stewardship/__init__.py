"""The data steward's web UI: server-rendered Django + htmx. No business logic:
views parse input and call ``mdm`` services."""
