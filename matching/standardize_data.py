"""Lookup tables used by :mod:`matching.standardize`.

Kept apart from the code so the tables can be reviewed (and extended) by people
who know the data rather than the parser. Every key here is already in the
"lookup key" form the standardizer produces: lower-case, ASCII-folded, periods
removed, whitespace collapsed.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- #
# Empty-ish values
# --------------------------------------------------------------------------- #

# "nan" is what pandas writes for a missing float, "#n/a" what Excel writes for
# a failed lookup; both reach us through CSV exports often enough to matter.
# "na" is deliberately absent: it is Namibia's country code.
NULL_TOKENS = frozenset({"null", "n/a", "-", "--", "none", "nan", "#n/a", "nil", "<null>"})

# --------------------------------------------------------------------------- #
# Company names
# --------------------------------------------------------------------------- #

# cleanco's term list is international and contains short tokens that, at the
# end of a US/UK distributor's name, are much more often a word or a region
# than a legal form ("Acme UK", "Acme Ent", "Acme EU", "Storage Unlimited").
LEGAL_TERM_DENYLIST = frozenset({
    "ent", "uk", "at", "ca", "ec", "eu", "et", "ok", "da", "ps", "se", "sc", "sp",
    "gp", "ba", "bl", "bm", "ss", "sd", "private", "unlimited", "vat", "ei", "ep",
    "fa", "od", "ud", "ong", "sem", "sep", "ses", "ik", "pp", "mb", "ee", "ad",
    "xk", "xt", "pt", "ij", "tdv", "ks", "kt", "kb", "kf", "sf", "ae", "aj", "ay",
    "eg", "cv", "bt", "rt", "gk", "yk", "hb", "hf", "kd", "kv",
})

# Terms cleanco lacks but North-American data uses.
EXTRA_LEGAL_TERMS = (
    "pty", "pvt", "pvt ltd", "l l c", "inc", "corp", "p c",
    "s a", "s a de c v", "sa de cv", "s de rl de cv", "ltee", "limitee", "pbc",
)

# Short form reported in the ``legal_form`` part. Anything not listed falls back
# to the lookup key with "&"/"and" dropped ("gmbh & co kg" -> "gmbh co kg").
LEGAL_SHORT = {
    "incorporated": "inc",
    "corporation": "corp",
    "company": "co",
    "& co": "co",
    "& company": "co",
    "and company": "co",
    "limited": "ltd",
    "l l c": "llc",
    "p c": "pc",
    "s a": "sa",
    "s a de c v": "sa de cv",
    "ltee": "ltd",
    "limitee": "ltd",
    "unltd": "unlimited",
    "ultd": "unlimited",
    "sp zoo": "sp z oo",
    "spolka z oo": "sp z oo",
}

# Canonical display spelling of a legal suffix. Long words ("Incorporated",
# "Corporation", "Limited", "Company") are not listed on purpose: they are the
# company's chosen spelling, we only fix their case.
LEGAL_DISPLAY = {
    "inc": "Inc.",
    "corp": "Corp.",
    "co": "Co.",
    "& co": "& Co.",
    "ltd": "Ltd.",
    "llc": "LLC",
    "l l c": "LLC",
    "llp": "LLP",
    "lp": "LP",
    "lllp": "LLLP",
    "pllc": "PLLC",
    "plc": "PLC",
    "pc": "P.C.",
    "p c": "P.C.",
    "pbc": "PBC",
    "gmbh": "GmbH",
    "mbh": "mbH",
    "gmbh & co kg": "GmbH & Co. KG",
    "mbh & co kg": "mbH & Co. KG",
    "ag": "AG",
    "kg": "KG",
    "kgaa": "KGaA",
    "ohg": "OHG",
    "gbr": "GbR",
    "ev": "e.V.",
    "pty": "Pty",
    "pty ltd": "Pty Ltd",
    "pte": "Pte.",
    "pte ltd": "Pte. Ltd.",
    "pvt": "Pvt.",
    "pvt ltd": "Pvt. Ltd.",
    "sdn bhd": "Sdn. Bhd.",
    "bhd": "Bhd.",
    "sa": "S.A.",
    "s a": "S.A.",
    "sas": "SAS",
    "sasu": "SASU",
    "sarl": "SARL",
    "eurl": "EURL",
    "sa de cv": "S.A. de C.V.",
    "s a de c v": "S.A. de C.V.",
    "srl": "S.r.l.",
    "spa": "S.p.A.",
    "sl": "S.L.",
    "ltda": "Ltda.",
    "lda": "Lda.",
    "bv": "B.V.",
    "nv": "N.V.",
    "bvba": "BVBA",
    "ab": "AB",
    "as": "AS",
    "asa": "ASA",
    "a/s": "A/S",
    "aps": "ApS",
    "oy": "Oy",
    "oyj": "Oyj",
    "sro": "s.r.o.",
    "sp z oo": "Sp. z o.o.",
    "sp zoo": "Sp. z o.o.",
    "kk": "K.K.",
    "ulc": "ULC",
    "ltee": "Ltée",
}

# Abbreviations expanded in the ``core`` match form. "co" and "corp" are only
# expanded when not final (final ones are legal forms and already removed).
COMPANY_ABBREVIATIONS = {
    "intl": "international",
    "int": "international",
    "internat": "international",
    "mfg": "manufacturing",
    "mfr": "manufacturer",
    "mfrs": "manufacturers",
    "mfrg": "manufacturing",
    "svc": "services",
    "svcs": "services",
    "serv": "services",
    "srvcs": "services",
    "dist": "distribution",
    "distr": "distribution",
    "distrib": "distribution",
    "distn": "distribution",
    "distrs": "distributors",
    "distbn": "distribution",
    "assoc": "associates",
    "assocs": "associates",
    "assn": "association",
    "bros": "brothers",
    "ctr": "center",
    "centre": "center",
    "natl": "national",
    "nat'l": "national",
    "amer": "american",
    "grp": "group",
    "hldgs": "holdings",
    "hldg": "holding",
    "mgmt": "management",
    "mgt": "management",
    "mktg": "marketing",
    "sys": "systems",
    "eng": "engineering",
    "engr": "engineering",
    "engrg": "engineering",
    "equip": "equipment",
    "eqpt": "equipment",
    "elec": "electric",
    "supp": "supply",
    "sply": "supply",
    "whse": "warehouse",
    "prod": "products",
    "prods": "products",
    "dept": "department",
    "univ": "university",
    "med": "medical",
    "chem": "chemical",
    "ents": "enterprises",
    "ent": "enterprises",
    "entpr": "enterprises",
    "inst": "institute",
    "indus": "industries",
    "inds": "industries",
    "ind": "industries",
    "labs": "laboratories",
    "lab": "laboratory",
    "solns": "solutions",
    "co": "company",
    "corp": "corporation",
}

COMPANY_STOP_LEADING = frozenset({"the"})

# Acronyms kept upper-case when title-casing ALL-CAPS input.
KNOWN_ACRONYMS = frozenset({
    "usa", "us", "uk", "eu", "ibm", "hvac", "abc", "llc", "ltd", "inc", "hq", "it",
    "ii", "iii", "iv", "vi", "vii", "viii", "ix", "xi", "xii", "3m", "ge", "ups",
    "dhl", "bmw", "gmbh", "ag", "nv", "bv", "plc", "llp", "lp", "pc", "na", "ny",
    "nyc", "la", "dc", "pvc", "led", "usb", "mro", "oem", "b2b", "ppe", "rv",
})

# Words kept lower-case inside a title-cased name.
SMALL_WORDS = frozenset({
    "a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to",
    "de", "del", "della", "der", "des", "di", "du", "la", "le", "van", "von", "y",
    "en", "et", "und",
})

# --------------------------------------------------------------------------- #
# Person names
# --------------------------------------------------------------------------- #

HONORIFICS = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame",
    "rev", "fr", "hon", "herr", "frau", "mme", "mlle", "sr", "sra", "srta",
    "capt", "col", "gen", "lt", "sgt", "atty",
})
# "sr" is ambiguous (Spanish "Señor" vs "Senior"): as a *leading* token it is
# an honorific, as a trailing one a generational suffix. The parser only strips
# honorifics at the start. French "M." is left out: it is far more often an
# initial.

NAME_SUFFIXES = frozenset({
    "jr", "sr", "ii", "iii", "iv", "v", "phd", "md", "dds", "dvm", "esq", "cpa",
    "pe", "rn", "mba", "jd", "ret", "2nd", "3rd",
})

FAMILY_PARTICLES = frozenset({
    "van", "von", "de", "del", "della", "der", "den", "di", "da", "du", "la", "le",
    "st", "saint", "ter", "ten", "bin", "al", "el", "dos", "das",
})

# --------------------------------------------------------------------------- #
# Addresses (USPS Publication 28)
# --------------------------------------------------------------------------- #

# Only the common suffixes: abbreviating rare ones ("LAKE" -> "LK") everywhere
# in a line garbles names ("Lake Shore Dr") for little matching benefit.
STREET_SUFFIXES = {
    "STREET": "ST", "STR": "ST", "STRT": "ST", "ST": "ST",
    "AVENUE": "AVE", "AV": "AVE", "AVEN": "AVE", "AVENU": "AVE", "AVN": "AVE", "AVNUE": "AVE",
    "ROAD": "RD", "RD": "RD",
    "BOULEVARD": "BLVD", "BOUL": "BLVD", "BOULV": "BLVD", "BLVD": "BLVD",
    "DRIVE": "DR", "DRIV": "DR", "DRV": "DR",
    "LANE": "LN",
    "PARKWAY": "PKWY", "PARKWY": "PKWY", "PKWAY": "PKWY", "PKY": "PKWY",
    "HIGHWAY": "HWY", "HIGHWY": "HWY", "HIWAY": "HWY", "HIWY": "HWY", "HWAY": "HWY",
    "COURT": "CT", "CRT": "CT",
    "PLACE": "PL",
    "TERRACE": "TER", "TERR": "TER",
    "CIRCLE": "CIR", "CIRC": "CIR", "CIRCL": "CIR", "CRCL": "CIR",
    "SQUARE": "SQ", "SQR": "SQ",
    "TRAIL": "TRL", "TRAILS": "TRL",
    "EXPRESSWAY": "EXPY", "EXPRESS": "EXPY", "EXPW": "EXPY", "EXPWY": "EXPY",
    "FREEWAY": "FWY", "FREEWY": "FWY", "FRWAY": "FWY", "FRWY": "FWY",
    "TURNPIKE": "TPKE", "TRNPK": "TPKE", "TURNPK": "TPKE",
    "ALLEY": "ALY", "ALLEE": "ALY", "ALLY": "ALY",
    "CENTER": "CTR", "CENTRE": "CTR", "CENTR": "CTR", "CNTER": "CTR", "CNTR": "CTR",
    "PLAZA": "PLZ", "PLZA": "PLZ",
    "CROSSING": "XING", "CRSSNG": "XING",
    "ROUTE": "RTE",
    "CAUSEWAY": "CSWY", "CAUSWA": "CSWY",
    "EXTENSION": "EXT", "EXTN": "EXT", "EXTNSN": "EXT",
    "HEIGHTS": "HTS", "HT": "HTS",
    "JUNCTION": "JCT", "JCTION": "JCT", "JUNCTN": "JCT",
    "POINT": "PT",
    "SQUARES": "SQS",
    "WAY": "WAY", "WY": "WAY",
    "COVE": "CV",
    "CREEK": "CRK",
    "GARDENS": "GDNS",
    "GATEWAY": "GTWY",
    "LANDING": "LNDG",
    "BYPASS": "BYP",
}

DIRECTIONALS = {
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
    "N": "N", "S": "S", "E": "E", "W": "W", "NE": "NE", "NW": "NW", "SE": "SE", "SW": "SW",
}

ORDINAL_WORDS = {
    "FIRST": "1ST", "SECOND": "2ND", "THIRD": "3RD", "FOURTH": "4TH", "FIFTH": "5TH",
    "SIXTH": "6TH", "SEVENTH": "7TH", "EIGHTH": "8TH", "NINTH": "9TH", "TENTH": "10TH",
    "ELEVENTH": "11TH", "TWELFTH": "12TH",
}

# Secondary unit designators that take a number ("STE 200").
UNIT_DESIGNATORS = {
    "SUITE": "STE", "STE": "STE", "SUIT": "STE", "SUI": "STE",
    "APARTMENT": "APT", "APT": "APT",
    "BUILDING": "BLDG", "BLDG": "BLDG", "BLD": "BLDG",
    "FLOOR": "FL", "FL": "FL", "FLR": "FL",
    "ROOM": "RM", "RM": "RM",
    "UNIT": "UNIT",
    "DEPARTMENT": "DEPT", "DEPT": "DEPT",
    "OFFICE": "OFC", "OFC": "OFC",
    "TRAILER": "TRLR", "TRLR": "TRLR",
    "SPACE": "SPC", "SPC": "SPC",
    "LOT": "LOT",
    "HANGAR": "HNGR", "HNGR": "HNGR",
    "PIER": "PIER",
    "SLIP": "SLIP",
    "STOP": "STOP",
    "DOCK": "DOCK",
    "BAY": "BAY",
    "GATE": "GATE",
}

# Designators that stand alone ("REAR").
UNIT_DESIGNATORS_BARE = {
    "PENTHOUSE": "PH", "PH": "PH",
    "BASEMENT": "BSMT", "BSMT": "BSMT",
    "FRONT": "FRNT", "FRNT": "FRNT",
    "REAR": "REAR",
    "LOBBY": "LBBY", "LBBY": "LBBY",
    "LOWER": "LOWR", "LOWR": "LOWR",
    "UPPER": "UPPR", "UPPR": "UPPR",
}

# --------------------------------------------------------------------------- #
# Cities
# --------------------------------------------------------------------------- #

CITY_ABBREVIATIONS = {
    "st": "saint",
    "ste": "sainte",
    "ft": "fort",
    "mt": "mount",
    "mtn": "mountain",
    "pt": "port",
    "hts": "heights",
    "spgs": "springs",
    "jct": "junction",
}

# --------------------------------------------------------------------------- #
# Regions: US states, territories, military "states", Canadian provinces
# --------------------------------------------------------------------------- #

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "PR": "Puerto Rico", "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
    "MP": "Northern Mariana Islands", "UM": "U.S. Minor Outlying Islands",
    "AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
    "FM": "Federated States of Micronesia", "MH": "Marshall Islands", "PW": "Palau",
}

CA_PROVINCES = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
    "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
    "SK": "Saskatchewan", "YT": "Yukon",
}

# AP-style and other common abbreviations; keys in lookup-key form.
REGION_ALIASES = {
    "ala": "AL", "ariz": "AZ", "ark": "AR", "calif": "CA", "cal": "CA", "colo": "CO",
    "col": "CO", "conn": "CT", "del": "DE", "fla": "FL", "flor": "FL", "ga": "GA",
    "ill": "IL", "ills": "IL", "ind": "IN", "kan": "KS", "kans": "KS", "ky": "KY",
    "la": "LA", "md": "MD", "mass": "MA", "mich": "MI", "minn": "MN", "miss": "MS",
    "mo": "MO", "mont": "MT", "neb": "NE", "nebr": "NE", "nev": "NV", "nh": "NH",
    "nj": "NJ", "nm": "NM", "n mex": "NM", "ny": "NY", "nc": "NC", "nd": "ND", "n dak": "ND",
    "okla": "OK", "ore": "OR", "oreg": "OR", "pa": "PA", "penn": "PA", "penna": "PA",
    "ri": "RI", "sc": "SC", "sd": "SD", "s dak": "SD", "tenn": "TN", "tex": "TX",
    "vt": "VT", "va": "VA", "wash": "WA", "wva": "WV", "w va": "WV", "wis": "WI",
    "wisc": "WI", "wyo": "WY", "dist of columbia": "DC", "washington dc": "DC",
    "washington d c": "DC", "district of columbia": "DC",
    "virgin islands": "VI", "us virgin islands": "VI",
    "ont": "ON", "que": "QC", "pq": "QC", "quebec": "QC", "alta": "AB", "man": "MB",
    "sask": "SK", "bc": "BC", "b c": "BC", "ns": "NS", "nb": "NB", "nfld": "NL",
    "newfoundland": "NL", "labrador": "NL", "pei": "PE", "p e i": "PE", "nwt": "NT",
    "yukon territory": "YT", "yk": "YT", "nf": "NL",
}

US_CA_COUNTRIES = frozenset({"US", "CA", "PR", "GU", "VI", "AS", "MP", "UM"})

# --------------------------------------------------------------------------- #
# Countries
# --------------------------------------------------------------------------- #

# Names pycountry does not know, or spells differently. Keys in lookup-key form.
COUNTRY_ALIASES = {
    "usa": "US", "us": "US", "u s": "US", "u s a": "US", "united states": "US",
    "united states of america": "US", "america": "US", "the united states": "US",
    "us of a": "US", "estados unidos": "US", "etats unis": "US", "vereinigte staaten": "US",
    "uk": "GB", "u k": "GB", "great britain": "GB", "britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northern ireland": "GB", "united kingdom": "GB",
    "gbr": "GB",
    "deutschland": "DE", "allemagne": "DE", "alemania": "DE", "germany": "DE",
    "holland": "NL", "the netherlands": "NL", "nederland": "NL",
    "russia": "RU", "russian federation": "RU",
    "south korea": "KR", "korea": "KR", "republic of korea": "KR", "korea south": "KR",
    "north korea": "KP", "korea north": "KP",
    "vietnam": "VN", "viet nam": "VN",
    "turkey": "TR", "turkiye": "TR",
    "macedonia": "MK", "ivory coast": "CI", "cote d'ivoire": "CI", "cote divoire": "CI",
    "cape verde": "CV", "swaziland": "SZ", "burma": "MM", "brunei": "BN",
    "micronesia": "FM", "palestine": "PS", "vatican": "VA", "vatican city": "VA",
    "dr congo": "CD", "drc": "CD", "democratic republic of the congo": "CD",
    "congo kinshasa": "CD", "congo brazzaville": "CG", "republic of the congo": "CG",
    "macau": "MO", "macao": "MO", "kosovo": "XK", "prc": "CN", "china": "CN",
    "peoples republic of china": "CN", "taiwan": "TW", "hong kong": "HK",
    "uae": "AE", "u a e": "AE", "emirates": "AE", "czech republic": "CZ", "czechia": "CZ",
    "mexico": "MX", "espana": "ES", "brasil": "BR", "italia": "IT", "schweiz": "CH",
    "suisse": "CH", "svizzera": "CH", "osterreich": "AT", "oesterreich": "AT",
    "belgique": "BE", "belgie": "BE", "sverige": "SE", "norge": "NO", "danmark": "DK",
    "suomi": "FI", "polska": "PL", "nippon": "JP", "nihon": "JP", "eire": "IE",
    "ireland": "IE", "republic of ireland": "IE", "bolivia": "BO", "iran": "IR",
    "syria": "SY", "laos": "LA", "tanzania": "TZ", "moldova": "MD", "venezuela": "VE",
    "the bahamas": "BS", "bahamas": "BS", "the gambia": "GM", "gambia": "GM",
    "east timor": "TL", "st lucia": "LC", "saint lucia": "LC", "st kitts and nevis": "KN",
    "st vincent and the grenadines": "VC", "sao tome and principe": "ST",
    "trinidad": "TT", "trinidad & tobago": "TT", "bosnia": "BA",
    "bosnia and herzegovina": "BA", "bosnia & herzegovina": "BA", "antigua": "AG",
    "antigua & barbuda": "AG", "slovak republic": "SK", "kyrgyz republic": "KG",
    "puerto rico": "PR", "us virgin islands": "VI", "british virgin islands": "VG",
    "canada": "CA", "kanada": "CA",
}

# EU VAT prefixes that are not the ISO code (Greece uses EL, Northern Ireland XI).
VAT_PREFIX_TO_COUNTRY = {"EL": "GR", "XI": "GB"}
COUNTRY_TO_VAT_PREFIX = {"GR": "EL"}

EU_VAT_COUNTRIES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "GR", "ES", "FI", "FR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})

# Countries whose VAT numbers are conventionally written with the country
# prefix, so the canonical value carries it ("GB980780684", "CHE123456789").
VAT_PREFIXED_COUNTRIES = EU_VAT_COUNTRIES | {"GB", "NO"}

# --------------------------------------------------------------------------- #
# Units of measure (UN/ECE Recommendation 20 flavoured short codes)
# --------------------------------------------------------------------------- #

_UOM_GROUPS = {
    "EA": ("ea", "each", "eac", "pc", "pcs", "pce", "piece", "pieces", "unit", "units",
           "un", "u", "ct1", "ech"),
    "CS": ("cs", "case", "cases", "cse", "cas"),
    "BX": ("bx", "box", "boxes", "bxs"),
    "PK": ("pk", "pack", "packs", "pkg", "pkgs", "package", "packages", "pck", "pak"),
    "DZ": ("dz", "dzn", "doz", "dozen", "dozens"),
    "PR": ("pr", "pair", "pairs", "prs"),
    "RL": ("rl", "roll", "rolls", "rll"),
    "BG": ("bg", "bag", "bags", "bgs"),
    "CT": ("ct", "carton", "cartons", "ctn", "ctns", "crtn"),
    "PL": ("pl", "pallet", "pallets", "plt", "plts", "pal", "skid"),
    "KG": ("kg", "kgs", "kilogram", "kilograms", "kilo", "kilos"),
    "G": ("g", "gr", "grm", "gram", "grams", "gm"),
    "LB": ("lb", "lbs", "pound", "pounds", "#"),
    "OZ": ("oz", "ounce", "ounces"),
    "L": ("l", "lt", "ltr", "liter", "liters", "litre", "litres"),
    "ML": ("ml", "milliliter", "milliliters", "millilitre", "millilitres"),
    "M": ("m", "mtr", "meter", "meters", "metre", "metres"),
    "FT": ("ft", "foot", "feet", "'"),
    "IN": ("in", "inch", "inches", '"'),
    "GAL": ("gal", "gals", "gallon", "gallons"),
    "SET": ("set", "sets", "st"),
    "KIT": ("kit", "kits", "kt"),
    "SP": ("sp", "spool", "spools", "spl"),
    "BD": ("bd", "bundle", "bundles", "bdl", "bndl"),
    "TB": ("tb", "tube", "tubes"),
    "DR": ("dr", "drum", "drums"),
}
UOM_SYNONYMS = {syn: code for code, syns in _UOM_GROUPS.items() for syn in syns}
UOM_CODES = frozenset(_UOM_GROUPS)

# --------------------------------------------------------------------------- #
# Currencies
# --------------------------------------------------------------------------- #

# "$" means the local dollar when the record's country uses one, USD otherwise.
DOLLAR_COUNTRIES = {
    "CA": "CAD", "AU": "AUD", "NZ": "NZD", "SG": "SGD", "HK": "HKD", "MX": "MXN",
    "TW": "TWD",
}

CURRENCY_SYMBOLS = {
    "us$": "USD", "u$s": "USD", "usd$": "USD", "c$": "CAD", "ca$": "CAD", "can$": "CAD",
    "cad$": "CAD", "a$": "AUD", "au$": "AUD", "nz$": "NZD", "s$": "SGD", "hk$": "HKD",
    "mx$": "MXN", "r$": "BRL",
    "€": "EUR", "£": "GBP", "¥": "JPY", "￥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB",
    "₪": "ILS", "₺": "TRY", "₱": "PHP", "zł": "PLN", "₫": "VND", "฿": "THB", "₦": "NGN",
    "kč": "CZK", "ft": "HUF", "fr": "CHF", "sfr": "CHF",
}

CURRENCY_ALIASES = {
    "dollar": "USD", "dollars": "USD", "us dollar": "USD", "us dollars": "USD",
    "u s dollar": "USD", "u s dollars": "USD", "american dollar": "USD",
    "euro": "EUR", "euros": "EUR", "eur": "EUR",
    "pound": "GBP", "pounds": "GBP", "pound sterling": "GBP", "sterling": "GBP",
    "british pound": "GBP", "british pounds": "GBP", "gb pound": "GBP",
    "canadian dollar": "CAD", "canadian dollars": "CAD", "australian dollar": "AUD",
    "australian dollars": "AUD", "yen": "JPY", "japanese yen": "JPY", "yuan": "CNY",
    "renminbi": "CNY", "rmb": "CNY", "swiss franc": "CHF", "swiss francs": "CHF",
    "peso": "MXN", "pesos": "MXN", "mexican peso": "MXN", "mexican pesos": "MXN",
    "rupee": "INR", "rupees": "INR", "indian rupee": "INR",
}
