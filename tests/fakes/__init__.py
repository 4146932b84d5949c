"""Test doubles shared by huoli's test suites (e.g. :mod:`tests.fakes.wechat_server`)."""
