"""Reusable inputs: code lookup, money input, date input, patient picker."""
