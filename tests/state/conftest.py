from tests.gitops.conftest import ledger  # noqa: F401
from tests.lifecycle.conftest import database_url, postgres_url  # noqa: F401
