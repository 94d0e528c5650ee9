//! Work in progress.

#![no_std]

use detvm_sdk as _;
