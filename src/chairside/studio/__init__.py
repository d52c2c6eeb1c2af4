"""Chairside Studio: the CLI's month as pages in a browser, served on 127.0.0.1 only.

Every action is a call into the same library functions the `chairside` commands call
(building, checking, reading the patient list, sending); the files in the practice folder
stay the single source of truth, so the CLI and the studio can be used interchangeably.
"""
