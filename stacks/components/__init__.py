"""Components of one environment, one module each; type tokens ``govcloud:<module>:<Type>``."""
