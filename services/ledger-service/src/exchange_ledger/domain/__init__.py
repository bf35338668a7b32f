"""Pure ledger domain: accounts, entries, event decoding, batch planning. No I/O, no clock."""
