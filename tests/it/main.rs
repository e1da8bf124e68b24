//! The one integration test binary (docs/DESIGN.md §4): each module is an area, each
//! test has its own feed server on 127.0.0.1:0, its own state dir and, where
//! mail is involved, a real SMTP server on loopback.

mod architecture;
mod binary;
mod corpus;
mod coverage;
mod crash;
mod daemon;
mod delivery;
mod docs;
mod explain;
mod faults;
mod folding;
mod fulltext;
mod guard;
mod matcher;
mod operator;
mod polling;
mod rules;
mod schedules;
mod store_faults;
mod support;
mod upgrade;
