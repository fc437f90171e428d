# ruff: noqa: E501  (brand and template tables are data: one group per line reads best)
"""Well-known bill-issuing brands, and training sentences that name them as people type them.

Issue 11, biller recall: the CRF saw brands mostly in Title case, so "pay netflix" or "verizon
i think" went unmarked, while capitalised words that are no company ("Dear Sir", "INVOICE", a
whole message in CAPITALS, "Kind regards, Harold") were taken as billers. Two things fix that in
a general way:

- BRANDS, written here by hand from general knowledge (utilities, telecoms, streaming, insurers,
  cards and banks, in several countries; never from an evaluation set), becomes the `brand` lookup
  table. RegexFeaturizer matches it case-insensitively, so the CRF's `pattern` feature says "a
  known brand" whatever the case. Words that are ordinary English too ("three", "orange",
  "progressive") stay out: as a lookup they would fire on everyday text.
- Sentences that pair the brands, typed in lower case or squashed ("tmobile"), with the request
  shapes of generate_nlu.py; requests and small talk written wholly in CAPITALS; and letters with
  salutations, sign-offs, names, months and holidays in capitals that are not billers.

generate_nlu.py draws from here with a random stream of its own, so its other examples stay as
they were, and writes the lookup table into nlu_generated.yml.
"""

from __future__ import annotations

import random
import re

# --- the brands ---------------------------------------------------------------------------------------

BRANDS = [
    # energy and water: UK, Ireland
    "British Gas", "Octopus Energy", "Octopus", "EDF Energy", "E.ON", "E.ON Next", "OVO", "OVO Energy", "Scottish Power",
    "SSE", "SSE Airtricity", "Shell Energy", "Bulb", "Utility Warehouse", "Good Energy", "Ecotricity", "So Energy",
    "Outfox the Market", "Electric Ireland", "Bord Gais", "Energia", "Thames Water", "Severn Trent", "Anglian Water",
    "United Utilities", "Yorkshire Water", "Southern Water", "Welsh Water", "Scottish Water", "Wessex Water",
    "South West Water", "Northumbrian Water", "Affinity Water", "Irish Water", "Uisce Eireann",
    # energy and water: US, Canada, Australia, New Zealand
    "PG&E", "Con Edison", "ConEd", "Duke Energy", "Dominion Energy", "Georgia Power", "Florida Power & Light", "FPL",
    "Southern California Edison", "SoCal Edison", "SDG&E", "SoCalGas", "ComEd", "PSE&G", "Xcel Energy", "Entergy",
    "National Grid", "Eversource", "DTE Energy", "Consumers Energy", "Ameren", "AEP", "Pepco", "BGE", "PECO",
    "Dominion", "TXU Energy", "Reliant", "CenterPoint", "Atmos Energy", "Spire", "Puget Sound Energy", "APS",
    "SRP", "Hydro One", "BC Hydro", "Hydro-Quebec", "Toronto Hydro", "Enbridge", "Enbridge Gas", "FortisBC",
    "Origin Energy", "AGL", "EnergyAustralia", "Red Energy", "Alinta Energy", "Simply Energy", "Synergy",
    "Sydney Water", "Yarra Valley Water", "Mercury Energy", "Genesis Energy", "Contact Energy", "Meridian Energy",
    # energy and water: Europe
    "Vattenfall", "EnBW", "RWE", "E.ON Energie", "Eprimo", "Lichtblick", "Yello Strom", "Stadtwerke", "Mainova",
    "Engie", "TotalEnergies", "Enel", "Iberdrola", "Endesa", "Naturgy", "Repsol", "Eneco", "Essent", "Vandebron",
    "Fluvius", "Luminus", "Fortum", "Ellevio", "Elvia", "Veolia", "Suez", "Aqualia", "Hera", "Acea", "Edison",
    # telecoms and broadband: UK, Ireland
    "Vodafone", "O2", "EE", "BT", "Virgin Media", "Virgin Mobile", "TalkTalk", "Plusnet", "giffgaff", "Tesco Mobile",
    "Sky Mobile", "Sky Broadband", "Hyperoptic", "Community Fibre", "Shell Energy Broadband", "Lebara", "Lycamobile",
    "iD Mobile", "Smarty", "Voxi", "Eir", "Sky",
    # telecoms and broadband: US, Canada, Australia
    "Verizon", "Verizon Fios", "AT&T", "T-Mobile", "Sprint", "Comcast", "Xfinity", "Spectrum", "Charter", "Cox",
    "CenturyLink", "Lumen", "Frontier Communications", "Optimum", "Altice", "Mediacom", "Windstream", "Google Fi",
    "Mint Mobile", "Metro by T-Mobile", "MetroPCS", "Boost Mobile", "Cricket Wireless", "Visible", "US Cellular",
    "Straight Talk", "Tracfone", "Dish", "DirecTV", "Sling", "Rogers", "Bell Canada", "Telus", "Fido", "Koodo",
    "Freedom Mobile", "Shaw", "Videotron", "Telstra", "Optus", "TPG", "iiNet", "Aussie Broadband", "Belong",
    "Spark", "One NZ",
    # telecoms: Europe, India
    "Telekom", "Deutsche Telekom", "1&1", "congstar", "O2 Germany", "Unitymedia", "Orange", "SFR", "Bouygues Telecom",
    "Free Mobile", "Movistar", "Telefonica", "Swisscom", "Salt", "Sunrise UPC", "KPN", "Ziggo", "Odido", "Proximus",
    "Telenet", "Telia", "Telenor", "Tele2", "TIM", "Wind Tre", "Fastweb", "Iliad", "A1 Telekom", "Magenta", "Jio",
    "Airtel", "Vi", "BSNL", "Tata Play",
    # streaming, software, subscriptions
    "Netflix", "Spotify", "Hulu", "Disney+", "Disney Plus", "HBO Max", "Max", "Amazon Prime", "Prime Video",
    "Apple TV+", "Apple Music", "Apple One", "iCloud", "YouTube Premium", "YouTube TV", "Paramount+", "Peacock",
    "Crunchyroll", "DAZN", "Now TV", "BritBox", "Audible", "Kindle Unlimited", "Tidal", "Deezer", "Pandora",
    "SiriusXM", "Xbox Game Pass", "PlayStation Plus", "Nintendo Switch Online", "Adobe", "Adobe Creative Cloud",
    "Microsoft 365", "Office 365", "Google One", "Google Workspace", "Dropbox", "Canva", "Zoom", "Norton",
    "McAfee", "NordVPN", "ExpressVPN", "LinkedIn Premium", "Duolingo", "Patreon", "Twitch",
    # insurance
    "Geico", "State Farm", "Allstate", "Liberty Mutual", "USAA", "Farmers Insurance", "Travelers", "Esurance",
    "Lemonade", "Aviva", "Direct Line", "Admiral Insurance", "Churchill", "LV=", "AXA", "Allianz", "Zurich Insurance",
    "Generali", "HUK-Coburg", "DEVK", "Mapfre", "Bupa", "Vitality", "AIA", "Cigna", "Aetna", "Humana", "Kaiser",
    "Kaiser Permanente", "Blue Cross", "Blue Cross Blue Shield", "UnitedHealthcare", "Medibank", "NRMA", "AAMI",
    "Budget Direct", "Hastings Direct", "Saga",
    # cards, banks, lenders, buy now pay later
    "Amex", "American Express", "Visa", "Mastercard", "Barclaycard", "Capital One", "Chase", "Citi", "Citibank",
    "Discover Card", "Wells Fargo", "Bank of America", "HSBC", "Santander", "Lloyds", "NatWest", "Halifax",
    "Nationwide Building Society", "Monzo", "Revolut", "Klarna", "Afterpay", "Affirm", "PayPal Credit", "Zopa",
    "Sallie Mae", "Navient", "Nelnet", "Student Loans Company", "Synchrony", "Commonwealth Bank", "ANZ", "Westpac",
    "NAB", "RBC", "TD", "Scotiabank", "ING", "Deutsche Bank", "Sparkasse", "Commerzbank", "N26", "DKB",
    # gyms, councils, licences, retail accounts, transport
    "PureGym", "The Gym Group", "David Lloyd", "Planet Fitness", "Anytime Fitness", "24 Hour Fitness", "LA Fitness",
    "Equinox", "Peloton", "McFit", "Fitness First", "Council Tax", "TV Licensing", "TV Licence", "DVLA", "HMRC",
    "IRS", "GEZ", "Rundfunkbeitrag", "M&S", "John Lewis", "Argos", "Very", "Next", "Costco", "Sam's Club",
    "Amazon", "Uber One", "Deliveroo Plus", "E-ZPass", "Oyster", "Transport for London", "TfL", "Dart Charge",
    "Waste Management", "Republic Services", "ADT", "Ring", "SimpliSafe", "Verisure",
]  # fmt: skip
# Brands that are ordinary English words or names too: as a case-insensitive lookup they would fire
# on everyday text ("next week", "very late", "ring me", "the max"), so they are only trained as
# written in the sentences below, never looked up.
ORDINARY_WORDS = {
    "next", "very", "max", "ring", "salt", "visible", "belong", "spark", "affirm", "dish", "equinox", "saga",
    "synergy", "dominion", "spire", "charter", "travelers", "churchill", "vitality", "shaw", "free mobile",
    "td", "vi", "tim", "ing", "aia", "nab", "anz", "aep", "aps", "srp", "bge", "peco", "fpl", "tfl", "irs", "gez",
    "visa", "zoom", "bulb", "lumen", "edison", "magenta",
}  # fmt: skip
# Short brands that are no English word (kept although short: people type them in lower case).
SHORT_BRANDS = {"ee", "bt", "o2", "sse", "edf", "agl", "ovo", "eir", "tpg", "kpn", "sfr", "jio", "adt", "dvla", "hmrc"}


def lookup_entries() -> list[str]:
    """The `brand` lookup table: each brand in lower case, squashed forms ("tmobile", "eon") too."""
    entries: set[str] = set()
    for brand in BRANDS:
        low = brand.lower()
        if low in ORDINARY_WORDS and low not in SHORT_BRANDS:
            continue
        entries.add(low)
        squashed = re.sub(r"[\s\-.]", "", low)
        if squashed != low and len(squashed) >= 3:
            entries.add(squashed)
    return sorted(entries)


def typed_brand(rng: random.Random) -> str:
    """A known brand as people type it: lower case mostly, sometimes squashed, sometimes as written."""
    brand = rng.choice(BRANDS)
    roll = rng.random()
    if roll < 0.55:
        return brand.lower()
    if roll < 0.7 and re.search(r"[\s\-.]", brand):
        return re.sub(r"[\s\-.]", "", brand.lower())
    if roll < 0.8:
        return brand.upper()
    return brand


# Payees that are no brand: small firms named after their owner, people with a title (a landlord,
# a tutor), household words for a bill. The CRF must find them by their place in the request.
TRADES = [
    "Plumbing", "Roofing", "Electrics", "Garage", "Cleaning", "Gardening", "Decorators", "Joinery", "Pest Control",
    "Removals", "Tyres", "Locksmiths", "Heating", "Glazing", "Builders", "Motors", "Landscaping", "Tiling",
]  # fmt: skip
OWNERS = ["Dave", "Mike", "Sue", "Ali", "Pete", "Tony", "Kev", "Raj", "Linda", "Gary", "Steve", "Mo", "Fran", "Terry"]
SURNAMES = ["Okafor", "Singh", "Novak", "Brennan", "Kowalski", "Hughes", "Fischer", "Murphy", "Chen", "Adeyemi", "Rossi"]
TITLES = ["Mr", "Mrs", "Ms", "Dr", "Miss"]
HOUSEHOLD_PAYEES = [
    "nursery", "childminder", "landlady", "cleaner", "window cleaner", "gardener", "piano teacher", "tutor",
    "HOA", "water board", "school", "dentist", "elec", "leccy", "council", "letting agent", "care home",
    "swimming lessons", "after school club", "boiler service",
]  # fmt: skip
SHOUTED_CATEGORIES = ["GAS", "WATER", "ELECTRIC", "ELECTRICITY", "PHONE", "COUNCIL TAX", "RENT", "TV LICENCE", "INSURANCE"]


def _slip(word: str, rng: random.Random) -> str:
    """One slip of the thumb inside a brand: a letter dropped, doubled or two swapped."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "double", "swap"])
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def local_payee(rng: random.Random) -> str:
    """A small firm ("Pete's Roofing", "petes roofing"), a person with a title, or a household word."""
    roll = rng.random()
    if roll < 0.45:
        name = f"{rng.choice(OWNERS)}'s {rng.choice(TRADES)}"
        style = rng.random()
        if style < 0.25:
            return name.lower()
        if style < 0.4:
            return name.replace("'", "").lower()
        return name
    if roll < 0.7:
        return f"{rng.choice(TITLES)} {rng.choice(SURNAMES)}"
    return rng.choice(HOUSEHOLD_PAYEES)


def payee(rng: random.Random) -> str:
    """Who a typed request pays: mostly a known brand as typed, sometimes misspelt, or a local payee."""
    roll = rng.random()
    if roll < 0.6:
        return typed_brand(rng)
    if roll < 0.72:
        return _slip(rng.choice(BRANDS).lower(), rng)
    return local_payee(rng)


def shouted_payee(rng: random.Random) -> str:
    """A biller in a message typed in CAPITALS: a brand or a kind of bill."""
    return rng.choice(BRANDS) if rng.random() < 0.7 else rng.choice(SHOUTED_CATEGORIES)


# --- request shapes that name a brand (in addition to generate_nlu.TEMPLATES) ------------------------
# {b} biller (annotated), {a} amount, {d} date, {p} past date, {n} a number; {sir}, {bye}, {who} below.

TERSE_TEMPLATES: dict[str, list[str]] = {
    "pay_bill": [
        "pay {b} {cur}", "pay {cur} to {b}", "clear my {card}", "pay {a} off my {card}", "Invoice {ref} from {b}. Total {a}. Please pay",
        "pay {b}, my phone number is {n}", "pay {b} please, customer reference {n}", "{b} sent a bill, ref {ref}, {a}. please pay", "pay {b} what i owe them",
        "pay the minimum on {b}", "pay {b} the minimum", "i need 2 pay {b}", "pay {b}, invoice {ref}", "{b} pls pay 🙏",
        "{b} {a} pay", "{b} pay pls", "{b} now please", "pay {b} {a}", "{b} {a} now", "{b} needs paying",
        "{sir}, please pay my {b} bill. {bye}", "{sir}, I should like to pay {b}, thank you. {bye}",
        "This is {who}. Please pay {b} for me.", "{b} sent me a letter saying I owe {a}. Please pay it.",
        "Invoice {n} from {b}, total {a}. Please pay this.", "ACCOUNT NUMBER {n}, {b}, please pay {a}",
        "pay {b} {a} ref {n}", "pay {b}, my account number is {n}", "can u do {b} rn",
    ],
    "schedule_payment": [
        "pay {b} {when}", "pay {b} {a} {when}", "please pay {b} {when}", "set up {a} to {b} for {d}",
        "{b}: bill {a}, due {d}. pay it on the due date", "not now, pay {b} {when} instead", "leave {b} till {when}",
        "pay {b} {cur} {when}",
        "{b} {d} pls", "{b} {d} thanks", "{b} {d} please", "pay my {card} {d}", "{b} {a} {d} please", "pay {b} on Christmas Eve", "pay {b} before Easter",
        "pay {b} on New Year's Day", "pay {b} in December", "pay {b} on Boxing Day", "pay {b} on Thanksgiving",
        "{sir}, kindly pay {b} {d}. {bye}", "This is {who}, please pay {b} {d}", "PAY {b} {d}",
        "pay {b} {a} {d}, reference {n}", "pay {b} and {b2} {d}", "pay all my bills {d}", "pay everything {d} pls",
    ],
    "check_bills": [
        "what's the {b} looking like", "check my {b}", "when do i have to pay {b} by", "when's {b} due by",
        "{b} sent this: bill {a}, due {d}. is that right?", "is this {b} bill right? {a}, ref {ref}",
        "how much is {b} for {month}", "how much do i owe on my {card}", "balance on the {card}?", "what's {b} costing me {p2}",
        "{b}? how much", "how much is {b}", "{b} balance", "is my {b} paid", "what do i owe {b}", "{b} due when",
        "{sir}, how much do I owe {b}? {bye}", "when is {b} due", "anything from {b}?", "check {b}",
        "is {b} paid up or do i still owe", "how much for {b} in December",
    ],
    "payment_history": [
        "what did i spend on {b} in {year}", "my receipts from {month}", "{b} payments in {month}",
        "how much have i paid {b} since {month}", "everything i paid in {year}",
        "what did i pay {b} {p}", "{b} receipts", "show my {b} payments", "did {b} get paid {p}",
        "how much went to {b} in 2025", "total paid to {b} this year", "{sir}, did you pay {b} {p}? {bye}",
    ],
    "cancel_payment": [
        "actually don't pay {b} {d} after all", "take back the payment i just made to {b}", "reverse the {a} to {b}",
        "i no longer want {b} paid {d}", "cancel the {b} one for {d}", "pull the {b} payment, i made a mistake",
        "cancel {b}", "cancel the {b} payment", "stop the {b} payment", "undo {b}",
        "{sir}, please do not pay {b} after all. {bye}", "call off {b} {d}", "scrap the {b} one",
    ],
    "inform": [
        "my account number is {n}", "account no {n}", "{card}", "it's my {card}", "my phone number is {n}", "customer reference {n}", "my customer number is {n}", "{b} 👍 {a}", "{b}, ref {ref}", "{b} {cur}",
        "{b}", "{b} i think", "the {b} one", "it's {b}", "{b} {a}", "{b} lol", "{b}, the {cat} one",
        "It is {b}, dear.", "{b} {d}", "{b} {a} {d}", "{b}, account {n}", "{b} ?",
    ],
    "deny": ["don't pay {b} yet", "not {b} yet", "hold off on {b} for now", "no, leave {b} for now"],
    "pay_all": [
        "pay {b} + {b2}", "{b}, {b2}, {b3}: pay the lot", "{b} {b2} and {b3}, all of them pls",
        "pay {b} and {b2}", "{b} {b2} {b3} pay them all", "pay {b}, {b2} and {b3}", "{b} + {b2} pls",
        "pay {b} and {b2} today", "PAY {b} AND {b2}",
    ],
    "out_of_scope": [
        "convert {a} to {ccy}", "how much is {a} in {ccy}", "what's {a} in {ccy} today", "split the {meal} bill {a} between {k} of us",
        "i want to dispute a {a} charge from {shop}", "can you raise my credit limit", "up my credit limit on the {card}", "cash a cheque for {a}", "my wages didn't come in {p}",
        "why hasn't my pension arrived", "will it rain {d}", "is the {place} open {d}", "how much is my house worth",
        "what's the price of gold", "whats the ethereum price today", "what will my pension be", "are you married",
        "do you have a boyfriend", "write a poem about cats", "help me write an email to my boss", "how far did i run {p}",
        "refund me {a} from {shop}", "{shop} charged me {a} twice, get it back", "check my credit rating",
    ],
}  # fmt: skip
TERSE_COUNT = {
    "pay_bill": 190, "schedule_payment": 120, "check_bills": 90, "payment_history": 65, "cancel_payment": 65,
    "inform": 100, "pay_all": 50, "deny": 12, "out_of_scope": 90,
}  # fmt: skip
SALUTATIONS = ["Dear Sir", "Dear Madam", "Dear Sirs", "Good morning", "Good afternoon", "Hello dear", "To whom it may concern"]
SIGN_OFFS = [
    "Kind regards, Doreen", "Yours faithfully, Arthur Penrose", "Many thanks, Mrs B. Hughes", "Regards, Walter",
    "Best wishes, Gwen", "Yours sincerely, Mr K. Obi", "Thank you kindly, Elsie", "With thanks, Bernard Cole",
]  # fmt: skip
WRITERS = ["Doreen", "Arthur", "Mrs Hughes", "Walter", "Gwen", "Bernard", "Elsie", "Mr Obi", "Pat from number 12"]

# Small talk in CAPITALS and in letter form: capitals that are no biller (nothing annotated).
CAPITAL_SMALL_TALK: dict[str, list[str]] = {
    "greet": [
        "hiya bot", "Hello, I am new to this, my neighbour showed me.", "Hello, anyone about?", "Good day, young man.",
        "GOOD MORNING TO YOU", "HELLO THERE BOT", "HI THERE BOT", "GOOD EVENING", "Dear Madam,", "Good afternoon, Sir.",
        "To whom it may concern,", "Hello, this is Doreen.", "Good morning, it is Arthur again.",
        "Hello, my son put this app on my phone for me.", "HELLO ANYONE THERE", "Morning all!", "mornin all",
    ],
    "goodbye": [
        "That is everything, good day to you.", "see ya later", "Good night, and thank you.", "Warm regards, Phyllis",
        "Yours truly, Mr D. Evans", "All the best, Norman",
        "GOODBYE NOW", "BYE FOR NOW THEN", "Kind regards, Doreen", "Yours faithfully, Arthur Penrose",
        "Best wishes, Gwen", "Regards, Walter", "Yours sincerely, Mr K. Obi", "THAT IS ALL, GOODBYE",
        "Cheerio", "ta ta for now", "laters x", "catch you later on", "Farewell, and thank you.",
    ],
    "affirm": [
        "yes, do go ahead", "yes, that's the one", "that's the one, go ahead", "yeah fine, go on then", "Yes, go ahead and pay that one.",
        "YES PLEASE DO THAT", "YES THAT IS RIGHT", "YES GO AHEAD", "Yes, that is correct, dear.", "That is the one, yes please.",
        "Quite right.", "Yes, proceed please.", "Indeed, go ahead.", "THAT IS CORRECT", "aye go on", "OK DO IT NOW",
    ],
    "deny": [
        "hold off please", "not yet, hold off", "No, leave it for now.",
        "NO THANK YOU DEAR", "NO NOT THAT", "NO NO", "No, that is not right.", "NO DON'T DO THAT", "No, dear, that is wrong.",
        "NOT NOW THANKS",
    ],
    "thanks": ["tyvm", "thx a ton", "ta very much", "thank u so so much", "ty so much!!", "wow thanks, super quick", "that was fast, thank you", "THANK YOU SO VERY MUCH", "THANKS A LOT MATE", "Thank you, you are very kind.", "Much obliged to you.", "CHEERS FOR THAT"],
    "help": [
        "what's this bot for?", "show me my options", "what can i ask you about", "what sort of things do you do",
        "Is there a guide?", "how am I meant to use this?", "My neighbour says you can sort out bills. How?",
        "HOW DOES THIS THING WORK", "WHAT ELSE CAN YOU DO", "I CANNOT WORK OUT THIS APP AT ALL",
        "Could you please explain how this works?", "My son says you pay bills. How do I do that?",
        "Are there instructions somewhere?",
    ],
    "change": ["wrong bill, pick another", "that's the wrong amount", "the date is wrong", "another bill, not that one", "THAT BILL IS NOT MINE"],
    "bot_challenge": ["bot or person?", "is this thing automated", "am i chatting with software", "ARE YOU A ROBOT OR WHAT", "IS THIS A REAL PERSON TYPING", "Am I speaking to a computer?", "AM I TALKING TO A HUMAN BEING"],
    "stop": ["scrap it", "scrap all of that", "let's scrap this", "STOP THAT NOW", "STOP IT PLEASE", "JUST FORGET IT", "Never mind, dear.", "Please stop that."],
    "out_of_scope": [
        "haha", "lmao", "xD", "😂😂", "🎉", "🐶🐶", "asdfjkl", "qwertyuiop", "jjjjjj",
        "WHAT TIME IS IT IN LONDON NOW", "WHAT IS THE WEATHER TOMORROW", "WHERE IS MY NEAREST BANK BRANCH", "CAN YOU ORDER A TAXI",
        "Please tell me the news.", "What is my pension worth?", "HOW DO I CHANGE MY PASSWORD",
        "Is the chemist open on Sunday?", "Could you book me a doctor's appointment?",
    ],
}  # fmt: skip


def shout(text: str) -> str:
    """A whole message in CAPITALS, the annotation labels left as they are."""
    parts = re.split(r"(\]\([a-z_]+\))", text)
    return "".join(part if part.startswith("](") else part.upper() for part in parts)


EXTRA_KEYS = ("{sir}", "{bye}", "{who}", "{cur}", "{card}", "{ref}", "{month}", "{year}", "{when}", "{ccy}", "{meal}", "{shop}", "{place}")
CURRENCY_CODES = ["GBP", "USD", "EUR", "CAD", "AUD", "NZD", "CHF", "INR"]
MONTHS = ["January", "February", "March", "April", "June", "July", "August", "September", "October", "November", "December"]
# Dates beyond generate_nlu.date(): holidays, paydays, times of day, spans counted from today.
WHEN = [
    "tonight", "this evening", "after payday", "on payday", "next payday", "in January", "in March", "in a month",
    "a week from today", "a fortnight from now", "on Christmas Eve", "on New Year's Day", "before Easter",
    "two days from now", "first thing monday", "once my pension comes in", "at the start of next month",
]  # fmt: skip


CARD_ISSUERS = ["Amex", "Visa", "Barclaycard", "Capital One", "Chase", "Citi", "Discover", "Mastercard", "HSBC", "Lloyds", "John Lewis", "credit", "store", "M&S"]  # fmt: skip


def _card(rng: random.Random) -> str:
    """A card bill as people name it: the issuer and the word card, which belongs to the biller."""
    issuer = rng.choice(CARD_ISSUERS)
    return (issuer.lower() if rng.random() < 0.4 else issuer) + rng.choice([" card", " card", " credit card"] if issuer not in ("credit", "store") else [" card"])


def _reference(rng: random.Random) -> str:
    """An account or invoice reference as bills print it (letters, digits, a dash): no biller."""
    letters = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(rng.randint(1, 3)))
    digits = str(rng.randint(1000, 99999999))
    return rng.choice([f"{letters}-{digits}", f"{letters}{digits}", f"INV-{digits}", f"{digits}-{letters}", digits])


def extra_values(rng: random.Random) -> dict[str, str]:
    """Letters (salutation, sign-off, writer), currency codes, references, months, more dates."""
    number = rng.choice([str(rng.randint(5, 400)), f"{rng.randint(5, 400)}.{rng.randint(0, 99):02d}"])
    code = rng.choice(CURRENCY_CODES)
    return {
        "sir": rng.choice(SALUTATIONS), "bye": rng.choice(SIGN_OFFS), "who": rng.choice(WRITERS),
        "cur": rng.choice([f"{code} {number}", f"{number} {code}", f"{number}{code.lower()}"]),
        "ref": _reference(rng), "month": rng.choice(MONTHS), "year": str(rng.randint(2019, 2026)),
        "when": rng.choice(WHEN), "ccy": rng.choice(["euros", "pounds", "dollars", "yen", "rupees", "EUR", "GBP"]),
        "meal": rng.choice(["restaurant", "dinner", "pizza", "pub", "takeaway"]),
        "shop": rng.choice(["an online shop", "a website", "eBay", "a hotel", "the supermarket"]),
        "place": rng.choice(["post office", "chemist", "library", "bank", "tip"]),
        "card": f"[{_card(rng)}](biller)",
    }  # fmt: skip
