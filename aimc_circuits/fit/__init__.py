"""Model functions and lmfit fits, one module per block (pure numpy + lmfit, no SPICE)."""
