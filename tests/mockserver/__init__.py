"""Fake platforms as real HTTP servers on 127.0.0.1 (Scrapy's tests/mockserver idea).

`python -m tests.mockserver` binds port 0, prints its base URL and serves every platform
under its own prefix, with the scenario in the path: `{url}/mastodon/<scenario>/api/v1/...`.
"""
