"""Rasa custom actions (rasa-sdk), served by the action server on 127.0.0.1:5055.

The action server runs in our Python 3.11 environment, imports :mod:`akto_data`
for data, and answers Rasa 3.6 over HTTP. Each module holds the actions of one
topic; rasa-sdk discovers every ``Action`` subclass in this package.
"""

from akto_data.logs import install_masking

# Form values (phones, e-mails) appear in rasa-sdk's debug logs of slot events.
install_masking()
