//! The `detvm` command line.

fn main() {}
