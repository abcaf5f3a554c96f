"""Editor- and admin-facing logic: collections, hot lists, review, rules, admission."""
