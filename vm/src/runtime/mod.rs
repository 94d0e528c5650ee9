//! Instances, memories, tables, globals, host functions and calls.
