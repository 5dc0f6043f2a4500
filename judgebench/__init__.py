"""judgebench: measure, correct and trace the biases of AI judges used for RLAIF."""

__version__ = "0.1.0"
