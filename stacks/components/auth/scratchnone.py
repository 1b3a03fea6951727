# THROWAWAY local experiment, never commit
import pulumi
PROTOCOLS = frozenset({"oidc"})
CONFIG = {}
REQUIRED = ()
class R:
    def __init__(self):
        self.issuer = pulumi.Output.from_input("https://none")
        self.client_id = pulumi.Output.from_input("none")
        self.client_secret = pulumi.Output.secret("none")
def register(name, spec, opts=None):
    return R()
