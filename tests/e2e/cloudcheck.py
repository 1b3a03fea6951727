"""The plan-versus-cloud comparison the end-to-end tests use: since issue 25 it is the adapter
behind ``govcloud verify`` (:mod:`orchestrator.adapters.cloud.plancheck`), re-exported here."""

from orchestrator.adapters.cloud.plancheck import *  # noqa: F403
from orchestrator.adapters.cloud.plancheck import database_ids, differences, ids, remaining  # noqa: F401
