# ruff: noqa: E501, RUF001, RUF002  (template tables are data: one template per line reads best)
"""Ways of writing the first tables missed (issue 11): templates × slot values per writing style.

Written here by hand for scripts/generate_nlu.py, never derived from an evaluation set:
- dictation: a speech recogniser's text: run-on, lower case, no punctuation, "um"/"uh", the
  speaker correcting themselves ("pay edf no wait the water one": only the biller meant is
  annotated), brands as recognisers spell them ("t mobile", "pg and e"), amounts and days in
  words ("forty two fifty", "the twenty eighth");
- second language: word order and idiom of English learnt later ("make payment of the light",
  "do the needful", "I need that you pay"), day-first dates ("15.12.", "30.11.2026") and money
  written the European, Swiss or Indian way ("48,99 €", "€ 54,-", "Fr. 39.-", "Rs 1,450");
- terse: a busy professional's fragments ("Pay Verizon.", "Void last payment.", "EOM");
- formal: long polite sentences;
- slang: teenage chat (u, pls, rn, tmrw, fri, b4, thx, emoji);
- upset: a complaint and the request in one message.
Billers: utilities, telcos, insurers, cards, streaming, gyms, landlords, schools of many
countries (invented names, and household payees such as daycare or the gardener), plus brands
as a recogniser writes them. Amounts and dates are plain text: the spaCy rules mark them.
"""

from __future__ import annotations

import random

# --- billers --------------------------------------------------------------------------------------

# Invented companies of every kind and country (none is a real company we know of).
WORLD_BILLERS = [
    # utilities
    "Kestrel Power", "Ambervale Energy", "Tidewater Electric", "Northmoor Gas", "Solvang Energi",
    "Energia Costa Verde", "Elektro Dunaj", "Hydro Lac-Brulé", "Kapiti Power", "Sundara Electricity Board",
    "Maharlika Power", "Tagus Energia", "Wexham Water", "Brookhollow Water District", "Rio Claro Saneamento",
    "Vesilaakso Vesi", "Stadtwerke Rheinau", "Aguas del Valle Sur", "Lumen Volt", "Pohjoistuuli Energia",
    # telcos and internet
    "Skylark Mobile", "Parallax Telecom", "Nimbus Wireless", "Orbita Móvil", "Tallgrass Fiber", "Kaya Telecom",
    "Wavelink Broadband", "Bantu Connect", "Zenfone Mobile", "Qorvi Net", "Helio Fibra", "TeleSavana",
    # insurers
    "Harbourline Insurance", "Fidelis Mutual", "Assura Vita", "Granite Shield Insurance", "Santé Plus Mutuelle",
    "Lotus Life Assurance", "Kiwi Cover", "Drover Farm Insurance", "Bergmann Versicherung",
    # cards and loans
    "Crestline Visa", "Meridian Card", "Nova credit card", "Falconbank Mastercard", "Auric Bank card",
    "Pebble Credit", "Orla Loans", "Banco Piedra card",
    # streaming and software
    "StreamVault", "Cinaroo", "Tunefield", "PixelPlay+", "Kinoteka", "Lullaby Radio+", "CloudNest storage",
    # gyms and clubs
    "IronHouse Gym", "FlexZone Fitness", "Pulse Athletic Club", "Studio Zenith Yoga", "Aquarius Swim Club",
    # landlords and property
    "Oakhurst Lettings", "Hausverwaltung Lindner", "Gestión Inmobiliaria Soler", "Greystone Property Management",
    "Mrs Adeyemi", "Mr Tanaka", "Lakeside Towers HOA", "Immobiliare Borghi",
    # schools and childcare
    "St Brigid's School", "Little Acorns Nursery", "Lycée Montaigne", "Riverbend Academy",
    "Sunshine Kids Daycare", "Escola Nova Esperança", "Kinderhaus Regenbogen", "Greenleaf College",
]  # fmt: skip
# Payees of a household, named by what they do.
HOUSEHOLD = [
    "rent", "daycare", "council tax", "gardener", "cleaner", "nanny", "babysitter", "piano lessons",
    "HOA fees", "water rates", "tv licence", "dog walker", "window cleaner", "school lunches", "bin collection",
    "parking fine", "car tax", "property tax", "nursery fees", "tuition", "swimming lessons", "service charge",
    "electricity", "water", "gas", "internet", "phone", "mobile", "insurance", "credit card", "landlord",
]  # fmt: skip
# Brands as a speech recogniser writes them: spelled-out letters, "and" for "&", words apart.
SPOKEN_BRANDS = [
    "t mobile", "at and t", "pg and e", "e on", "con ed", "s c e", "e d f", "s s e", "b t", "virgin media",
    "direct tv", "dish network", "o two", "tata power", "airtel", "jio", "vodacom", "m t n", "safaricom",
    "globe telecom", "telmex", "claro", "bell canada", "american express", "capital one", "net flix",
    "planet fitness", "e plus", "t online", "one and one", "u s cellular", "duke energy", "centerpoint",
]  # fmt: skip
# Brands named in the dev set (bench/data/independent/dev.yml) are left out on purpose, as in
# generate_nlu.py, so that set keeps measuring billers the model has never seen.
# What second-language writers call a bill: "the light" (electricity), "current bill" (Indian English).
SECOND_LANGUAGE_BILLERS = [
    "light", "electricity", "current bill", "EB", "water", "gas", "telephone", "mobile", "internet", "rent",
    "house rent", "school fee", "insurance", "credit card", "DTH", "broadband", "maintenance", "society maintenance",
]  # fmt: skip


# Made-up brand names (issue 11, biller recall): letters drawn at random into pronounceable words,
# so the CRF learns that an unknown capitalised word where a payee goes is one, whatever its
# letters (a real brand it never saw ends in any suffix, including "-ast" of "last" or "-ing").
ONSETS = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch", "cl", "cr", "dr", "fl", "gr", "kl", "pl", "pr", "qu", "sk", "sp", "st", "tr", "x", "y"]  # fmt: skip
VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ie", "io", "ou", "y"]  # fmt: skip
CODAS = ["", "", "", "n", "r", "s", "l", "m", "x", "t", "st", "nt", "rk", "ck", "nd", "ng", "z", "sh"]  # fmt: skip
LEGAL_FORMS = ["GmbH", "AG", "Ltd", "Inc", "Inc.", "LLC", "S.A.", "SpA", "B.V.", "plc", "& Co", "Group", "Corp"]  # fmt: skip


def coined_word(rng: random.Random) -> str:
    """A pronounceable made-up word of one to three syllables, lower case ("vorlast", "quenix")."""
    syllables = rng.choice([1, 2, 2, 2, 3])
    word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
    return word[:10] if len(word) >= 3 else word + rng.choice(["x", "n", "ra", "lo"])


def coined_brand(rng: random.Random) -> str:
    """A made-up company written the ways brands are: Title case, CamelCase, capitals, dotted
    letters, a legal form after it, or (sometimes) typed in lower case."""
    word = coined_word(rng)
    roll = rng.random()
    if roll < 0.35:
        return word.capitalize()
    if roll < 0.6:
        return word  # people rarely press shift in chat
    if roll < 0.66:
        return word.capitalize() + coined_word(rng)[:5].capitalize()  # CamelCase: "VornLink"
    if roll < 0.72:
        return word[: rng.randint(2, 4)].upper()  # an acronym: "VOR", "QUE"
    if roll < 0.78:
        return f"{word[0].upper()}.{word[1:3].upper()}"  # dotted letters: "K.ON"
    return f"{word.capitalize()} {rng.choice(LEGAL_FORMS)}"


def world_biller(rng: random.Random) -> str:
    """An invented company or a household payee."""
    return rng.choice(WORLD_BILLERS) if rng.random() < 0.6 else rng.choice(HOUSEHOLD)


def spoken_biller(rng: random.Random) -> str:
    """A biller as a speech recogniser writes it: lower case, brands spelled as heard."""
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(SPOKEN_BRANDS)
    if roll < 0.7:
        return rng.choice(WORLD_BILLERS).lower().replace("'", "").replace("+", " plus")
    return rng.choice(HOUSEHOLD).lower()


def second_language_biller(rng: random.Random) -> str:
    """A bill as a second-language writer names it."""
    return rng.choice(SECOND_LANGUAGE_BILLERS) if rng.random() < 0.6 else world_biller(rng)


# --- amounts and dates ------------------------------------------------------------------------------

UNIT_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEEN_WORDS = [
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS_WORDS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def spoken_amount(rng: random.Random) -> str:
    """Money as a recogniser writes what was said: words, "forty two fifty" for 42.50."""
    tens, unit, cents = rng.choice(TENS_WORDS), rng.choice(UNIT_WORDS), rng.choice(TENS_WORDS)
    currency = rng.choice(["dollars", "euros", "pounds", "bucks"])
    return rng.choice(
        [
            f"{tens} {unit} {cents}", f"{unit} {cents}", f"{unit} {cents} five", f"{tens} {unit} {cents} nine",
            f"a hundred and {tens}", f"one hundred {tens} {unit}", f"{rng.choice(TEEN_WORDS)} hundred",
            f"{rng.choice(UNIT_WORDS[1:])} hundred and {tens} {currency}",
            f"{tens} {unit} {currency} and {cents} cents", f"{tens} {currency} and {cents} cents",
            f"{tens} {unit} {currency} {cents}", f"{tens} {currency}", f"{tens} {unit} {currency}",
            f"{rng.choice(TEEN_WORDS)} hundred {currency}", f"${rng.randint(20, 300)}.{rng.randint(0, 99):02d}",
        ]
    )  # fmt: skip


def written_abroad_amount(rng: random.Random) -> str:
    """Money written the European, Swiss or Indian way."""
    whole, cents = rng.randint(12, 480), rng.randint(1, 99)
    return rng.choice(
        [
            f"{whole},{cents:02d} €", f"€ {whole},-", f"{whole},- €", f"Fr. {whole}.-", f"{whole}.- Fr.",
            f"Rs {rng.randint(2, 9)},{rng.randint(0, 999):03d}", f"Rs. {whole * 10}", f"₹ {rng.randint(1, 9)},{rng.randint(0, 999):03d}",
            f"EUR {whole},{cents:02d}", f"{rng.randint(1, 3)}.{rng.randint(0, 999):03d},{cents:02d} €", f"CHF {whole}.{cents:02d}",
            f"{whole} euro", f"{whole},{cents:02d} EUR", f"{whole} €",
        ]
    )  # fmt: skip


def terse_amount(rng: random.Random) -> str:
    """Money as a busy person types it."""
    whole = rng.randint(15, 2400)
    return rng.choice(
        [
            f"${whole}",
            f"${whole:,}",
            f"€{whole}",
            f"{whole}",
            f"£{whole}",
            f"{whole / 1000:.1f}k",
            f"${whole}.00",
        ]
    )


def spoken_date(rng: random.Random) -> str:
    """A day as said aloud."""
    day = rng.choice(
        ["first", "second", "third", "fifth", "tenth", "twelfth", "fifteenth", "twentieth", "twenty first",
         "twenty second", "twenty third", "twenty fifth", "twenty eighth", "thirtieth", "thirty first"]
    )  # fmt: skip
    month = rng.choice(["january", "march", "june", "december", "october"])
    return rng.choice(
        [
            f"the {day}", f"on the {day}", f"the {day} of {month}", f"{month} {day}", "day after tomorrow",
            "the day after tomorrow", "tomorrow", "next friday", "on monday", "end of the month", "in two weeks",
        ]
    )  # fmt: skip


def day_first_date(rng: random.Random) -> str:
    """A day written day first, with dots ("15.12.", "1.2.", "30.11.2026")."""
    day, month = rng.randint(1, 28), rng.randint(1, 12)
    return rng.choice(
        [
            f"{day}.{month}.",
            f"{day:02d}.{month:02d}.",
            f"{day}.{month}.2027",
            f"{day:02d}.{month:02d}.2027",
            f"{day}/{month}",
        ]
    )


def terse_date(rng: random.Random) -> str:
    """A day in a busy person's shorthand."""
    return rng.choice(
        ["1st", "15th", "30th", "EOM", "Fri", "Mon", "Dec 1", "next Fri", "tmrw", "end of month", "Jan 5"]
    )


def slang_date(rng: random.Random) -> str:
    """A day in teenage chat."""
    return rng.choice(["tmrw", "tmr", "fri", "b4 fri", "on fri", "next week", "2moro", "this weekend", "mon"])


# --- templates ----------------------------------------------------------------------------------------
# {b} biller (annotated), {b2} a second biller, {x} a biller the speaker takes back (not annotated),
# {a} amount, {d} date, {p} past period. Each style has its own values (STYLE_VALUES).

STYLE_TEMPLATES: dict[str, dict[str, list[str]]] = {
    "dictation": {
        "pay_bill": [
            "um pay the {b} bill please", "uh can you pay {b} {a}", "pay {b} um {a}", "hey can you pay my {b} bill its {a}",
            "pay {x} no wait the {b} one", "pay {x} sorry i mean {b}", "pay the {x} bill actually no the {b} bill",
            "i need to pay {b} uh {a} i think", "okay so pay {b} {a} thanks", "pay {a} to {b} um from my card",
            "yeah pay {b} for me it came to {a}", "so the {b} bill came in its {a} can you pay that",
            "please pay {b} thank you", "pay my {b} bill um {a} from the usual card", "can you um pay {b} like right now",
            "pay the uh {b}", "pay {x} i mean {b} sorry", "pay {b} not {x}", "send {a} to {b} please",
            "okay um i want to pay {b} its {a} and i want to do it now", "hey um {b} sent me a bill for {a} pay it please",
            "pay {x} oh no hang on i meant {b}", "pay {b} {a} period", "uh yeah just pay {b} the whole thing",
        ],
        "schedule_payment": [
            "pay {b} {d}", "um schedule {b} for {d}", "can you pay {b} {a} {d}", "set up {b} for {d} uh {a}",
            "pay {x} no the {b} one {d}", "schedule {a} to {b} {d} please", "pay the {b} bill {d} not today",
            "uh pay {b} {d} and make it {a}", "i want {b} paid {d} um {a}", "on {d} pay {b} {a}",
        ],
        "check_bills": [
            "how much do i owe {b}", "um whats my {b} bill", "what bills do i have um open", "do i have anything due {d}",
            "uh how much is the {b} bill this month", "whats due {d}", "um what do i owe right now",
            "hey how much is {b} asking for", "whats left on the {b} account",
        ],
        "payment_history": [
            "did i pay {b} already", "um did the {b} payment go through", "what did i pay {b} last month",
            "uh did the {a} to {b} go out", "um what did i pay {p} again",
        ],
        "cancel_payment": [
            "cancel the {b} payment um the one for {d}", "uh cancel the {b} thing", "cancel the payment to {x} no sorry {b}",
            "dont pay {b} {d} cancel that", "um scrap the {b} payment",
        ],
        "pay_all": ["um just pay all of them", "pay everything thats due", "pay the {b} and the {b2} um both of them"],
        "inform": ["the {b} one", "um {a}", "{a}", "uh {d}", "its {b}", "{b} i mean", "for {d}"],
    },
    "second_language": {
        "pay_bill": [
            "make payment of the {b}", "make payment of {b} bill please", "please do the needful and pay {b}",
            "kindly do the needful for {b} bill of {a}", "I need that you pay the {b}", "I need that you pay {a} to {b}",
            "please to pay {b} bill", "I want make the payment for {b}", "you can pay {b} for me?", "is possible to pay {b} {a}?",
            "pay the {b} of this month", "please pay for me the invoice of {b}", "I must pay {a} to {b}, you can do it?",
            "kindly pay the {b} bill amount {a}", "do the payment of {b} please", "pay the bill of the {b}",
            "I would like to make the payment of {a} for the {b}", "please effect payment to {b}",
            "the {b} is asking {a}, please pay", "pay {b} the amount of {a}", "please pay {b} and revert",
            "Hello, {b} bill is came, {a}. Please pay", "I am wanting to pay the {b}", "pay for {b} {a} only",
        ],
        "schedule_payment": [
            "please pay {b} {a} on {d}", "make payment of {b} at {d}", "pay the {b} until {d}", "I need that you pay {b} the {d}",
            "{d} pay {b} {a}", "schedule payment of {b} for {d}", "pay {b} {a} with date {d}", "pay {b} on date {d}",
            "please do the payment of {b} on {d}, amount {a}", "the {b} must be paid on {d}, please arrange",
        ],
        "check_bills": [
            "how much is the bill of {b}?", "what is pending for payment?", "kindly tell the outstanding of {b}",
            "which bills are there for pay?", "I want know how much I owe to {b}", "what is the amount of {b} this month?",
            "there is some bill pending?", "please tell me my dues",
        ],
        "payment_history": [
            "the payment of {b} is done?", "you have paid the {b} already?", "kindly share the receipt of {b} payment",
            "the {b} bill is paid or not?", "what payments I did {p}?",
        ],
        "cancel_payment": [
            "please cancel the payment of {b} of {d}", "I don't want more the payment to {b}, cancel", "kindly cancel the {b} transfer",
            "cancel please the payment for {b}", "not pay {b} on {d}, cancel it",
        ],
        "pay_all": [
            "pay please the {b} and the {b2}", "please pay all the bills what are open", "make payment of all bills",
            "do the needful for all pending bills", "pay the {b} and also the {b2} please",
        ],
        "inform": ["{a}", "for {d}", "the {b}", "it is for {b}", "amount is {a}", "on {d}"],
    },
    "terse": {
        "pay_bill": [
            "Pay {b}.", "Pay {b} {a}.", "{b}: pay.", "{b} – pay in full.", "Pay {b}, {a}.", "Settle {b}.", "Pay {b} invoice.",
            "Pay {b} now.", "{b}, {a}, pay now.", "Process {b} payment.", "Pay {b}. Full balance.", "Remit {a} to {b}.",
            "{b} {a}. Pay.", "Pay {b} – {a}.",
        ],
        "schedule_payment": [
            "Schedule {b}, {a}, {d}.", "{b} {a} {d}.", "Pay {b} {d}.", "Schedule {b} for {d}.", "Queue {b}, {d}.",
            "{b}: {a}, {d}.", "Book {b} payment {d}.", "Pay {b} {a} {d}.", "{b} – {d}.",
        ],
        "check_bills": ["Open bills?", "Outstanding?", "Balance {b}?", "Due {d}?", "What's due?", "{b} balance?", "Anything due?", "Total due?", "Bills?"],
        "payment_history": ["Last payment?", "{b} paid?", "Payment history.", "Payments {p}?", "Receipt for {b}.", "{b} – paid?"],
        "cancel_payment": [
            "Void last payment.", "Cancel {b}.", "Cancel {b} {d}.", "Void the {b} payment.", "Cancel scheduled {b}.",
            "Stop {b} payment.", "Scrap {d} payment.", "Void {b}.",
        ],
        "pay_all": ["Pay all.", "Pay everything due.", "Clear all open bills.", "Pay {b} and {b2}."],
        "inform": ["{b}.", "{a}.", "{d}.", "{b}, {a}.", "{a}, {d}."],
    },
    "formal": {
        "pay_bill": [
            "I should be most grateful if you would settle the {b} account on my behalf.",
            "Would you be so kind as to pay the outstanding {b} invoice of {a}?",
            "I would appreciate it if you could arrange payment of {a} to {b}.",
            "Kindly arrange for the {b} bill to be paid at your earliest convenience.",
            "Please be so good as to remit the amount owed to {b}.",
            "I wonder whether you might pay my {b} bill for me; I believe it comes to {a}.",
            "Could I trouble you to settle the balance with {b}?",
            "Good morning. I would like to pay the {b} bill in full, please. Many thanks.",
            "It would be most helpful if you could pay {b} today.",
            "Would it be possible to pay {a} towards my {b} account this afternoon?",
        ],
        "schedule_payment": [
            "I should be grateful if the {b} payment could be made {d}.",
            "Would you kindly arrange for {a} to be paid to {b} {d}?",
            "Please schedule the payment to {b} for {d}, if that is convenient.",
            "I would prefer the {b} invoice to be settled {d} rather than today.",
        ],
        "check_bills": [
            "Could you kindly let me know what I presently owe {b}?", "I should like to know which bills remain outstanding.",
            "Might I ask for an overview of my unpaid bills?", "Would you tell me the balance of the {b} account, please?",
        ],
        "payment_history": [
            "Could you confirm whether my payment to {b} was received?", "I would be obliged if you could show me my payments {p}.",
            "May I see a record of what was paid to {b}?",
        ],
        "cancel_payment": [
            "I should be grateful if you would cancel the payment to {b} scheduled for {d}.",
            "Please withdraw the payment I arranged for {b}; it is no longer required.",
            "I regret that the payment to {b} must be cancelled.",
        ],
        "pay_all": [
            "I would be grateful if you could settle all of my outstanding bills.",
            "Would you kindly pay both the {b} and the {b2} invoices?",
        ],
    },
    "slang": {
        "pay_bill": [
            "pls pay {b} rn 🙏", "can u pay {b} thx", "yo pay my {b} bill rn", "pay {b} {a} pls 😭", "u pay {b}? thx",
            "need {b} paid rn lol", "pay {b} b4 they cut me off 💀", "{b} {a} pls n thx", "bruh pay {b} already",
            "pay {b} asap pls 🙏🙏", "ok pay {b} {a} ty", "can u do {b} for me", "pay {b} k thx", "{b} needs paying rn 😩",
        ],
        "schedule_payment": [
            "pay {b} {d} pls", "can u pay {b} {d} thx", "{b} {d} pls", "schedule {b} {a} for {d} thx", "pay {b} {d} not rn",
            "{b} {a} {d} ok?", "do {b} {d} pls 🙏",
        ],
        "check_bills": ["wat do i owe rn", "how much {b} rn?", "any bills due {d}?", "u got my bills?", "wats due", "how much is {b} lol"],
        "payment_history": ["did u pay {b}??", "did {b} go thru", "wat did i pay {p}", "{b} paid or nah"],
        "cancel_payment": ["cancel {b} pls", "nvm cancel the {b} thing", "dont pay {b} {d} cancel it thx", "cancel that {b} one pls"],
        "pay_all": ["pay all my bills pls thx", "just pay everything rn", "pay {b} n {b2} pls"],
    },
    "upset": {
        "pay_bill": [
            "this is ridiculous, {b} charged me {a} again. just pay it", "I'm so fed up with {b}, the bill is {a} and it's way too much, but pay it",
            "why is {b} so expensive?! whatever, pay it", "ugh {b} sent another bill, {a}. pay it so they stop emailing me",
            "{b} doubled my bill to {a}, unbelievable. pay it anyway", "I've been on hold with {b} for an hour, forget it, just pay the bill",
            "your app is so slow. pay {b} now", "this is the third time I'm asking, pay {b}!!", "seriously?? {b} wants {a}?? fine pay it",
            "I can't stand {b} but pay them {a}", "the last payment failed and now {b} is charging a late fee. pay it now please",
            "{b} is a rip off 😡 pay it", "not happy at all, {b} put the price up again. pay the {a} and I'll complain later",
        ],
        "schedule_payment": [
            "{b} is a joke, but pay them {d} when my salary is in", "annoyed that {b} wants money already, pay them {d}",
            "I'm not paying {b} a day early, pay them {d}",
        ],
        "check_bills": [
            "why is my {b} bill so high? what do I owe them", "this makes no sense, how much do I owe {b}??",
            "I keep getting letters from {b}, what is actually open?",
        ],
        "payment_history": [
            "I'm sure I already paid {b}, did it go through or not?", "{b} says I didn't pay, did I pay them {p}?",
            "{b} claims the money never arrived, what did I pay them?",
        ],
        "cancel_payment": [
            "I never asked for that, cancel the {b} payment now", "why is there a {b} payment scheduled?? cancel it",
            "this is wrong, I don't want to pay {b} {d}. cancel it",
        ],
    },
}  # fmt: skip
STYLE_COUNT = {
    "dictation": {"pay_bill": 90, "schedule_payment": 50, "check_bills": 20, "payment_history": 12, "cancel_payment": 14, "pay_all": 8, "inform": 30},
    "second_language": {"pay_bill": 80, "schedule_payment": 50, "check_bills": 16, "payment_history": 12, "cancel_payment": 12, "pay_all": 12, "inform": 24},
    "terse": {"pay_bill": 50, "schedule_payment": 40, "check_bills": 14, "payment_history": 12, "cancel_payment": 16, "pay_all": 6, "inform": 20},
    "formal": {"pay_bill": 30, "schedule_payment": 14, "check_bills": 8, "payment_history": 6, "cancel_payment": 6, "pay_all": 4},
    "slang": {"pay_bill": 44, "schedule_payment": 24, "check_bills": 10, "payment_history": 8, "cancel_payment": 8, "pay_all": 5},
    "upset": {"pay_bill": 40, "schedule_payment": 10, "check_bills": 8, "payment_history": 8, "cancel_payment": 8},
}  # fmt: skip
PAST = ["last month", "last week", "yesterday", "in october", "this year", "two weeks ago"]
# Per style: how its billers, amounts and dates are written.
STYLE_VALUES = {
    "dictation": (spoken_biller, spoken_amount, spoken_date),
    "second_language": (second_language_biller, written_abroad_amount, day_first_date),
    "terse": (world_biller, terse_amount, terse_date),
    "formal": (
        world_biller,
        lambda rng: rng.choice([terse_amount(rng), written_abroad_amount(rng)]),
        spoken_date,
    ),
    "slang": (lambda rng: world_biller(rng).lower(), terse_amount, slang_date),
    "upset": (
        world_biller,
        lambda rng: rng.choice([terse_amount(rng), written_abroad_amount(rng)]),
        spoken_date,
    ),
}


def fill(style: str, template: str, rng: random.Random) -> str:
    """One example of `style` from `template`: billers annotated, other slots plain text."""
    make_biller, make_amount, make_date = STYLE_VALUES[style]
    billers = [make_biller(rng) for _ in range(3)]
    while len({b.lower() for b in billers}) < 3:
        billers = [make_biller(rng) for _ in range(3)]
    text = template.format(
        b=f"[{billers[0]}](biller)", b2=f"[{billers[1]}](biller)", x=billers[2],
        a=make_amount(rng), d=make_date(rng), p=rng.choice(PAST),
    )  # fmt: skip
    text = (
        text.replace("on on ", "on ")
        .replace("the the ", "the ")
        .replace("for on ", "for ")
        .replace("..", ".")
    )
    return " ".join(text.split())


def generate(rng: random.Random) -> dict[str, list[str]]:
    """Examples per intent over every style: each template at least once, then random fills."""
    examples: dict[str, list[str]] = {}
    for style, table in STYLE_TEMPLATES.items():
        for intent, templates in table.items():
            count = max(STYLE_COUNT[style][intent], len(templates))
            seen = {t.casefold() for t in examples.get(intent, [])}
            chosen: list[str] = []
            order = list(templates) + [rng.choice(templates) for _ in range(count * 3)]
            for template in order:
                if len(chosen) >= count:
                    break
                text = fill(style, template, rng)
                if text.casefold() not in seen:
                    seen.add(text.casefold())
                    chosen.append(text)
            examples.setdefault(intent, []).extend(chosen)
    return examples
