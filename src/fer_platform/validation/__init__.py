"""Data validation: a Great Expectations suite plus the checks GX does not do (duplicates, leaks, blanks)."""
