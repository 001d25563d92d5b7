"""The PySide6 reviewer app: triage, PII inspection, license verdicts, publishing, audit.

It talks to the server only over HTTP, through ``shared.client``; network work runs in a
thread pool and comes back by signal, so the window never waits on the server.
"""
