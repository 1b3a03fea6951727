"""Entry point of the Pulumi program (``pulumi up -s <unit>.<app>.<env>`` in the repository root)."""

from stacks.program import main

main()
