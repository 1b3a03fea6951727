"""govcloud: government-cloud manifests to Pulumi stacks on OpenStack."""

__version__ = "0.1.0"
