"""The catalogue: territories, occupations, aids, CFAs, FAQ answers, pay rules, quiz.

Staff edit YAML files in ``content/``; :mod:`.schema` checks them (errors name the
file, the line, the entry and the fix), :mod:`.importer` loads them into the
database in one transaction, and :mod:`.queries` is what the custom actions read.
"""
