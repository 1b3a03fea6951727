"""The test toolchain (toolchain/README.md): not part of the installed govcloud package."""
