"""The Pulumi program: one environment of an approved manifest becomes one OpenStack stack.

``__main__`` is what ``pulumi up`` runs (``Pulumi.yaml``: ``main: stacks/``); :mod:`stacks.program`
reads the stack config and builds :class:`stacks.components.app.Environment`; ``govcloud plan``
runs the same :func:`stacks.program.deploy` under Pulumi's mock runtime.
"""
