//! Engine commands end to end: rules check, dry-run rank (engine work).
