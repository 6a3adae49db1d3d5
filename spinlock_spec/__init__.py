"""spinlock-spec: a compiler and trainer for categorical hierarchical VQ-VAE tokenizer specs."""

__version__ = "0.1.0"
