"""Measure ``standardize_record`` on synthetic, varied customer rows.

    python -m matching.bench_standardize [--rows 50000] [--by-type]

Ingestion has to reach 5,000 customer records/s on two cores *including* the
database writes, so standardization must stay well under 100 µs per record.
The rows are generated with a fixed seed; values repeat the way they do in
real exports (cities, regions, countries, currencies, terms) while names,
addresses, phones, tax IDs and e-mails are mostly unique, so the memo caches
help only where they would help in production.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict

from matching.standardize import (
    AttributeSpec,
    Context,
    clear_caches,
    standardize_record,
    standardize_value,
)

CUSTOMER_SPECS = [
    AttributeSpec("name", "company_name", required=True),
    AttributeSpec("tax_id", "tax_id"),
    AttributeSpec("address_line1", "address_line"),
    AttributeSpec("address_line2", "address_line"),
    AttributeSpec("city", "city"),
    AttributeSpec("region", "region"),
    AttributeSpec("postcode", "postcode"),
    AttributeSpec("country", "country"),
    AttributeSpec("phone", "phone"),
    AttributeSpec("email", "email"),
    AttributeSpec("contact_name", "person_name"),
    AttributeSpec("credit_limit", "money"),
    AttributeSpec("currency", "currency"),
    AttributeSpec("payment_terms", "code"),
    AttributeSpec("status", "code"),
    AttributeSpec("url", "url"),
]

_WORDS = (
    "Acme", "Apex", "Summit", "Pioneer", "Atlas", "Beacon", "Cascade", "Keystone", "Liberty",
    "Meridian", "Northstar", "Pinnacle", "Redwood", "Sterling", "Triton", "Vanguard",
    "Granite", "Harbor", "Ironwood", "Lakeside", "Magnolia", "Oakridge", "Prairie",
    "Riverbend", "Silverline", "Timberline", "Union", "Westfield", "Bluewater", "Crescent",
    "Delta", "Evergreen", "Frontier", "Golden", "Highland", "Imperial", "Jackson", "Kingston",
    "Lincoln", "Madison", "Newport", "Orion", "Patriot", "Quantum", "Regal", "Sequoia",
    "Tri-State", "Valley", "Whitney", "Müller", "Société",
)
_TRADES = (
    "Supply", "Industrial Supply", "Distribution", "Electric", "Plumbing", "HVAC", "Foods",
    "Packaging", "Tools", "Safety Products", "Mfg", "Intl", "Janitorial", "Fasteners",
    "Building Materials", "Medical", "Auto Parts", "Hardware", "& Sons", "Bros",
)
_LEGAL = ("Inc", "Inc.", ", Inc.", "LLC", "L.L.C.", "Corp", "Corporation", "Co", "Ltd", "", "")
_STREETS = (
    "Main", "Oak", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Pine",
    "Industrial", "Commerce", "Enterprise", "Market", "Mill", "Church", "River", "Fifth",
)
_SUFFIXES = ("Street", "St", "St.", "Avenue", "Ave", "Road", "Rd", "Blvd", "Boulevard",
             "Drive", "Dr", "Lane", "Pkwy", "Highway", "Way", "Court")
_DIRS = ("", "", "", "N", "North", "S.", "East", "W")
_CITIES = (
    ("Chicago", "IL"), ("Houston", "Texas"), ("Phoenix", "AZ"), ("St. Louis", "MO"),
    ("Saint Paul", "Minnesota"), ("Denver", "CO"), ("Atlanta", "GA"), ("Boston", "MA"),
    ("Fort Worth", "TX"), ("San Jose", "Calif."), ("Columbus", "OH"), ("Charlotte", "NC"),
    ("Seattle", "WA"), ("Nashville", "Tenn."), ("Detroit", "MI"), ("Portland", "OR"),
    ("Memphis", "TN"), ("Louisville", "KY"), ("Milwaukee", "WI"), ("Albuquerque", "NM"),
    ("Tucson", "AZ"), ("Fresno", "CA"), ("Sacramento", "California"), ("Mesa", "AZ"),
    ("Omaha", "NE"), ("Raleigh", "NC"), ("Miami", "Florida"), ("Tulsa", "OK"),
    ("Cleveland", "OH"), ("Wichita", "KS"), ("Arlington", "VA"), ("Tampa", "FL"),
)
_CA_CITIES = (("Toronto", "ON", "M5V 2T6", "416"), ("Montréal", "Québec", "H2Y 1C6", "514"),
              ("Vancouver", "BC", "V6B 1A1", "604"), ("Calgary", "Alberta", "T2P 1J9", "403"))
_AREA = ("212", "312", "415", "512", "602", "617", "702", "713", "773", "404", "305", "206",
         "303", "214", "216", "248", "314", "469", "503", "615", "704", "816", "919", "952")
_FIRST = ("John", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda",
          "David", "Elizabeth", "José", "Zoë", "Ahmed", "Wei", "Priya", "Olga", "Liam")
_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
         "O'Brien", "McDonald", "Nguyen", "Müller", "van der Berg", "Kowalski", "Patel")
_EIN_PREFIXES = ("10", "12", "20", "22", "27", "36", "41", "46", "52", "58", "61", "75", "94", "95")
_COUNTRIES_US = ("US", "USA", "United States", "U.S.A.", "us", "")
_TERMS = ("NET30", "Net 30", "NET 45", "net60", "COD", "2/10 NET 30", "PREPAID")
_STATUS = ("ACTIVE", "Active", "active", "INACTIVE", "On Hold")


def _case(rng: random.Random, s: str) -> str:
    r = rng.random()
    return s.upper() if r < 0.25 else s.lower() if r < 0.3 else s


def make_rows(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        name = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {rng.choice(_TRADES)}"
        legal = rng.choice(_LEGAL)
        name = _case(rng, name + (legal if legal.startswith(",") else f" {legal}" if legal else ""))
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        domain = f"{name.split()[0].lower()}{rng.randint(1, 999)}.com"
        canadian = rng.random() < 0.1
        if canadian:
            city, region, postcode, area = rng.choice(_CA_CITIES)
            country = rng.choice(("CA", "Canada", "CAN"))
        else:
            city, region = rng.choice(_CITIES)
            zip5 = f"{rng.randint(1001, 99950):05d}"
            plus4 = f"{zip5}-{rng.randint(0, 9999):04d}"
            postcode = rng.choice((zip5, zip5, plus4, zip5.lstrip("0")))
            area = rng.choice(_AREA)
            country = rng.choice(_COUNTRIES_US)
        line = rng.randint(2, 9999)
        phone_digits = f"{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        phone = rng.choice((
            f"({phone_digits[:3]}) {phone_digits[3:6]}-{phone_digits[6:]}",
            f"{phone_digits[:3]}-{phone_digits[3:6]}-{phone_digits[6:]}",
            f"+1 {phone_digits[:3]} {phone_digits[3:6]} {phone_digits[6:]}",
            f"{phone_digits[:3]}.{phone_digits[3:6]}.{phone_digits[6:]} x{rng.randint(1, 999)}",
            phone_digits,
        ))
        ein = f"{rng.choice(_EIN_PREFIXES)}{rng.randint(0, 9_999_999):07d}"
        rows.append({
            "name": name,
            "tax_id": "" if canadian else rng.choice((f"{ein[:2]}-{ein[2:]}", ein, "", "N/A")),
            "address_line1": _case(rng, f"{line} {rng.choice(_DIRS)} {rng.choice(_STREETS)} "
                                         f"{rng.choice(_SUFFIXES)}"),
            "address_line2": rng.choice(("", "", f"Suite {rng.randint(1, 900)}",
                                         f"Ste. {rng.randint(1, 900)}", f"#{rng.randint(1, 99)}",
                                         f"Bldg {rng.randint(1, 9)}")),
            "city": _case(rng, city),
            "region": region,
            "postcode": postcode,
            "country": country,
            "phone": phone,
            "email": rng.choice((f"{first}.{last}@{domain}", f"AP@{domain.upper()}",
                                 f"mailto:orders@{domain}")).replace(" ", "").replace("'", ""),
            "contact_name": rng.choice((f"{first} {last}", f"{last.upper()}, {first.upper()}",
                                        f"{first} {chr(rng.randint(65, 90))}. {last}",
                                        f"Mr. {first} {last} Jr.")),
            "credit_limit": rng.choice((f"${rng.randint(1, 500) * 500:,}.00",
                                        str(rng.randint(1, 500) * 1000),
                                        f"{rng.randint(1, 99) * 250}.00",
                                        "USD 25,000")),
            "currency": rng.choice(("USD", "usd", "US Dollar", "$", "CAD" if canadian else "USD")),
            "payment_terms": rng.choice(_TERMS),
            "status": rng.choice(_STATUS),
            "url": rng.choice((f"www.{domain}", f"https://{domain}/", domain, f"HTTP://WWW.{domain.upper()}")),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (best is reported)")
    parser.add_argument("--by-type", action="store_true", help="also time each attribute alone")
    args = parser.parse_args()

    rows = make_rows(args.rows)
    context = Context(default_region="US")
    clear_caches()
    # One untimed record imports the lazily loaded libraries and tables.
    standardize_record(CUSTOMER_SPECS, rows[0], context)
    clear_caches()

    # Several passes, each starting with cold memo caches: the best pass is
    # the figure least disturbed by whatever else runs on the machine.
    passes = []
    for _ in range(args.repeat):
        clear_caches()
        wall, cpu = time.perf_counter(), time.process_time()
        issues = 0
        for row in rows:
            issues += len(standardize_record(CUSTOMER_SPECS, row, context).issues)
        passes.append((time.perf_counter() - wall, time.process_time() - cpu))
    for i, (wall, cpu) in enumerate(passes, 1):
        print(f"pass {i}: {wall / len(rows) * 1e6:6.1f} µs/record wall, "
              f"{cpu / len(rows) * 1e6:6.1f} µs/record CPU")
    best = min(w for w, _ in passes)
    print(f"{len(rows):,} customer records, best pass {best:.2f} s: "
          f"{best / len(rows) * 1e6:.1f} µs/record ({len(rows) / best:,.0f} records/s "
          f"on one core), {issues:,} issues")

    if args.by_type:
        totals: dict[str, float] = defaultdict(float)
        clear_caches()
        for row in rows:
            for spec in CUSTOMER_SPECS:
                t0 = time.perf_counter()
                standardize_value(spec.type, row.get(spec.name), context)
                totals[spec.name] += time.perf_counter() - t0
        for name, total in sorted(totals.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<15} {total / len(rows) * 1e6:6.1f} µs")


if __name__ == "__main__":
    main()
