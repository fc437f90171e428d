# ruff: noqa: E501, RUF001, RUF002  (template tables are data: one template per line reads best)
"""Generate NLU training examples: sentence shapes × slot values, with the noise of real chat.

Writes rasa_project/data/nlu_generated.yml (committed; `make train` does not regenerate it).
Run `python scripts/generate_nlu.py` after changing this script; a test checks the committed
file is what the script produces (the output is deterministic: fixed seed, sorted output).

Where the templates come from: written here by hand from how people ask a bill-paying assistant
in chat — imperative requests, questions, a statement of what is owed followed by a request
("<company> wants <amount> from me, can you pay that"), context before the request, conditions,
amounts before or after the biller, "on the" with and without a date, cancelling as undo/call
off, several bills at once. Never from an evaluation set (bench/data/independent/ is read by the
benchmark only; tests/rasa/test_data.py checks that no evaluation sentence is trained on).

Slot values: the demo billers' words, bill categories anyone may have (insurance, gas, credit
card, council tax, ...), real company names and invented ones (so DIET learns where a biller
sits in a sentence, not a list of names). Company names seen while studying the dev set are
deliberately left out, so the dev set measures billers the model has never seen.

Ways of writing (issue 11: dictation, second-language English, terse fragments, formal letters,
teenage slang, upset users) are tables of their own in scripts/nlu_styles.py, drawn from their own
random stream and appended, so the examples above stay as they were. Well-known brands typed in
lower case, messages in CAPITALS, letters, and the `brand` lookup table come from
scripts/nlu_brands.py the same way.

Only `biller` is annotated: amounts and dates are marked by the spaCy rules
(scripts/build_spacy_pipeline.py), so DIET never learns them.
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the style tables are a sibling module
    sys.path.insert(0, str(ROOT))

from scripts import nlu_brands, nlu_styles  # noqa: E402

OUT = ROOT / "rasa_project" / "data" / "nlu_generated.yml"
SEED = 20261130

# --- slot values ------------------------------------------------------------------------------------

DEMO_BILLERS = [
    "electricity", "power", "energy", "electric", "strom", "Stadtwerke", "Vodafone", "phone", "mobile",
    "cell phone", "rent", "landlord", "water", "internet", "wifi", "broadband", "Telekom", "dsl",
    "hausverwaltung", "Berliner Wasserbetriebe", "wasser", "miete",
]  # fmt: skip
CATEGORIES = [
    "gas", "heating", "insurance", "car insurance", "home insurance", "health insurance", "life insurance",
    "credit card", "council tax", "property tax", "tv licence", "cable", "tv", "streaming", "gym",
    "gym membership", "mortgage", "car loan", "student loan", "daycare", "childcare", "school fees",
    "tuition", "trash", "garbage collection", "sewer", "parking permit", "phone plan", "utilities",
    "electricity and gas", "alarm system", "storage unit", "music subscription", "newspaper",
    "dentist", "vet", "hospital", "water and sewage", "energy supplier", "fibre", "landline",
    "home phone", "visa card", "mastercard", "store card", "car lease", "pension", "union dues",
]  # fmt: skip
REAL_COMPANIES = [
    "EDF", "Engie", "Vattenfall", "EnBW", "RWE", "Eneco", "Essent", "Endesa", "Naturgy", "OVO Energy",
    "Scottish Power", "SSE", "Con Edison", "Duke Energy", "National Grid", "Xcel Energy",
    "Dominion Energy", "Georgia Power", "AT&T", "Sprint", "Spectrum", "Cox", "Optimum", "Frontier",
    "CenturyLink", "Mint Mobile", "Cricket", "Movistar", "O2", "EE", "Three", "Sky", "BT",
    "Virgin Media", "TalkTalk", "Orange", "SFR", "Bouygues Telecom", "Swisscom", "Sunrise", "KPN",
    "Ziggo", "Proximus", "Telenet", "Telia", "Telenor", "1&1", "congstar", "State Farm", "Progressive",
    "Allstate", "Liberty Mutual", "Nationwide", "USAA", "Aviva", "Direct Line", "Admiral", "Zurich",
    "Generali", "HUK-Coburg", "Ergo", "DEVK", "Mapfre", "Barclaycard", "Chase", "Capital One",
    "Discover", "Citi", "HSBC", "Santander", "Lloyds", "NatWest", "Wells Fargo", "Disney+", "Hulu",
    "HBO Max", "Amazon Prime", "Apple Music", "YouTube Premium", "Paramount+", "DAZN", "Audible",
    "Adobe", "Dropbox", "Microsoft 365", "iCloud", "PureGym", "McFit", "Planet Fitness",
    "Waste Management", "Veolia", "Severn Trent", "Anglian Water", "United Utilities",
    "Yorkshire Water", "Origin Energy", "AGL", "Telstra", "Optus", "Rogers", "Bell", "Telus",
    "Fastweb", "Wind Tre", "Hera", "A2A", "Acea", "Greenchoice", "Tibber", "Hydro One", "BC Hydro",
    "Southern Water", "Affinity Water", "Shell Energy", "Avacon", "Mainova", "Lichtblick", "Yello",
    "Eprimo", "Stadtwerke München", "Stadtwerke Bonn", "Stadtwerke Kiel", "Vodafone Kabel",
]  # fmt: skip
NAME_HEADS = [
    "Northwind", "Bluefield", "Riverside", "Summit", "Lakeview", "Greenway", "Silverline", "Brightwave",
    "Harbor", "Maple", "Oakridge", "Pinecrest", "Evergreen", "Crystal", "Sunrise", "Horizon", "Metro",
    "Valley", "Coastal", "Alpine", "Nordic", "Kessler", "Hoffmann", "Weber", "Novak", "Rossi", "Dubois",
    "Jansen", "Kowalski", "Andersen", "Redwood", "Clearwater", "Ironbridge", "Westfield", "Eastgate",
    "Starling", "Falcon", "Juniper", "Copperline", "Meadow",
]  # fmt: skip
NAME_TAILS = [
    "Energy", "Power", "Water", "Gas", "Telecom", "Mobile", "Fibre", "Broadband", "Networks",
    "Insurance", "Utilities", "Electric", "Energie", "Versicherung", "GmbH", "AG", "Ltd", "Inc",
    "Property Management", "Immobilien", "Cable", "Wireless", "Connect", "Net", "Waste Services",
    "Home Security", "Lettings", "Credit Union",
]  # fmt: skip
# Invented or real one-word brands written the way brands are: CamelCase, a dot, a hyphen, capitals.
# None of them comes from an evaluation set.
ODD_NAMES = [
    "AquaNova", "VoltEdge", "NetCompass", "PowerLink", "TeleOne", "FiberMax", "GridWise", "Enercity",
    "N-Ergie", "M-net", "enviaM", "innogy", "NetCologne", "EWE", "SWM", "SoCalGas", "ComEd",
    "PSE&G", "Comdirect", "Lemonade", "Zava", "A.S.R.", "R.W.E.",
    "Bluebird", "HomeServe", "Bulb", "EasyNet", "CityFibre", "Hyperoptic", "giffgaff", "Lebara",
    "Ionos", "Strato", "Wasserverband", "Gasag", "Vattenfall", "Sparkasse", "KfW", "ADAC", "HanseMerkur",
]  # fmt: skip
EVERYDAY_WORDS = {
    "three", "orange", "bell", "discover", "sunrise", "cricket", "sky", "frontier", "optimum", "progressive",
    "nationwide", "ergo", "chase", "admiral", "zurich", "cox", "sprint", "spectrum", "yello",
    "bulb", "bluebird", "lemonade", "hera", "rogers",
}  # fmt: skip
# Acronym brands (EE, BT, O2, SSE, AGL, A2A, EDF) are no English words: they are typed in lower case too.
TOWNS = ["Aachen", "Ulm", "Jena", "Passau", "Lüneburg", "Trier", "Gießen", "Husum", "Bamberg", "Görlitz"]


def company(rng: random.Random) -> str:
    """A real or an invented company name, sometimes typed in lower case or with a slip."""
    roll = rng.random()
    if roll < 0.4:
        name = rng.choice(REAL_COMPANIES)
    elif roll < 0.48:
        name = f"Stadtwerke {rng.choice(TOWNS)}"
    elif roll < 0.6:
        name = rng.choice(ODD_NAMES)  # one-word brands: CamelCase, dots, hyphens, all caps
    else:
        name = f"{rng.choice(NAME_HEADS)} {rng.choice(NAME_TAILS)}"
    style = rng.random()
    if style < 0.18 and name.lower() not in EVERYDAY_WORDS:
        return name.lower()  # people rarely press shift in chat (a brand that is an everyday word keeps it)
    if style < 0.3 and len(name) >= 5 and name.isalpha():
        return _typo(name, rng)
    return name


def biller(rng: random.Random, kind: str | None = None) -> str:
    """A biller as people name it: a demo biller's word, a category, or a company."""
    kind = kind or rng.choices(["demo", "category", "company"], weights=[4, 2.5, 3.5])[0]
    if kind == "demo":
        name = rng.choice(DEMO_BILLERS)
        return _typo(name, rng) if rng.random() < 0.22 and len(name) >= 5 else name  # thumbs slip
    if kind == "category":
        return rng.choice(CATEGORIES)
    return company(rng)


def _typo(word: str, rng: random.Random) -> str:
    """One slip of the thumb: a letter dropped, doubled or swapped with its neighbour."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "double", "swap"])
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def amount(rng: random.Random) -> str:
    """Money as people type it (not annotated: the spaCy rules mark it)."""
    whole = rng.choice(
        [rng.randint(5, 99), rng.randint(100, 250), rng.randint(20, 80), rng.randint(300, 1800)]
    )
    cents = rng.choice(["", "", f".{rng.randint(0, 99):02d}", f",{rng.randint(0, 99):02d}", ".50", ".99"])
    number = f"{whole}{cents}"
    forms = [
        number, number, number, f"€{number}", f"{number}€", f"{number} €", f"{number} euros", f"{number} euro",
        f"{number} eur", f"{number} EUR", f"EUR {number}", f"${number}", f"{number} dollars", f"{whole} bucks",
        f"£{number}", f"{whole} quid", f"{whole} pounds", f"{number} USD", f"{whole / 1000:.1f}k" if whole > 999
        else f"{whole}", f"{rng.choice(['1', '1.5', '2', '2.5', '3'])}k", f"{rng.randint(2, 90) * 1000} yen",
        rng.choice(["forty dollars", "fifty euros", "twenty bucks", "a hundred euros", "sixty five euros"]),
        rng.choice(["half", "all of it", "the full amount", "everything"]), f"{whole:,}" if whole > 999 else number,
    ]  # fmt: skip
    return rng.choice(forms)


def date(rng: random.Random) -> str:
    """A date as people write it (not annotated: the spaCy rules mark it)."""
    return rng.choice(
        [
            "tomorrow", "tmrw", "next friday", "friday", "on friday", "on monday", "next monday", "this saturday",
            "on the 1st", "the 15th", "on the 28th", "end of the month", "at the end of the month",
            "in two weeks", "in 3 days", "in a week", "next week", "on Dec 3", "3rd of may", "on 12/15",
            "this weekend", "monday morning", "the day after tomorrow", "the first of next month",
            "before the 10th", "by friday", "on 01.06.", "next month", "on the 5th", "june 20", "20 june",
            "tomorrow morning", "on thursday", "next tuesday", "the 3rd", "by the end of next week",
        ]
    )  # fmt: skip


def past_date(rng: random.Random) -> str:
    """A past period, for history questions."""
    return rng.choice(
        ["last month", "last week", "yesterday", "in march", "in october", "this year", "this month",
         "on monday", "3 days ago", "two weeks ago", "last friday"]
    )  # fmt: skip


# --- templates ---------------------------------------------------------------------------------------
# {b} biller (annotated), {b2}/{b3} more billers, {a} amount, {d} date, {p} past date, {n} a number.

TEMPLATES: dict[str, list[str]] = {
    "pay_bill": [
        # plain requests
        "pay {b}", "pay {b} for me", "pay off {b}", "pay the {b} invoice", "please pay {b} today",
        "could {b} get paid please", "i'd like {b} paid", "get {b} paid for me", "can {b} be paid now",
        "pay what's owed to {b}", "pay {b} what they're owed", "pay {b}'s bill", "pay the bill from {b}",
        "pay the latest {b} bill", "pay this month's {b}", "settle up with {b}", "square up with {b}",
        "clear the {b} balance", "deal with the {b} bill for me", "handle the {b} payment", "take care of {b} for me",
        "can you look after the {b} bill", "sort the {b} payment out",
        "do the {b} payment", "run the {b} payment now", "send the {b} payment", "pay {b} off",
        "pay {b} straight away", "pay {b} immediately", "pay {b} today if you can", "time to pay {b}",
        "let's pay {b}", "ok let's get {b} paid", "need {b} paid", "{b} has to be paid",
        "{b} is due, pay it", "{b} needs to go out today", "{b} - pay", "{b} pay now",
        "pay {b} from my card", "charge my card for {b}", "put the {b} bill on my card",
        # amounts after and before the biller, and "on the" with no date
        "pay {a} to {b}", "pay {b} {a}", "pay {a} for {b}", "send {a} to {b}", "send {b} {a}",
        "pay {a} on the {b} bill", "pay {a} on the {b} account", "pay {a} on {b}", "put {a} on {b}",
        "put {a} on the {b} account", "put {a} towards {b}", "{a} towards the {b} please",
        "pay {a} toward the {b} balance", "pay {a} off the {b} bill", "knock {a} off the {b} bill",
        "pay {a} of what i owe {b}", "pay {b}, {a}", "pay {b} - {a}", "{a} to {b}", "{a} for {b}",
        "{a} {b}", "{b} {a}", "{b} {a} please", "{a} to {b} now", "{a} to {b} from my card",
        "transfer {a} to {b}", "give {b} {a} from my card", "{a} on the {b} bill please",
        "pay {a} into the {b} account", "pay {b} {a} now", "pay the {a} {b} bill",
        # what is owed, then the request
        "{b} sent a bill for {a}, can you pay it", "{b} billed me {a}. pay that please",
        "{b} is after {a}, go ahead and pay", "{b} reckons i owe {a}, just pay it",
        "{b} want {a} by the end of the week, pay it now", "{b} emailed, {a} due, please pay",
        "new bill from {b}: {a}. pay it", "the {b} bill says {a}, can you pay",
        "{b} charged me {a} this month. pay it", "the {b} invoice is {a}, send it",
        "owe {b} {a}, can you pay", "i'm {a} behind with {b}, pay that", "i've got a {a} bill from {b}, pay it",
        "there's {a} owing to {b}, clear it", "{b} are chasing me for {a}, pay them",
        "looks like {b} want {a}, can you take care of it", "{b} came in at {a} this time, pay it please",
        "{b} statement arrived, {a}. can you pay that", "{b} is {a} this month, pay it for me",
        "{a} is what {b} wants, pay them", "my {b} balance is {a}, pay it off",
        # context before the request, long messages
        "morning! the {b} bill landed in my inbox, {a}. could you pay it when you get a sec",
        "ok so i opened my post and {b} wants {a}, can you just pay that",
        "right, {b} again. {a}. pay it please",
        "i'm away this week and {b} is due, can you pay it so i don't get a late fee",
        "sorry for the long message, i missed the {b} payment last month and they sent a reminder, please pay it now",
        "{b} cut off my service because i forgot, pay them asap",
        "my flatmate normally pays {b} but she's away, can you pay it, it's {a}",
        "just checked my email and {b} wants paying, {a}. go ahead",
        "can you do me a favour and pay {b}, it should be about {a}",
        "i keep forgetting {b}, pay it now before i forget again",
        # conditions
        "if {b} is less than {a}, pay it", "pay {b} as long as it's under {a}",
        "pay the {b} bill if it's below {a}", "only pay {b} if it's not more than {a}",
        "if the {b} amount is fine, pay it", "pay {b} unless it's over {a}",
    ],
    "pay_all": [
        "pay all my open bills", "pay every bill i've got", "pay off every open bill", "pay all open bills",
        "pay everything i have open", "pay off everything", "pay the lot", "pay the whole lot",
        "settle every bill", "settle up everything", "clear every open bill", "clear all open bills",
        "just pay the lot", "pay all of those", "pay them both", "pay all three",
        "pay every single bill", "get every bill paid", "get everything paid off", "pay all bills now",
        "pay all the bills", "pay off all bills", "i want all of it paid off", "i'd like all my bills paid",
        "pay everything together", "do all the payments", "pay each of my bills", "pay all pending bills",
        "pay off the lot", "pay all of my open invoices", "can you pay everything for me",
        "just settle every one of them", "pay everything on my list", "pay all the open ones",
        "clear my bills, all of them", "all the bills, pay them off", "everything, pay it all",
        "pay the {b} and the {b2}", "pay {b} and {b2}", "pay {b}, {b2} and {b3}", "pay {b} and {b2} now",
        "pay both {b} and {b2}", "pay the {b} bill and the {b2} bill", "{b} and {b2}, pay both",
        "pay my {b} plus the {b2}", "settle {b} and {b2} please", "pay {b} as well as {b2}",
        # what is due, whatever it is
        "pay whatever is due", "pay whatever's open", "pay whatever i owe", "whatever i owe, pay it all",
        "pay all the ones that are due", "pay every bill that's due this week", "pay the bills that are due",
        "pay up everything", "pay all of what's owed", "pay everything that's waiting",
        "pay the full amount on every bill", "pay the rest of my bills", "pay {b} and the rest",
        "pay {b} and everything else", "pay every company i owe", "make every payment that's waiting",
        # other verbs: settle, clear, sort, handle, go through
        "settle all of them", "can you settle all my bills", "settle everything i owe", "settle the lot",
        "sort out all my bills please", "take care of all my bills", "can you handle every bill for me",
        "go through my bills and pay them", "go through everything i owe and pay it", "wipe out every bill i have",
        "knock out all the bills", "get all my bills out of the way", "let's pay all of them",
        "pay them all one by one", "clear the whole lot", "clear all of them", "square everything up",
        # a statement of the situation, then the request
        "i've got a few bills waiting, pay them all", "there are bills piling up, can you pay all of them",
        "everything's due at once this month 😩 pay it all", "got {k} bills open, pay every one of them",
        "i owe a bunch of companies, clear the lot", "my bills are all due now, just pay everything",
        "payday came in so i want to clear all the bills in one go",
        "ok pay all of those bills you listed", "pay everything you just showed me",
        # long ones
        "so i've been away for a couple of weeks and now there's a pile of bills, can you go ahead and pay all of them",
        "before i forget, pay off every bill i have open today please",
        "i don't want to go bill by bill myself, just pay all of them for me",
        "honestly i can't be bothered to look at each one, pay every bill that's open",
        "salary's in 🙌 time to pay off all my bills",
    ],
    "schedule_payment": [
        "pay {b} {d}", "pay {a} to {b} {d}", "pay {b} {a} {d}", "{d} pay {b}", "{d}, pay {a} to {b}",
        "schedule {b} {d}", "schedule the {b} payment {d}", "schedule {a} for {b} {d}",
        "schedule paying {b} {d}", "set {b} to go out {d}", "set a {b} payment for {d2}",
        "arrange the {b} payment for {d2}", "line up the {b} payment for {d2}", "plan {b} for {d2}",
        "have {b} paid {d}", "get {b} paid {d}", "i want {b} paid {d}", "pay {b} {d} not today",
        "pay {a} on the {b} account {d}", "put {a} on {b} {d}", "pay {a} on the {b} bill {d}",
        "my pay comes in {d}, pay {b} then", "wait till {d2} and then pay {b}",
        "hold the {b} payment until {d2}", "don't pay {b} yet, {d} is better",
        "not now, pay {b} {d}", "pay {b} {d} instead", "push the {b} payment to {d2}",
        "delay {b} until {d2}", "can {b} go out {d}", "please pay {b} {d}", "pay {b} {d} thanks",
        "i'd like to schedule {b}", "schedule something for {b}", "schedule a bill", "schedule one payment",
        "set up a future payment", "pay {b} at a later date", "future payment to {b} please",
        "can i pay {b} later in the month", "automatically pay {b} {d}", "send {a} to {b} {d}",
        "{a} to {b} {d}", "{b} {a} {d}", "{b} {d} please",
    ],
    "cancel_payment": [
        "cancel the payment to {b}", "cancel {b}", "cancel the {b} one", "cancel what i scheduled for {b}",
        "cancel my payment to {b} for {d2}", "cancel the payment going out {d}", "cancel the transfer to {b}",
        "cancel the {a} going to {b}", "cancel the {a} transfer", "cancel every payment i scheduled",
        "cancel both scheduled payments", "undo {b}", "undo the {b} transfer", "undo what i just set up",
        "undo my last scheduled payment", "undo the payment for {d2}", "can you undo the {b} thing",
        "call off {b}", "call off the transfer to {b}", "call off the {d2} payment",
        "don't send {b} anything {d}", "don't pay {b} after all", "i no longer want to pay {b} {d}",
        "pull the {b} payment", "pull the payment i set up for {d2}", "kill the {b} transfer",
        "withdraw the {b} payment", "take the {b} payment off the schedule", "unschedule the {b} transfer",
        "get rid of the scheduled {b} payment", "please stop the {b} payment from happening",
        "stop {b} going out {d}", "{b} shouldn't be paid {d}, cancel it",
        "the {b} payment i set up was a mistake, cancel it", "i set up {b} by accident, undo it",
        "i don't need the {b} transfer anymore", "rather not pay {b} {d}, cancel",
        "scrap {b}", "scrap the transfer i set up", "delete the {b} transfer", "remove {b} from scheduled payments",
        "revoke my {b} payment", "back out of the {b} payment", "reverse what i sent to {b}",
        "cancel that payment i set up earlier", "cancel the pending {b} payment",
    ],
    "check_bills": [
        "what do i owe {b}", "what's the balance on my {b}", "how much for {b} this time", "how much is {b} asking for",
        "how much is {b}", "what's the {b} bill at", "what does the {b} bill say", "how big is the {b} bill",
        "when does {b} need paying", "when do i have to pay {b}", "due date for {b}?", "{b} due date",
        "is {b} due yet", "is there anything from {b}", "any bill from {b}?", "did {b} send a bill",
        "do i still owe {b}", "am i in debt with {b}", "what's left on {b}", "remaining balance on {b}",
        "what bills have i got open", "what am i paying this month", "what's still unpaid", "any bills waiting",
        "anything overdue?", "what's due {d}", "anything to pay {d}", "bills due {d}?",
        "total of my open bills", "how much do my bills add up to", "sum of everything i owe",
        "give me my bill overview", "list my open bills", "open bills?", "what's pending",
        "reference {n}: what's the balance for {b}", "my account number is {n}, what do i owe",
        "i've got {k} bills right?", "are there {k} bills open or more", "{b} seems expensive, what's the amount",
        "tell me what i owe", "my bills please", "show what's unpaid",
    ],
    "payment_history": [
        "has {b} been paid", "is {b} paid", "did {b} go through", "did the {b} transfer go out",
        "did you send the money to {b}", "was {b} paid {p}", "what went to {b} {p}", "what did {b} get {p}",
        "how much went to {b} {p}", "total paid to {b} {p}", "payments i made {p}", "what i paid {p}",
        "everything i paid {p}", "my transactions {p}", "list of past payments", "old payments",
        "previous bills i paid", "paid bills please", "show completed payments", "what has gone out",
        "receipt for {b} please", "i need the {b} receipt", "can i see the {b} receipt",
        "proof of payment for {b}", "confirmation for the {b} payment", "when was {b} last paid",
        "last time i paid {b}?", "did the {a} to {b} work", "was the {a} payment ok", "did my {a} go through",
        "{b} paid or not?", "{b} was paid, wasn't it", "did anything bounce {p}", "did any payment fail",
        "my last {k} transactions", "the last {k} things i paid", "what's the status of the {b} transfer",
        "where's my {b} payment", "did {b} receive it", "what happened with {b}",
    ],
    "inform": [
        "{b}", "{b}", "{b}", "that's {b}", "the one for {b}", "{b} one", "{b} bill", "it's for {b}",
        "for {b}", "{b} thanks", "umm {b}", "{b} i think", "oh i meant {b}", "no, {b} not that", "{b} sorry",
        "{a}", "{a}", "{a}", "{a}", "let's do {a}", "{a} instead", "only {a} for now", "{a} is enough",
        "{a} thanks", "around {a}", "um {a}", "{d}", "{d}", "{d}", "{d} instead", "how about {d}",
        "{d} works", "{d} thanks", "{b} {a}", "{b}, {a}", "{b} - {a}", "{a} for {b}", "{a} {d}",
        "{a}, {d}", "{b} {d}", "{b}, {d}",
    ],
    "out_of_scope": [
        "can i borrow {a}", "i need a mortgage quote", "close my account", "freeze my card",
        "my card is lost", "order a new card", "change my pin", "pay my friend back {a}",
        "find me a hotel {d}", "is the bank open {d}", "tell me the news", "who is the president",
        "sing something", "how do i bake bread", "my refund hasn't arrived", "why is there a fee on my account",
        "raise my overdraft", "buy some shares for me", "set an alarm", "call a taxi", "what's your name",
        "do you like music", "recommend a good film", "what's the interest rate on loans",
        "can you get me a credit card", "lend {a} to my neighbour", "how old is the universe",
    ],
}  # fmt: skip

COUNT = {
    "pay_bill": 520, "pay_all": 210, "schedule_payment": 300, "cancel_payment": 200, "check_bills": 200,
    "payment_history": 170, "inform": 260, "out_of_scope": 110,
}  # fmt: skip

# --- issue 13 item 4 (reminders): switching bill reminders off and on --------------------------------
# Appended after the other intents, so their examples (the same seeded draws, in order) stay as they were.
REMINDER_TEMPLATES: dict[str, list[str]] = {
    "reminders_off": [
        "stop reminding me", "stop reminding me about bills", "stop reminding me about my bills",
        "please stop the bill reminders", "turn off bill reminders", "turn off reminders",
        "turn the reminders off", "turn my reminders off", "switch off reminders", "switch the reminders off",
        "switch off the due date reminders", "disable reminders", "disable bill reminders",
        "no more reminders", "no more bill reminders please", "no reminders please", "reminders off",
        "i don't want reminders", "i don't want any more reminders", "i don't need bill reminders",
        "don't remind me", "don't remind me about bills", "don't remind me anymore",
        "don't remind me when bills are due", "you don't have to remind me about bills",
        "quit reminding me", "stop the reminders", "stop the due date alerts", "stop bill alerts",
        "mute the reminders", "mute bill reminders", "pause my reminders", "unsubscribe from reminders",
        "opt out of bill reminders", "cancel my bill reminders", "no need to remind me, i keep track myself",
        "i'd rather not get reminders", "enough with the reminders", "no more due bill messages",
        "stop notifying me about due bills", "turn off the pay now reminders",
    ],
    "reminders_on": [
        "remind me again", "remind me about my bills", "remind me when bills are due",
        "remind me before a bill is due", "please remind me of due bills", "turn on bill reminders",
        "turn on reminders", "turn the reminders back on", "turn my reminders on", "switch reminders on",
        "switch the reminders back on", "enable reminders", "enable bill reminders", "reminders on",
        "i want reminders again", "i want bill reminders", "i'd like reminders for my bills",
        "start reminding me again", "resume reminders", "resume the bill reminders", "unmute reminders",
        "send me reminders again", "bring back the reminders", "let me know when a bill is due",
        "warn me before bills are due", "tell me when something is due", "notify me about upcoming bills",
        "alert me when a bill is due", "can you remind me of bills that are due", "reminders back on please",
        "yes i want the due date reminders", "opt in to bill reminders", "give me a heads up before bills are due",
        # Negated "off" and keep-on requests (attack 13): they keep reminders on, never switch them off.
        "keep reminding me", "keep reminding me about my bills", "keep the reminders coming", "keep my reminders on",
        "keep the bill reminders on please", "leave the reminders on", "continue the reminders",
        "please continue reminding me", "don't stop the reminders", "don't stop reminding me about bills",
        "do not stop the bill reminders", "never stop reminding me", "don't turn my reminders off",
        "do not turn off bill reminders", "don't switch off the reminders", "don't disable my reminders",
        "i don't want the reminders to stop", "i never want my bill reminders turned off",
        "don't ever stop the reminders", "please don't mute the reminders", "never turn the reminders off",
    ],
}  # fmt: skip
REMINDER_COUNT = {"reminders_off": 90, "reminders_on": 110}
TEMPLATES.update(REMINDER_TEMPLATES)
COUNT.update(REMINDER_COUNT)
# --- end reminders ---
# --- standing mandates (issue 13, item 8) -------------------------------------------------------------
# Generated with their own random stream (after the intents above), so adding intents elsewhere leaves
# these examples as they are, and these leave the others. {e} is an expiry ("until June"), {c} a cap.
MANDATE_TEMPLATES: dict[str, list[str]] = {
    "mandate_create": [
        "pay my {b} bill every month up to {a} until {m}", "pay my {b} bill every month up to {a}",
        "pay {b} automatically every month up to {a} until {m}", "set up autopay for {b} up to {a}",
        "set up autopay for {b} up to {a} until {m}", "autopay {b} up to {a} a month", "autopay my {b} bill",
        "turn on autopay for {b}, max {a}", "i want {b} paid automatically each month, no more than {a}",
        "pay {b} every month automatically as long as it's under {a}", "automatically pay {b} up to {a} until {m}",
        "pay each new {b} bill by itself up to {a}", "whenever a {b} bill comes in pay it, up to {a}",
        "pay the {b} bill when it arrives, max {a}, until {m}", "standing order for {b} up to {a} per month",
        "create a mandate for {b} up to {a}", "set up a standing mandate for {b}, cap {a}",
        "keep paying {b} every month up to {a} till {m}", "auto-pay {b} up to {a} until {m}",
        "from now on pay {b} automatically, limit {a}", "pay my monthly {b} bill automatically up to {a}",
        "can you pay {b} for me every month, up to {a}", "recurring payment for {b} up to {a} until {m}",
        "put {b} on autopay, {a} max", "put my {b} bill on autopay until {m}",
    ],
    "mandate_list": [
        "show my autopays", "what autopays do i have", "list my autopays", "my autopay", "show autopay",
        "which bills do you pay automatically", "what do you pay for me automatically", "show my mandates",
        "list my standing mandates", "what standing orders do i have", "show my recurring payments",
        "which companies are on autopay", "is {b} on autopay", "what's my autopay limit for {b}",
        "how much is left on my {b} autopay this month", "do i have any autopays", "autopay overview",
        "show me what's set to pay automatically", "what automatic payments are set up",
    ],
    "mandate_pause": [
        "pause my {b} autopay", "pause autopay for {b}", "pause the {b} autopay", "pause paying {b} automatically",
        "hold off on the {b} autopay for now", "put the {b} autopay on hold", "suspend autopay for {b}",
        "don't pay {b} automatically for a while", "pause my autopay", "pause all autopay for {b} this month",
        "freeze the {b} autopay", "stop the {b} autopay for now, i'll turn it back on later",
    ],
    "mandate_resume": [
        "resume my {b} autopay", "resume autopay for {b}", "turn the {b} autopay back on", "unpause {b} autopay",
        "start paying {b} automatically again", "restart the {b} autopay", "reactivate autopay for {b}",
        "switch {b} autopay on again", "resume my autopay", "continue the {b} autopay",
    ],
    "mandate_change": [
        "raise my {b} autopay to {a}", "change my {b} autopay to {a}", "lower the {b} autopay to {a}",
        "increase the {b} autopay limit to {a}", "set the {b} autopay cap to {a}", "change the {b} autopay limit to {a}",
        "make the {b} autopay {a}", "bump my {b} autopay up to {a}", "reduce autopay for {b} to {a}",
        "extend my {b} autopay until {m}", "keep the {b} autopay going until {m}", "change the {b} autopay to end in {m}",
        "let the {b} autopay pay up to {a}", "my {b} autopay should allow {a}", "update the {b} autopay to {a} until {m}",
        "raise the autopay for {b} to {a} a month", "autopay for {b} should be {a} now",
    ],
    "mandate_revoke": [
        "stop paying my {b} bill automatically", "cancel my {b} autopay", "turn off autopay for {b}",
        "revoke the {b} autopay", "revoke my {b} mandate", "delete the {b} autopay", "end the {b} autopay",
        "remove {b} from autopay", "no more automatic payments to {b}", "i don't want {b} paid automatically anymore",
        "switch off the {b} autopay for good", "cancel the standing mandate for {b}", "stop the autopay for {b}",
        "kill the {b} autopay", "get rid of the {b} autopay", "cancel autopay", "stop autopay for {b} permanently",
    ],
    # Typed answers to an autopay summary (its buttons send these intents with the offer and nonce).
    "confirm_mandate": [
        "confirm the autopay", "yes, set up the autopay", "ok turn that autopay on", "confirm autopay",
        "yes confirm the autopay for {b}", "go ahead with the autopay", "yes, start the autopay",
        "confirm the autopay change", "yes change the autopay like that", "agree to the autopay",
        "that autopay is fine, confirm", "autopay looks good, go ahead",
    ],
    "cancel_mandate": [
        "don't set up the autopay", "no, not that autopay", "forget the autopay", "no autopay after all",
        "leave the autopay as it was", "don't change the autopay", "never mind the autopay",
        "scrap that autopay summary", "no, skip the autopay", "i changed my mind about the autopay",
    ],
}  # fmt: skip
MANDATE_COUNT = {
    "mandate_create": 160, "mandate_list": 60, "mandate_pause": 60, "mandate_resume": 50,
    "mandate_change": 90, "mandate_revoke": 80, "confirm_mandate": 30, "cancel_mandate": 30,
}  # fmt: skip
EXPIRIES = [
    "june", "June", "december", "the end of the year", "end of next year", "march", "next month", "may 2027",
    "31 december", "the end of june", "september", "next year", "30.06.", "april",
]  # fmt: skip
# --- end standing mandates ---------------------------------------------------------------------------

# --- issue 11, outside text: shapes the first tables missed -----------------------------------------
# Error classes found by studying the dev set (never its sentences): a question whether a bill is
# already paid or owed "anything" (history / check, with an unknown company), "settle/cover my X"
# for a kind of bill, "pay X the <amount> i owe them", a bare company answer with or without an
# amount, money to a person and reminders for chores (out of scope). Own random stream.
OUTSIDE_TEMPLATES: dict[str, list[str]] = {
    "payment_history": [
        "have i paid {b} already", "have i paid {b} yet", "have i already paid {b}", "did i pay {b} already",
        "did i already pay {b} {p}", "have you paid {b} yet", "is {b} already paid", "have i settled {b} yet",
        "did {b} get their money", "did i ever pay {b}", "has the {b} bill been sorted already",
        "did we pay {b} {p} or not", "i think i paid {b} already, can you check", "was {b} taken care of {p}",
    ],
    "check_bills": [
        "do i owe {b} anything", "do i owe {b} anything {d}", "do i owe anything to {b}", "is {b} owed anything",
        "anything due for {b} {d}", "will {b} want money {d}", "is there a {b} bill coming {d}",
        "does {b} want anything from me", "is anything outstanding with {b}", "do i have a bill from {b}",
        "what will {b} charge me {d}", "is {b} expecting a payment", "have i got anything to pay {b}",
    ],
    "pay_bill": [
        "settle my {b}", "settle the {b}", "settle {b} for me", "settle my {b} bill", "cover my {b}",
        "cover the {b} bill please", "pay my {b}", "pay {b} the {a} i owe them", "pay {b} the {a}",
        "pay {b} the {a} they asked for", "give {b} the {a} they want", "{b} needs {a}, pay it",
        "pls pay {b} {a}", "pay {b} {a} pls", "{b} wants paying, {a}", "sort {b} out, {a}",
        "the {b} bill is bigger than usual, {a}, pay it anyway", "{b} {a} pay it",
    ],
    "inform": [
        "{b}", "{b}", "{b}.", "{b}!", "{b}, {a}", "{b} {a}", "{b} pls", "the {b} one please", "{b} ofc",
        "{b} obviously", "{a} to {b}", "i meant {b}", "{b} not the other one",
    ],
    "out_of_scope": [
        "send {a} to my {rel}", "transfer {a} to my {rel}", "give my {rel} {a}", "send my {rel} {a} {d}",
        "can you wire {a} to my {rel}", "i owe my {rel} {a}, send it", "pay my {rel} back {a}",
        "split {a} with my {rel}", "move {a} to my savings", "top up my {rel}'s phone with {a}",
        "remind me to {chore}", "can you remind me to {chore} {d}", "set a reminder to {chore}",
        "remind me {d} to {chore}", "don't let me forget to {chore}",
        # shopping for a supplier, paying people by name: a category or a name there is no bill
        "find me a cheaper {cat} provider", "compare {cat} deals for me", "which {cat} company is the cheapest",
        "should i switch my {cat} supplier", "do you sell {cat}", "can i get {cat} through you",
        "recommend a good {cat} plan", "whats the best {cat} deal right now", "get me a quote for {cat}",
        "pay my friend {name} {a}", "send {name} {a} for the tickets", "i owe {name} {a}, can you send it",
        "transfer {a} to {name}", "give {name} {a} for dinner", "pay {name} back {a}", "{name} needs {a} from me, send it",
    ],
}  # fmt: skip
# Examples per intent whose billers are made-up brands (issue 11, biller recall).
BRAND_COUNT = {
    "pay_bill": 120, "schedule_payment": 60, "cancel_payment": 40, "check_bills": 40, "payment_history": 30,
    "inform": 50, "pay_all": 20,
}  # fmt: skip
OUTSIDE_COUNT = {"payment_history": 60, "check_bills": 60, "pay_bill": 90, "inform": 70, "out_of_scope": 100}
# What people shop for (out of scope: no bill is named) and people paid back by name (not billers).
SHOPPED = ["electricity", "energy", "broadband", "phone", "mobile", "car insurance", "home insurance", "insurance", "gas", "internet", "streaming", "credit card", "mortgage", "sim only"]  # fmt: skip
PEOPLE = ["Dave", "Sarah", "Tom", "Priya", "Ahmed", "Lena", "Marco", "Chloe", "Jake", "Mei", "Olu", "Sven", "Rosa", "Ben"]  # fmt: skip
RELATIVES = [
    "sister",
    "brother",
    "mum",
    "mom",
    "dad",
    "son",
    "daughter",
    "friend",
    "flatmate",
    "cousin",
    "gran",
]
CHORES = [
    "call mom", "buy milk", "water the plants", "walk the dog", "book a haircut", "pick up the kids",
    "send a birthday card", "take my pills", "call the plumber back", "renew my passport", "go to the gym",
]  # fmt: skip
# --- end outside text ----------------------------------------------------------------------------------

# --- issue 11 (nlu16): intent boundaries on outside text ----------------------------------------------
# Classes the dev4/dev5 error analysis showed (never their sentences): out-of-scope questions that
# mention money, time or health; one biller whose name has "and" in it (not two bills) and a count
# that is no bill count ("2 tyres"); several bills joined by "+" or named as kinds ("gas elec water
# pay the lot"); terse requests with a marker ("elec now", "gas tmrw pls"); "don't pay X now, do it
# <date>" (a new date) against "don't pay X on <date> anymore" (cancel); taking back a payment just
# sent; "check my X" and "did the X bill come in"; two billers contrasted as an answer. Own random
# stream; slots {andb} {plan} {oa} {job} {cnt} {short} {tdate} {emo} {org} {topic} are filled here.
BOUNDARY_TEMPLATES: dict[str, list[str]] = {
    "pay_bill": [
        "send {oa} to {b}", "pay {oa} to {b}", "pay {b} {oa}", "pay {b} {plan} {oa}", "pay {b} {plan}",
        "pay my {b} {plan}", "pay {b} {oa} for the {job} and {cnt}", "pay {b} {oa} for {cnt}",
        "pay {b} for the {job} and {cnt}", "pay {b}, {oa}, that's for {cnt}", "pay {andb}", "pay {andb} {oa}",
        "pay the {andb} bill", "can you pay {andb} please", "{andb} pay it pls", "pay {andb} now",
        "{short} now", "{short} now pls", "{b} now", "{b} now pls", "{b} pls {emo}", "pay {b} pls {emo}",
        "{short} pay it now", "{b} pay it", "{short} please, pay that", "do {short} now",
        "not sure how this works but pay {b} i guess", "no idea how this works, just pay {b}",
        "i'm not good with phones, pay {b} please", "first time using this, can you pay {b}",
        "pay {b} i suppose", "i guess pay {b} then", "don't really get this app but pay {b}",
        "pay {b} a {coin}", "give {b} a {coin}", "{b} a {coin} pls",
    ],
    "pay_all": [
        "pay {b} + {b2}", "{b} + {b2} + {b3}", "pay {b} + {b2} pls", "{b} + {b2} now",
        "{short} {short2} {short3} pay the lot", "{short}, {short2} and {short3}, pay them all",
        "{short} {short2} pay both", "{short} and {short2}, pay both pls", "{short} {short2} {short3} all of them",
        "everything please", "all of them pls", "the lot pls", "all the bills pls",
        "everything now", "pay the lot pls", "the whole lot please", "everything, pay it", "pay em all",
        "all of them now", "every bill pls", "just everything",
    ],
    "schedule_payment": [
        "don't pay the {b} now, do it {d}", "don't pay {b} today, do it {d}", "don't pay {b} yet, pay it {d}",
        "not now, do the {b} {d}", "don't do {b} now, leave it till {d2}", "don't pay {b} now, wait till {d2}",
        "set up {oa} to {b} for {d2}", "set up a payment to {b} for {d2}", "set up {b} for {d2}",
        "set up {oa} for {b} on {d2}", "{short} {tdate} pls", "{short} {tdate} please", "{b} {tdate} pls",
        "pay {b} {tdate}", "pay {short} {tdate}", "do {b} {tdate} pls", "{short} {tdate} thx",
        "pay {b} on the due date", "pay {b} when it's due", "pay {b} on the day it's due",
        "pay it on the due date", "\"{b}: your bill of {a} is due {d2}. ref {ref}\" pay it on the due date",
        "{b} bill {a} due {d2}, pay on the due date please", "pay {b} on the due date, not before",
        "pay {b} just before it's due", "{b} is due {d2}, pay it that day",
    ],
    "cancel_payment": [
        "actually don't pay {b} {d} anymore", "actually, don't pay {b} {d} any more",
        "don't pay {b} {d} anymore", "no need to pay {b} {d} anymore", "forget paying {b} {d}",
        "actually scrap the {b} payment {d}", "take back the {oa} i just sent to {b}",
        "take back the {oa} i sent {b}", "get back the money i just sent {b}",
        "i just sent {oa} to {b} by mistake, take it back", "undo the {oa} i just paid {b}",
        "claw back the {oa} from {b}", "reverse the payment i just sent to {b}",
        "i didn't mean to pay {b}, undo it", "the {b} payment {d} isn't needed anymore, cancel it",
    ],
    "check_bills": [
        "check my {b}", "check {b}", "check the {b}", "check my {b} bill", "check {b} for me pls",
        "can you check my {b}", "check on my {b}", "look at my {b}", "did the {b} bill come in yet",
        "has the {b} bill come in", "has the {b} bill arrived yet", "is the {b} bill in yet",
        "has {b} sent the bill yet", "did {b}'s bill arrive", "has my {b} bill landed",
        "any sign of the {b} bill", "is the new {b} bill out", "{b} bill in yet?",
    ],
    "inform": [
        "the {b} one not {b2}", "the {b} one, not {b2}", "{b} not {b2}", "not {b2}, {b}",
        "{b} not {b2} sorry", "no the {b} one", "{b}, {oa}", "{b}, {a}", "{b} {oa}", "{oa} to {b}",
        "{oa} for {b}", "{a} to {b}", "{b} {oa} {tdate}", "{short} {oa} {tdate}", "{short} {tdate}",
        "the {b} bill", "the {card} bill", "my {b} one", "{oa}", "{b} {emo} {oa}",
    ],
    "out_of_scope": [
        "why did my salary not come in on {d2}", "why hasn't my salary arrived", "where are my wages, they were due {d2}",
        "my pay didn't land {p}, why", "what time is it", "what's the time now", "what time is it in {town}",
        "what day is it today", "what's the date today", "how many steps did i walk {p}",
        "how many steps have i done today", "how many calories did i burn {p}", "how long did i sleep last night",
        "help me write a letter to {org}", "write a letter to {org} about {topic}",
        "can you draft a complaint to {org} about {topic}", "help me email {org} about {topic}",
        "{emo_only}", "{emo_only}", "{emo_only}", "{emo_only}", "is it going to rain {d}",
        "how old is my car", "when does the shop close {d}", "what's my blood pressure",
    ],
}  # fmt: skip
BOUNDARY_COUNT = {
    "pay_bill": 110, "pay_all": 60, "schedule_payment": 80, "cancel_payment": 50, "check_bills": 50,
    "inform": 70, "out_of_scope": 70,
}  # fmt: skip
AND_BILLERS = [
    "P G and E", "pg & e", "P.G. and E", "AT and T", "at and t", "ay tee and tee", "B and Q", "M and S",
    "M and S card", "P and O", "S and B Roofing", "K and J Electrical", "Smith and Sons Roofing",
    "Baker and Daughters Builders", "Hill and Co Lettings", "Rowe and Partners", "Fox and Hound Vets",
]  # fmt: skip
PLAN_WORDS = ["protect", "premium", "membership", "family", "plus", "basic plan", "unlimited", "pro", "monthly plan"]  # fmt: skip
ODD_AMOUNTS = [
    "$40.5", "$12.5", "€29,99", "€ 19,90", "29,99 €", "£3.99", "$3.99", "£312.50", "$7.5", "9.99 EUR",
    "USD 40", "40usd", "zł 120", "₹499", "CAD 60", "£1.2k", "87 pounds 40", "a fiver", "a tenner",
    "twenty quid", "£4.5", "€7,5",
]  # fmt: skip
JOBS = ["MOT", "service", "repair", "boiler check", "call out", "clean", "lesson", "visit", "fitting"]
COUNTED = ["2 tyres", "3 visits", "4 lessons", "2 hours labour", "3 windows", "2 radiators", "5 sessions", "6 bags"]  # fmt: skip
SHORT_KINDS = ["elec", "gas", "water", "electric", "phone", "internet", "wifi", "rent", "council tax", "tv licence", "mobile", "broadband"]  # fmt: skip
TERSE_DATES = ["tmrw", "tmoz", "tmw", "2moro", "tomoz", "fri", "mon", "tues", "weds", "thurs", "sat", "nxt week", "next wk"]  # fmt: skip
CHAT_EMOJIS = ["🐙", "⚡", "💡", "📱", "🚰", "🔥", "💷", "💸", "📺", "🏠"]
COINS = ["fiver", "tenner", "score", "hundred quid", "twenty"]
EMOJI_ONLY = ["🍔🍔", "😂😂😂", "🎉🎉🎉", "🐶", "🌞🌞", "⚽️⚽️", "🎂🎈", "🚗💨", "🌧️", "🙈🙈", "🍕", "🤷‍♀️", "🐱🐱", "🎵🎶", "🌮🌮🌮", "🦄"]  # fmt: skip
LETTER_TO = ["the council", "my MP", "the school", "my neighbour", "the newspaper", "the hospital", "my boss"]
LETTER_TOPIC = ["the bins", "the potholes", "parking", "the noise", "the street lights", "my holiday dates", "the hedge"]  # fmt: skip
BOUNDARY_TOWNS = ["Sydney", "New York", "Delhi", "Lagos", "Toronto", "Berlin"]


def _boundary_biller(rng: random.Random) -> str:
    """A biller for the boundary shapes: the generator's, a typed known brand or a coined brand."""
    roll = rng.random()
    if roll < 0.4:
        return biller(rng)
    if roll < 0.75:
        return nlu_brands.payee(rng)
    return nlu_styles.coined_brand(rng)


def _boundary_fill(template: str, rng: random.Random) -> str:
    """Fill this block's own slots, then the common ones (`_fill`)."""
    shorts = rng.sample(SHORT_KINDS, 3)
    values = {
        "{andb}": f"[{rng.choice(AND_BILLERS)}](biller)", "{plan}": rng.choice(PLAN_WORDS),
        "{oa}": rng.choice(ODD_AMOUNTS), "{job}": rng.choice(JOBS), "{cnt}": rng.choice(COUNTED),
        "{short}": f"[{shorts[0]}](biller)", "{short2}": f"[{shorts[1]}](biller)", "{short3}": f"[{shorts[2]}](biller)",
        "{tdate}": rng.choice(TERSE_DATES), "{emo}": rng.choice(CHAT_EMOJIS), "{coin}": rng.choice(COINS),
        "{emo_only}": rng.choice(EMOJI_ONLY), "{org}": rng.choice(LETTER_TO), "{topic}": rng.choice(LETTER_TOPIC),
        "{town}": rng.choice(BOUNDARY_TOWNS),
    }  # fmt: skip
    for key, value in values.items():
        template = template.replace(key, value)
    return _fill(template, rng, _boundary_biller)


def _boundary_examples(rng: random.Random) -> dict[str, list[str]]:
    """Every boundary template at least once, then random fills up to BOUNDARY_COUNT."""
    out: dict[str, list[str]] = {}
    for intent, templates in BOUNDARY_TEMPLATES.items():
        seen: set[str] = set()
        order = list(templates) + [rng.choice(templates) for _ in range(BOUNDARY_COUNT[intent] * 3)]
        for template in order:
            if len(seen) >= max(BOUNDARY_COUNT[intent], len(templates)):
                break
            text = _boundary_fill(template, rng)
            if intent != "out_of_scope" and rng.random() < 0.3:
                text = _noisy(text, rng, intent)
            if "{" not in template or "{emo_only}" in template:
                continue  # a fixed short message could be anyone's sentence (tests/rasa/test_data.py)
            key = re.sub(r"\]\([a-z]+\)", "]", text).casefold()
            if key not in seen:
                seen.add(key)
                out.setdefault(intent, []).append(text)
    return out


# Bare values with no request word ("£40 to Acme", "Acme £40 fri") answer a question (inform), as
# the independent sets' READMEs annotate them; generic pay_bill / schedule_payment templates made some.
BARE_WORDS = re.compile(
    r"^(b|to|for|on|the|a|,|-|:|[^a-z\s]*\d[^\s]*|[€$£¥₹]\S*|euros?|eur|usd|gbp|dollars|bucks|quid|pounds|yen|k"
    r"|half|all|of|it|full|amount|everything|forty|fifty|twenty|hundred|sixty|five|tomorrow|tmrw|next|this"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|morning|week|weeks|month|days?|end"
    r"|in|two|after|first|before|by|at|dec|may|june|of|\d+(st|nd|rd|th))$"
)


def is_bare_values(text: str) -> bool:
    """True when a message is only a biller with amounts/dates, no request word (an answer)."""
    plain = re.sub(r"\[[^\]]*\]\(biller\)", " b ", text.casefold()).replace(",", " , ")
    words = plain.split()
    return "b" in words and all(BARE_WORDS.match(word) for word in words)


# --- end issue 11 (nlu16) -----------------------------------------------------------------------------

# --- chat noise ----------------------------------------------------------------------------------------

EMOJIS = ["🙏", "😅", "💸", "👍", "🙂", "😩", "🏠", "📱", "💡", "⚡", "🤞", "😊", "🤔"]
PREFIXES = [
    "hey ",
    "hi, ",
    "ok ",
    "ok so ",
    "um ",
    "pls ",
    "hey bot, ",
    "quick one: ",
    "yo ",
    "so ",
    "hello, ",
]
SUFFIXES = [
    " please",
    " pls",
    " plz",
    " thanks",
    " thx",
    " asap",
    " now",
    " 🙏",
    " ty",
    " cheers",
    "!",
    "?",
    "!!",
]
TYPO_WORDS = {
    "pay": ["pya", "payy", "py"], "bill": ["bil", "bll", "billl"], "please": ["plese", "pleas", "pleaes"],
    "schedule": ["shedule", "schedul", "scheduel"], "cancel": ["cancle", "cancell", "cansel"],
    "payment": ["paymnt", "paymet", "payemnt"], "tomorrow": ["tommorow", "tomorow"], "what": ["wat", "waht"],
    "you": ["u", "yu"], "the": ["teh", "th"], "my": ["ym", "mi"], "owe": ["ow", "oew"],
    "receipt": ["reciept", "receit"], "everything": ["everyting", "evrything"], "because": ["bc", "cuz"],
}  # fmt: skip


SMALL_TALK = {"greet", "goodbye", "thanks", "affirm", "deny", "stop", "change", "help", "bot_challenge"}
SMALL_TALK_SUFFIXES = ["!", "?", "!!", " 🙂", " 👍", " 🙏", "..."]


def _noisy(text: str, rng: random.Random, intent: str) -> str:
    """The same request as a hurried phone user writes it: case, typos, emoji, fillers."""
    words = text.split(" ")
    if rng.random() < 0.2:
        candidates = [i for i, w in enumerate(words) if w.lower() in TYPO_WORDS and "[" not in w]
        if candidates:
            i = rng.choice(candidates)
            words[i] = rng.choice(TYPO_WORDS[words[i].lower()])
    text = " ".join(words)
    if rng.random() < 0.1:
        text = text.replace("'", "")
    if intent in SMALL_TALK:
        if rng.random() < 0.3:
            text = text + rng.choice(SMALL_TALK_SUFFIXES)
    else:
        if rng.random() < 0.15:
            text = rng.choice(PREFIXES) + text
        if rng.random() < 0.2:
            text = text + rng.choice(SUFFIXES)
    if rng.random() < 0.1:
        text = text + " " + rng.choice(EMOJIS)
    if rng.random() < 0.15:
        text = _sentence_case(text)
    return text


DAY_NAMES = re.compile(
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|june|july"
    r"|august|september|october|november|december|dec|jan|may(?= \d))\b"
)


def _capitalise_days(text: str) -> str:
    """Day and month names with capitals ("next Friday", "in October": not billers), in every text
    of odd length (a fixed half of them, no random draw)."""
    return DAY_NAMES.sub(lambda match: match.group(0).capitalize(), text) if len(text) % 2 else text


def _sentence_case(text: str) -> str:
    """Capitalise the first letter outside an annotation (where the biller text is kept as written)."""
    return text[:1].upper() + text[1:] if text[:1].isalpha() else text


def _fill(template: str, rng: random.Random, make_biller: Callable[[random.Random], str] = biller) -> str:
    """One example from a template, billers annotated, other slots plain text."""
    billers = [make_biller(rng) for _ in range(3)]
    while len({b.lower() for b in billers}) < 3:
        billers = [make_biller(rng) for _ in range(3)]
    values = {
        "b": f"[{billers[0]}](biller)",
        "b2": f"[{billers[1]}](biller)",
        "b3": f"[{billers[2]}](biller)",
        "a": amount(rng),
        "d": date(rng),
        "d2": re.sub(r"^(on|by|before|at) ", "", date(rng)).removeprefix("the "),
        "p": past_date(rng),
        "p2": rng.choice(["this month", "next month", "this time"]),
        "n": str(rng.randint(10000, 99999)),
        "k": str(rng.randint(2, 5)),
    }
    if "{m}" in template:  # drawn only here, so the other intents' random stream stays as it was
        values["m"] = rng.choice(EXPIRIES)
    if "{rel}" in template:  # issue 11's out-of-scope shapes, drawn only here (same reason)
        values["rel"] = rng.choice(RELATIVES)
    if "{chore}" in template:
        values["chore"] = rng.choice(CHORES)
    if "{cat}" in template:  # drawn only here (same reason)
        values["cat"] = rng.choice(SHOPPED)
    if "{name}" in template:
        values["name"] = rng.choice(PEOPLE)
    if any(key in template for key in nlu_brands.EXTRA_KEYS):  # nlu_brands' values, drawn only here
        values.update(nlu_brands.extra_values(rng))
    text = template.format(**values)
    return " ".join(text.split())


def generate(seed: int = SEED) -> dict[str, list[str]]:
    """Examples per intent: every template at least once, then random fills up to COUNT."""
    examples = _generate(TEMPLATES, COUNT, random.Random(seed))
    examples.update(_generate(MANDATE_TEMPLATES, MANDATE_COUNT, random.Random(seed + 8)))  # issue 13, item 8
    outside = _generate(OUTSIDE_TEMPLATES, OUTSIDE_COUNT, random.Random(seed + 11))  # issue 11
    for intent, texts in outside.items():
        known = {re.sub(r"\]\([a-z]+\)", "]", t).casefold() for t in examples[intent]}
        fresh = [t for t in texts if re.sub(r"\]\([a-z]+\)", "]", t).casefold() not in known]
        examples[intent] = sorted(examples[intent] + fresh)
    # issue 11: ways of writing (scripts/nlu_styles.py), from their own random stream
    styles = nlu_styles.generate(random.Random(seed + 23))
    # issue 11, biller recall: the same request shapes paying made-up brands (nlu_styles.coined_brand)
    brand_table = {intent: TEMPLATES[intent] for intent in BRAND_COUNT}
    brands = _generate(
        brand_table, BRAND_COUNT, random.Random(seed + 31), make_biller=nlu_styles.coined_brand
    )
    for intent, texts in brands.items():
        styles[intent] = styles.get(intent, []) + [_capitalise_days(text) for text in texts]
    # issue 11: well-known brands as typed, messages in CAPITALS, letters (scripts/nlu_brands.py)
    for intent, texts in _brand_examples(random.Random(seed + 41)).items():
        styles[intent] = styles.get(intent, []) + texts
    # issue 11 (nlu16): intent boundaries, from their own random stream
    for intent, texts in _boundary_examples(random.Random(seed + 53)).items():
        styles[intent] = styles.get(intent, []) + texts
    for intent, texts in styles.items():
        known = {re.sub(r"\]\([a-z]+\)", "]", t).casefold() for t in examples.get(intent, [])}
        fresh = [t for t in texts if re.sub(r"\]\([a-z]+\)", "]", t).casefold() not in known]
        examples[intent] = sorted(set(examples.get(intent, []) + fresh))
    for intent in ("pay_bill", "schedule_payment"):  # issue 11 (nlu16): bare values are answers
        examples[intent] = [t for t in examples[intent] if not is_bare_values(t)]
    return examples


def _brand_examples(rng: random.Random) -> dict[str, list[str]]:
    """Known brands typed in lower case or squashed, the same requests shouted in CAPITALS (brands
    annotated, no other capital word), and small talk in capitals or letter form (nothing annotated)."""
    table = {}
    for intent, terse in nlu_brands.TERSE_TEMPLATES.items():
        naming = sorted({t for t in TEMPLATES.get(intent, []) if "{b}" in t})  # shapes that name a biller
        table[intent] = list(terse) + rng.sample(naming, min(25, len(naming)))
    typed = _generate(table, nlu_brands.TERSE_COUNT, rng, make_biller=nlu_brands.payee)
    shouted_counts = {intent: 22 for intent in table}
    shouted_table = {intent: rng.sample(templates, min(20, len(templates))) for intent, templates in table.items()}
    shouted = _generate(shouted_table, shouted_counts, rng, make_biller=nlu_brands.shouted_payee)
    out = {intent: texts + [nlu_brands.shout(t) for t in shouted[intent]] for intent, texts in typed.items()}
    for intent, texts in nlu_brands.CAPITAL_SMALL_TALK.items():
        out[intent] = out.get(intent, []) + texts
    return out


def _generate(
    table: dict[str, list[str]],
    counts: dict[str, int],
    rng: random.Random,
    make_biller: Callable[[random.Random], str] = biller,
) -> dict[str, list[str]]:
    """Examples of the intents of `table` from one random stream."""
    examples: dict[str, list[str]] = {}
    for intent, templates in table.items():
        seen: set[str] = set()
        chosen: list[str] = []
        order = list(templates) + [rng.choice(templates) for _ in range(counts[intent] * 3)]
        for template in order:
            if len(chosen) >= max(counts[intent], len(templates)):
                break
            text = _fill(template, rng, make_biller)
            if rng.random() < 0.6:
                text = _noisy(text, rng, intent)
            key = re.sub(r"\]\([a-z]+\)", "]", text).casefold()
            if key in seen:
                continue
            seen.add(key)
            chosen.append(text)
        examples[intent] = sorted(chosen)
    return examples


def render(examples: dict[str, list[str]]) -> str:
    """Rasa 3 NLU YAML."""
    lines = [
        "# GENERATED by scripts/generate_nlu.py — do not edit by hand; change the script and re-run it.",
        "# Templates × slot values with chat noise; only `biller` is annotated (amounts and dates come",
        "# from the spaCy rules). Never derived from an evaluation set.",
        'version: "3.1"',
        "nlu:",
    ]
    for intent, texts in examples.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in texts]
        lines.append("")
    # issue 11: known brands, looked up case-insensitively (scripts/nlu_brands.py, config.yml)
    lines += ["- lookup: brand", "  examples: |"]
    lines += [f"    - {entry}" for entry in nlu_brands.lookup_entries()]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the generated examples (or, with --check, fail if the committed file differs)."""
    args = argv if argv is not None else sys.argv[1:]
    text = render(generate())
    if "--check" in args:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is not what scripts/generate_nlu.py produces: run it and commit the result")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    counts = ", ".join(f"{intent} {len(texts)}" for intent, texts in generate().items())
    print(f"wrote {OUT} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
