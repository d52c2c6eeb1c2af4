"""The return path: what comes back after a campaign goes out.

`inbox` reads the practice's mailbox over IMAP (unsubscribe requests, bounces, complaints),
`sync` pulls the same from a provider's API, and both end in `record.Recorder`: one place
that suppresses, counts soft bounces and remembers what it has seen, so nothing is done
twice. `report` adds up a campaign's results; `freshness` tells `send`, `export --push` and
`check` when something has not been read since the last campaign went out.
"""
