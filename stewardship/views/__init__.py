"""Views of the steward UI. They parse input, check the role and call ``mdm``
services; what they show comes from selectors. No business logic here."""
