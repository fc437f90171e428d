"""The few sentences the bot says by itself, when the assistant cannot or must not be asked.

Everything else the user reads comes from the Rasa domain (rasa_project/domain.yml).
"""

WELCOME = (
    'Hi! I pay your bills: tell me "pay my electricity bill" and confirm with one tap.\n'
    "You can also ask which bills are open (/bills) or what you paid (/history); /help shows more."
)
BRAIN_DOWN = (
    "I can't reach my brain right now, please try again in a minute. "
    'Your message was not processed; tap "Try again" when you\'re ready.'
)
TRY_AGAIN = "Try again"
# Rasa got the message (or may have) but its answer never came: it may have been done.
NO_ANSWER = (
    "I couldn't answer that in time, so I can't tell whether I did it. If it was a payment, "
    'I\'ll tell you here how it ended. Tap "Try again" to send it again.'
)
# A Confirm (or Cancel) tap that reached Rasa with no answer back: the payment may have gone
# through, so the user is pointed to its status, never offered to confirm again.
NO_ANSWER_PAYMENT = (
    "I couldn't answer that in time, so I can't tell yet whether your payment went through. "
    "I'll tell you here how it ended. Please don't confirm it again: tap \"My payments\" "
    "(or send /history) to see where it stands."
)
# A Confirm (or Cancel) tap with no answer back, whose summary payments still holds open: the tap
# was not carried out, so sending it again is safe (its one-time nonce charges at most once).
NO_ANSWER_TAP_NOT_CARRIED_OUT = (
    "I couldn't carry that out in time: the payment is still waiting for your answer, and nothing "
    'has been charged for it. Tap "Try again" to send your answer again.'
)
PAYMENT_STATUS = "My payments"
# Rasa could not read the conversation (its tracker store failed): the message was not processed.
CONVERSATION_UNREADABLE = (
    "I couldn't read our conversation just now, so I didn't act on this message. "
    'Tap "Try again" in a moment.'
)
# One user's messages beyond BOT_MAX_UPDATES_PER_USER waiting at once (bot.updates): not read.
SLOW_DOWN = (
    "Slow down a little, please: I'm still working on your earlier messages, so I didn't read this "
    "one (nor any you send before I reply). Send it again once I've replied."
)
SLOW_DOWN_TAP = "Slow down, please: I'm still on your earlier messages. Tap again once I've replied."
# The Rasa client's queue was full (rasa_client.admission): the message was kept, not sent.
BUSY = (
    "Lots of people are writing to me right now, so I haven't read this message yet. "
    'I kept it: tap "Try again" in a few seconds and I\'ll answer it.'
)
CARD_NUMBER_REFUSED = (
    "Please never send a card number in chat: I deleted that message and did not keep it. "
    "Cards are saved only on our payment provider's secure card page, never through this chat."
)
CARD_NUMBER_NOT_DELETED = (
    "Please never send a card number in chat. I did not keep it, but I couldn't delete the message: "
    "please delete it yourself. Cards are saved only on our payment provider's secure card page."
)
TOO_LONG = "That message is too long for me. Please keep it under {limit} characters."
TEXT_ONLY = 'I can only read text messages. Tell me, for example, "pay my electricity bill".'
BUTTON_EXPIRED = "This button has expired. Please ask me again."
# A tap whose data is not one of the buttons under that message (a client can send any data).
BUTTON_NOT_OFFERED = "That button isn't one of mine, so I did nothing."
ALREADY_DONE = "Already done."
# A tap under a payment summary that a newer one replaced (its keyboard was being removed).
SUMMARY_OUT_OF_DATE = "That summary is out of date, nothing was charged. Please use the latest one."
CHOOSE = "Please choose:"
SOMETHING_WENT_WRONG = "Sorry, something went wrong on my side. Please try again in a minute."
UNKNOWN_COMMAND = "I don't know that command. /help lists the ones I have."
FORGET_ASK = (
    "Forget you? I will delete your name, our conversations and your link to this Telegram account. "
    "Records of payments already made stay, without your name, because the law requires them. "
    "This cannot be undone."
)
FORGET_YES = "Yes, forget me"
FORGET_NO = "No, keep my data"
FORGOTTEN = "Done: I have forgotten you. If you write again, I will treat you as a new user."
NOTHING_TO_FORGET = "I keep no data about you."
FORGET_KEPT = "OK, I have kept everything as it was."
MYDATA_CAPTION = "Everything I keep about you."
NO_DATA = "I keep no data about you."
NOT_AVAILABLE = "Sorry, this is not available right now."
PAGE_OF = "Page {page} of {pages}"
PAGE_PREVIOUS = "◀ Previous"
PAGE_NEXT = "Next ▶"
PAGE_INVALID = "That button isn't one of mine."
PAGE_EXPIRED = "This list has expired. Please ask me again."
PAGE_MISSING = "There's no such page: this list has {pages}."
PRIVATE_ONLY = "I only talk in private chats: please message me directly."
EDITED_MESSAGE = "I read new messages only, not edits — please send it again as a new message."
DEMO_MODE = "🧪 This is a demo: you get demo bills and a test card, and no real money moves. Try it freely."

# The command menu (setMyCommands at start-up) and /help, both from this one table: Telegram
# language code → {command: short description}, in menu order. "" is the default every language
# without its own entry falls back to; add e.g. "de": {...} (same commands) to word the menu in
# German. bot.handlers routes each command; a test checks both name the same commands.
COMMANDS: dict[str, dict[str, str]] = {
    "": {
        "bills": "What you owe",
        "history": "What you paid",
        "cancel": "Stop what we're doing",
        "help": "What I can do",
        "start": "Welcome and what I do",
        "mydata": "Get a copy of your data",
        "forget": "Delete your data",
        "reminders": "Bill reminders: /reminders on or off",  # issue 13 item 4
    },
}
HELP = (
    "My commands:\n{commands}\n\n"
    'Or just write to me, for example "pay my electricity bill", "pay 40 of the phone bill on '
    'friday" or "what did I pay?". Nothing is paid before you tap Confirm.'
)

# What the bot says by itself when a payment settles after the chat turn (the notifications outbox),
# by `payments.statuses.NotificationKind` value. Placeholders: amount, biller, reason, due (the bill's
# due day in the user's locale), code (a step-up one-time code).
NOTIFICATIONS = {
    "payment_succeeded": "✅ Your payment of {amount} to {biller} went through.",
    "payment_failed": (
        "❌ Your payment of {amount} to {biller} didn't go through. {reason} Nothing was charged."
    ),
    "payment_cancelled_by_staff": (
        "Your payment of {amount} to {biller} was not approved, nothing was charged."
    ),
    "payment_succeeded_late": (
        "✅ Your payment of {amount} to {biller} went through after all: I told you it had failed, "
        "but the card processor did take it. If you paid again meanwhile, our team will refund the "
        "second payment."
    ),
    "payment_expired": (
        "Your payment of {amount} to {biller} was not completed in time and has been cancelled; "
        "nothing was charged. The bill is open again if you'd like to pay it."
    ),
    "step_up_code": (
        "🔐 {code} is your one-time code for the payment of {amount} to {biller}. Type it in our chat "
        "to go ahead. Never share it: nobody from paychat will ever ask you for it."
    ),
    "bill_reminder": "🔔 Your {biller} bill of {amount} is due on {due}.",
    "bill_needs_you": (
        "📄 A new {biller} bill of {amount} (due on {due}) arrived that your autopay could not pay "
        "by itself. Would you like to pay it?"
    ),
    "autopay_held": (
        "⏳ Autopay: your new {biller} bill of {amount} will be paid automatically at {when}. "
        'To stop it, say "cancel the {biller} payment" before then.'
    ),
    "autopay_cancelled": (
        "Autopay: the automatic payment of {amount} to {biller} was cancelled because your standing "
        "mandate no longer covers it; nothing was charged. The bill is open if you'd like to pay it."
    ),
    # An autopay offer (new, or a change) whose one-time code was not typed in time: {amount} is the
    # monthly budget it asked for.
    "mandate_code_expired": (
        "⌛ The one-time code for your autopay with {biller} (up to {amount} a month) expired before "
        "it was typed, so I withdrew that request: nothing was set up or changed. Ask me again "
        "whenever you like."
    ),
}
# --- issue 13 item 4 (reminders) ---
# The button under a bill reminder and under a bill a standing mandate could not pay: it starts
# paying that bill in the chat (summary, then Confirm).
PAY_NOW = "Pay now"
# /reminders without "on" or "off".
REMINDERS_USAGE = (
    "I remind you a few days before a bill is due, with a button to pay it. "
    "Send /reminders off to stop that, /reminders on to start it again "
    '(or just tell me "stop reminding me" / "remind me again").'
)
# --- end reminders ---
# --- standing mandates (issue 13, item 8): outcomes of a payment the user's autopay made by itself ---
# A standing mandate's one-time code (issue 13): {amount} is the most it may move a month.
MANDATE_STEP_UP_CODE = (
    "🔐 {code} is your one-time code to set up autopay for {biller} up to {amount} a month. Type it in "
    "our chat to switch it on. Never share it: nobody from paychat will ever ask you for it."
)
# The same for new, wider terms of a live autopay: {amount} is the new monthly budget.
MANDATE_CHANGE_STEP_UP_CODE = (
    "🔐 {code} is your one-time code to change your autopay for {biller} to up to {amount} a month. "
    "Type it in our chat to make the change. Never share it: nobody from paychat will ever ask you "
    "for it."
)

AUTOPAY_NOTIFICATIONS = {
    "payment_succeeded": (
        "✅ Autopay: your new {biller} bill of {amount} was paid automatically under your standing "
        'mandate. Say "show my autopays" to see or stop it.'
    ),
    "payment_failed": (
        "❌ Autopay: I tried to pay your new {biller} bill of {amount} under your standing mandate, "
        "but it didn't go through. {reason} Nothing was charged."
    ),
    "payment_succeeded_late": NOTIFICATIONS["payment_succeeded_late"],
    "payment_expired": (
        "Autopay: the automatic payment of {amount} to {biller} was not completed in time and has "
        "been cancelled; nothing was charged. The bill is open if you'd like to pay it."
    ),
}
# --- end standing mandates ---
# Under a succeeded payment's notification: the receipt (utter_payment_succeeded words the same in chat).
RECEIPT = (
    "🧾 Receipt {reference}\n"
    "Amount: {amount}\n"
    "To: {biller}, bill {bill_reference}\n"
    "Card: {card_brand} •••• {card_last4}\n"
    "Paid: {paid_at} ({timezone})\n"
    "Payment provider reference: {payment_intent_id}"
)
