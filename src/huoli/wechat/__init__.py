"""WeChat server API client: the one place in huoli that talks to ``api.weixin.qq.com``."""

from huoli.wechat.client import DEFAULT_BASE_URL, WeChatClient, WxSession
from huoli.wechat.errors import (
    ERROR_MESSAGES,
    RETRYABLE_ERRCODES,
    TOKEN_ERRCODES,
    WeChatError,
    WeChatUnavailable,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "ERROR_MESSAGES",
    "RETRYABLE_ERRCODES",
    "TOKEN_ERRCODES",
    "WeChatClient",
    "WeChatError",
    "WeChatUnavailable",
    "WxSession",
]
