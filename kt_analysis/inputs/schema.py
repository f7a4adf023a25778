"""The input files' contracts, declared once: the roster's and the bills' columns and types, and
the codes a roster may hold. The loaders check files against these, the sample-data generator
writes them, and the tests read them from here.

>>> ROSTER_COLUMNS[:3], BILLS_COLUMNS
(('line_id', 'customer_id', 'service'), ('line_id', 'bill_month', 'amount_krw'))
>>> [c for c in INTEGER_COLUMNS]
['line_id', 'customer_id', 'monthly_fee_krw', 'bill_cycle_day']
"""

from __future__ import annotations

import pyarrow as pa

SERVICES = ("mobile", "internet", "iptv", "landline")
CUSTOMER_TYPES = ("individual", "small_business", "enterprise")
# What an outage came from, as the incident states it (the 2023 terms compensate outages below the
# threshold, on claim, when they come from the operator's intent or gross negligence).
CAUSES = ("unknown", "external", "operator", "gross_negligence", "intent")
CAUSE_KO = {"unknown": "원인 미상", "external": "외부 요인(천재지변·제3자)", "operator": "사업자 과실",
            "gross_negligence": "사업자의 중과실", "intent": "사업자의 고의"}
PAYMENT_METHODS = ("credit_card", "check_card", "bank_transfer", "giro", "other")

# Korean display names of the codes above: the report (kt_analysis.report.present re-exports them) and
# the policy's own description (inputs.policy) show these, never the codes.
SERVICE_KO = {"mobile": "무선(모바일)", "internet": "인터넷", "iptv": "IPTV", "landline": "인터넷전화·유선전화"}
CUSTOMER_TYPE_KO = {"individual": "개인", "small_business": "소상공인", "enterprise": "기업"}
PAYMENT_METHOD_KO = {"credit_card": "신용카드", "check_card": "체크카드", "bank_transfer": "계좌이체", "giro": "지로",
                     "other": "기타"}

# The roster: one row per line. Every column below is required, in any order; whole numbers as
# int64 (a CSV's are read as text and checked), names as text. Other columns are allowed and
# ignored by the rules (the generator adds plan, name and phone: personal data stays in the roster).
ROSTER = pa.schema([
    ("line_id", pa.int64()),
    ("customer_id", pa.int64()),
    ("service", pa.string()),  # one of SERVICES
    ("monthly_fee_krw", pa.int64()),  # whole won, 0 to 100,000,000
    ("region", pa.string()),
    ("facility_id", pa.string()),
    ("customer_type", pa.string()),  # one of CUSTOMER_TYPES
    ("payment_method", pa.string()),  # one of PAYMENT_METHODS
    ("bill_cycle_day", pa.int64()),  # 1-31
])
ROSTER_COLUMNS = tuple(ROSTER.names)
INTEGER_COLUMNS = tuple(f.name for f in ROSTER if pa.types.is_integer(f.type))
TEXT_COLUMNS = tuple(f.name for f in ROSTER if pa.types.is_string(f.type))
# What the sample-data generator writes: the contract plus the extra columns a real export has.
GENERATED_ROSTER = pa.schema([*ROSTER, ("plan", pa.string()), ("name", pa.string()), ("phone", pa.string())])

# Bills: one row per line and month billed.
BILLS = pa.schema([
    ("line_id", pa.int64()),
    ("bill_month", pa.string()),  # YYYY-MM
    ("amount_krw", pa.int64()),  # whole won
])
BILLS_COLUMNS = tuple(BILLS.names)

# Bill items: one row per line, month and item of the bill — what a credit's fee basis is computed
# on (a policy's ``fee_basis``). The items of a line's month add up to its bill. Discounts are
# negative (or 0); every other item is 0 or more.
ITEM_CATEGORIES = (
    "plan",                 # 요금제 기본료: the plan's monthly fee
    "selective_discount",   # 선택약정 할인: 25% off the plan for a 12/24-month commitment (mobile)
    "bundle_discount",      # 결합 할인: mobile + internet (+ TV) bundles
    "long_term_discount",   # 장기 고객 할인
    "add_on",               # 부가서비스: add-on services
    "equipment_rental",     # 장비 임대료: modem, Wi-Fi router, set-top box
    "device_instalment",    # 단말 할부금: the handset's instalment
    "usage",                # 사용료: calls, data and messages beyond the plan
    "international",        # 국제전화
    "information_fee",      # 정보이용료: content and micro-payments billed with the phone bill
    "one_off",              # 일회성 요금: installation, changes, one-time purchases
)
DISCOUNT_ITEMS = ("selective_discount", "bundle_discount", "long_term_discount")
BILL_ITEMS = pa.schema([
    ("line_id", pa.int64()),
    ("bill_month", pa.string()),  # YYYY-MM
    ("item", pa.string()),  # one of ITEM_CATEGORIES
    ("amount_krw", pa.int64()),  # whole won; a discount is negative
])
BILL_ITEMS_COLUMNS = tuple(BILL_ITEMS.names)

