"""Signed exclusion lists (PRODUCT.md, "Contracts", item 2): the body format and matching
(``format``), the signed manifest (``manifest``) and the fail-closed client (``pull``)."""
