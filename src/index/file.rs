//! The index file: header, section table, atomic write, open, verify.
