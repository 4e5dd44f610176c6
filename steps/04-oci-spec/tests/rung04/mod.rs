//! Rung 04's promises: runc's verbs, config.json's fields, seccomp. They
//! are kept by every rung from 04 up, so later rungs run these same trials
//! against their own binary (as rung 02 runs rung 01's).
#![allow(dead_code)] // each test binary uses part of it

pub mod common;
pub mod oci;
pub mod seccomp;
