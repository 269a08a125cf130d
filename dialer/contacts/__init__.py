"""Contact lists: CSV import, phone numbers, operators' text files, and do-not-call lists."""
