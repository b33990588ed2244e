//! Ledger commands end to end (ledger work).
