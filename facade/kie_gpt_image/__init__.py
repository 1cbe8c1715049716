"""kie-gpt-image: a Python client for kie.ai's GPT Image 1.5 image-to-image model."""

__version__ = "0.1.0"

__all__ = ["__version__"]
