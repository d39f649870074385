"""Test helpers: a throwaway PostgreSQL server and tiny archives in the official layouts."""
