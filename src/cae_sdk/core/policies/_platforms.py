"""Device platform from a User-Agent, best effort: Entra itself "identifies the device
platform by using information provided by the device, such as user agent strings", which "can
be modified" (Entra docs "Conditional Access: Conditions", device platforms), and recommends a
policy for unsupported platforms (include any device, exclude the known ones).

Returns Graph's ``conditionalAccessDevicePlatform`` names, lower-cased: ``android``, ``ios``,
``windowsphone``, ``windows``, ``macos``, ``linux``, or None when unknown.
"""

from __future__ import annotations

__all__ = ["KNOWN_PLATFORMS", "platform_from_user_agent"]

KNOWN_PLATFORMS = frozenset({"android", "ios", "windowsphone", "windows", "macos", "linux"})
"""The device platforms :func:`platform_from_user_agent` recognises (Graph's
``devicePlatform`` values, lower-cased)."""

# Order matters: Windows Phone UAs also say "Android" and "Windows"; Android UAs say "Linux";
# iPad/iPhone UAs say "like Mac OS X".
_MARKERS = (
    ("windows phone", "windowsphone"),
    ("android", "android"),
    ("iphone", "ios"),
    ("ipad", "ios"),
    ("ipod", "ios"),
    ("windows", "windows"),
    ("macintosh", "macos"),
    ("mac os x", "macos"),
    ("darwin", "macos"),
    ("linux", "linux"),
)

MAX_USER_AGENT = 2048


def platform_from_user_agent(user_agent: str | None) -> str | None:
    """The device platform a ``User-Agent`` names (one of :data:`KNOWN_PLATFORMS`), or None when
    it names none. Best effort, like Entra's own: a client can send any User-Agent."""
    if not user_agent:
        return None
    text = user_agent[:MAX_USER_AGENT].lower()
    for marker, platform in _MARKERS:
        if marker in text:
            return platform
    return None
