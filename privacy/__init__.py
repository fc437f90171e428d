"""Privacy guards shared by every process, the Rasa one included: stdlib only, Python 3.10+."""
