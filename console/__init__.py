"""paychat's staff console: test chat with the assistant, transcripts, staff accounts.

`console.app.create_app(settings, services=None)` builds the web app; nothing is built at import.
"""
