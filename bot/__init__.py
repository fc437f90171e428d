"""paychat's Telegram front end: carries messages between Telegram and the Rasa server, nothing else.

`python -m bot` runs it (long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set). The
conversation and its wording live in rasa_project/; payments rules live in payments/.
"""
