"""Reusable inputs for the entry screens: code lookup, money input, date input, patient picker."""

from .dates import DateInput, parse_service_date
from .lookup import LookupInput, Match, MatchList
from .money_input import MoneyInput
from .patient_picker import PatientPicker, patient_label

__all__ = ["DateInput", "LookupInput", "Match", "MatchList", "MoneyInput", "PatientPicker", "parse_service_date",
           "patient_label"]
