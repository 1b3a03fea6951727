"""The unified authentication platform, platform-neutral (Art. 20): which realm holds an
environment's client. One rule for the stacks (registration) and reclamation (removal).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core.manifest import Environment

#: The platform module (``stacks/components/auth/<name>.py``) when none is configured.
DEFAULT_PLATFORM = "keycloak"


@dataclass(frozen=True)
class AuthSettings:
    """The platform side of the configuration (stack config ``govcloud:auth*``)."""

    realm: str = "government"
    """``govcloud:authRealm``: the realm of trial and production clients."""
    test_realm: str | None = None
    """``govcloud:authTestRealm``: the realm of test clients; ``<realm>-test`` when unset."""
    platform: str = DEFAULT_PLATFORM
    """``govcloud:authPlatform``: the platform module that registers clients."""

    def realm_for(self, env: Environment | str) -> str:
        """Test environments point at the platform's test realm, the others at the real one.

        >>> AuthSettings("changsha").realm_for("test"), AuthSettings("changsha").realm_for("trial")
        ('changsha-test', 'changsha')
        """
        if str(env) == Environment.TEST.value:
            return self.test_realm or f"{self.realm}-test"
        return self.realm
