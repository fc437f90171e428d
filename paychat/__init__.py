"""The `paychat` command: operator tools for the evidence the product keeps (audit log, consent
receipts, encryption keys). An edge like the console's CLI: parse, one call into the core, print."""
