"""Peewee models over the schema in :mod:`migrations` (the migrations own the DDL).

Money columns are ``IntegerField`` of cents. Dates are ISO ``YYYY-MM-DD`` text, so they sort and
compare as dates and need no conversion in SQL. Rows of posted history are append-only: the
database refuses UPDATE and DELETE of them (see the migrations' triggers).
"""

from __future__ import annotations

from peewee import (
    BooleanField,
    CompositeKey,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .db import database


class Base(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Practice(Base):
    name = TextField()
    npi = TextField(default="")
    tax_id = TextField(default="")
    address = TextField(default="")
    phone = TextField(default="")


class Provider(Base):
    code = TextField(unique=True)
    name = TextField()
    npi = TextField()
    active = BooleanField(default=True)


class Payer(Base):
    code = TextField(unique=True)
    name = TextField()
    edi_payer_id = TextField(default="")
    kind = TextField()


class Patient(Base):
    account = TextField(unique=True)
    last_name = TextField()
    first_name = TextField()
    name_key = TextField(index=True)  # "last,first" lowercased, for prefix lookup
    dob = TextField()
    sex = TextField()
    address = TextField(default="")
    city = TextField(default="")
    state = TextField(default="")
    zip = TextField(default="")
    phone = TextField(default="")


class Coverage(Base):
    patient = ForeignKeyField(Patient, backref="coverages")
    payer = ForeignKeyField(Payer)
    member_id = TextField()
    group_no = TextField(default="")
    priority = IntegerField()


class Procedure(Base):
    code = TextField(primary_key=True)
    description = TextField()
    fee = IntegerField()
    default_units = IntegerField(default=1)


class AdjustmentReason(Base):
    code = TextField(primary_key=True)
    description = TextField()
    kind = TextField()


class Batch(Base):
    kind = TextField()
    posting_date = TextField()
    operator = TextField()
    control_count = IntegerField()
    control_total = IntegerField()
    opened_at = TextField()


class BatchClose(Base):
    batch = ForeignKeyField(Batch, primary_key=True)
    closed_at = TextField()
    operator = TextField()
    entered_count = IntegerField()
    entered_total = IntegerField()


class Encounter(Base):
    patient = ForeignKeyField(Patient)
    provider = ForeignKeyField(Provider)
    payer = ForeignKeyField(Payer, null=True)
    dos = TextField()
    pos = TextField()
    batch = ForeignKeyField(Batch, null=True)
    posting_date = TextField()
    operator = TextField()
    created_at = TextField()
    reverses = ForeignKeyField("self", null=True, unique=True)
    void_reason = TextField(null=True)


class EncounterDiagnosis(Base):
    encounter = ForeignKeyField(Encounter, backref="diagnoses")
    seq = IntegerField()
    code = TextField()

    class Meta:
        primary_key = CompositeKey("encounter", "seq")


class Charge(Base):
    encounter = ForeignKeyField(Encounter, backref="lines")
    line_no = IntegerField()
    patient = ForeignKeyField(Patient)
    provider = ForeignKeyField(Provider)
    payer = ForeignKeyField(Payer, null=True)  # None: the patient is responsible (self-pay)
    dos = TextField()
    pos = TextField()
    code = TextField()
    modifiers = TextField(default="")  # comma-separated, up to 4
    dx_pointers = TextField(default="1")  # comma-separated 1..12 into the encounter's diagnoses
    units = IntegerField()
    fee = IntegerField()  # per unit, cents
    amount = IntegerField()  # cents; negative only on a reversing row
    batch = ForeignKeyField(Batch, null=True)
    posting_date = TextField()
    operator = TextField()
    reverses = ForeignKeyField("self", null=True, unique=True)


class Receipt(Base):
    batch = ForeignKeyField(Batch, null=True)
    source = TextField()  # patient | payer
    patient = ForeignKeyField(Patient, null=True)
    payer = ForeignKeyField(Payer, null=True)
    method = TextField()  # cash | check | card | eft
    reference = TextField(default="")
    amount = IntegerField()
    received_date = TextField()
    posting_date = TextField()
    operator = TextField()
    created_at = TextField()
    reverses = ForeignKeyField("self", null=True, unique=True)
    void_reason = TextField(null=True)


class Distribution(Base):
    receipt = ForeignKeyField(Receipt, null=True)
    posting_date = TextField()
    operator = TextField()
    created_at = TextField()
    reverses = ForeignKeyField("self", null=True, unique=True)
    void_reason = TextField(null=True)


class Application(Base):
    distribution = ForeignKeyField(Distribution, backref="applications")
    receipt = ForeignKeyField(Receipt)
    charge = ForeignKeyField(Charge)
    amount = IntegerField()
    posting_date = TextField()
    operator = TextField()
    reverses = ForeignKeyField("self", null=True, unique=True)


class Adjustment(Base):
    distribution = ForeignKeyField(Distribution, backref="adjustments")
    charge = ForeignKeyField(Charge)
    reason_code = TextField()
    amount = IntegerField()  # positive reduces the balance
    posting_date = TextField()
    operator = TextField()
    reverses = ForeignKeyField("self", null=True, unique=True)


class Transfer(Base):
    distribution = ForeignKeyField(Distribution, backref="transfers")
    charge = ForeignKeyField(Charge)
    from_payer = ForeignKeyField(Payer, null=True)
    to_payer = ForeignKeyField(Payer, null=True)  # None: to the patient
    amount = IntegerField()
    posting_date = TextField()
    operator = TextField()
    reverses = ForeignKeyField("self", null=True, unique=True)


class Refund(Base):
    receipt = ForeignKeyField(Receipt)
    method = TextField()
    reference = TextField(default="")
    reason = TextField(default="")
    amount = IntegerField()
    posting_date = TextField()
    operator = TextField()
    created_at = TextField()
    reverses = ForeignKeyField("self", null=True, unique=True)
    void_reason = TextField(null=True)


class DayClose(Base):
    posting_date = TextField(primary_key=True)
    closed_at = TextField()
    operator = TextField()
    totals = TextField()  # JSON of the figures it was closed with
    counted_cash = IntegerField(default=0)
    counted_checks = IntegerField(default=0)
    counted_check_count = IntegerField(default=0)
    counted_card = IntegerField(default=0)
    counted_eft = IntegerField(default=0)


class MonthClose(Base):
    month = TextField(primary_key=True)
    closed_at = TextField()
    operator = TextField()
    totals = TextField()


class AuditEvent(Base):
    at = TextField()
    user = TextField()
    action = TextField()
    entity = TextField()
    entity_id = IntegerField(null=True)
    detail = TextField()
    prev_hash = TextField()
    hash = TextField()


class ChargeBalance(Base):
    """Running balance of an original charge and who owes it now (kept by triggers)."""

    charge = ForeignKeyField(Charge, primary_key=True)
    patient_id = IntegerField()
    payer_id = IntegerField(null=True)
    dos = TextField()
    balance = IntegerField()


class ReceiptBalance(Base):
    """Unapplied amount of an original receipt (kept by triggers)."""

    receipt = ForeignKeyField(Receipt, primary_key=True)
    unapplied = IntegerField()


ALL_MODELS = [
    Practice, Provider, Payer, Patient, Coverage, Procedure, AdjustmentReason, Batch, BatchClose,
    Encounter, EncounterDiagnosis, Charge, Receipt, Distribution, Application, Adjustment,
    Transfer, Refund, DayClose, MonthClose, AuditEvent, ChargeBalance, ReceiptBalance,
]
