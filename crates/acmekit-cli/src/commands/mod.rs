//! One module per command.

pub mod account;
pub mod issue;
pub mod list;
pub mod obtain;
pub mod renew;
pub mod revoke;
pub mod schedule;
