"""fedheme: federated, differentially private prognostic models for haematological diseases."""

__version__ = "0.1.0"
