"""Service functions: each workflow validates, writes in one transaction, and audits."""
