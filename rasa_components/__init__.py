"""Custom Rasa NLU components. Imported by Rasa (Python 3.10 environment), not by our app."""
