"""desk: a small help-desk service (the Change... benchmark's fixture application)."""
